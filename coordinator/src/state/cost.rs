//! What a use case spent on a task's bytes: each pass over them (reading a
//! body as JSON, planning, checking a result, assembling) in wall time and
//! in the CPU time of the thread that ran it, for the task's log line and
//! the CPU-time histograms.

use std::time::{Duration, Instant};

use cpu_time::ThreadTime;

/// Wall and CPU time of one pass.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Spent {
    pub(crate) wall: Duration,
    pub(crate) cpu: Duration,
}

impl Spent {
    /// Runs `work` and measures it (CPU time is zero where the platform
    /// cannot tell).
    pub(crate) fn measure<T>(work: impl FnOnce() -> T) -> (T, Self) {
        let cpu = ThreadTime::try_now().ok();
        let wall = Instant::now();
        let out = work();
        let spent = Self {
            wall: wall.elapsed(),
            cpu: cpu.map_or(Duration::ZERO, |t| t.elapsed()),
        };
        (out, spent)
    }

    /// Wall milliseconds, to a microsecond, for the log.
    pub(crate) fn wall_ms(self) -> f64 {
        millis(self.wall)
    }

    /// CPU milliseconds, to a microsecond, for the log.
    pub(crate) fn cpu_ms(self) -> f64 {
        millis(self.cpu)
    }
}

fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

/// The passes one use case made over one task's bytes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cost {
    /// Reading the request body (checking it as JSON).
    pub(crate) read: Option<Spent>,
    /// Planning a submission: reading the operands, preparing the check,
    /// writing the parts.
    pub(crate) plan: Option<Spent>,
    /// Checking a result.
    pub(crate) verify: Option<Spent>,
    /// The queue call that completed the task (for a split task's last
    /// part, it assembles the product).
    pub(crate) decide: Option<Spent>,
}

impl Cost {
    /// Nothing measured.
    pub(crate) fn none() -> Self {
        Self::default()
    }
}
