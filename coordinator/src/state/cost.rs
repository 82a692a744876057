//! What a use case spent on a task's bytes: each pass over them (reading a
//! body as JSON, planning, checking a result, assembling) in wall time and,
//! for passes over at least [`CPU_TIMED_BYTES`], in the CPU time of the
//! thread that ran it, for the task's log line and the CPU-time histograms.

use std::time::{Duration, Instant};

use cpu_time::ThreadTime;

/// Passes over fewer bytes than this are timed on the wall clock only:
/// reading a thread's CPU clock is a system call, and two of them would
/// cost a small task's pass more than the pass itself (a claim-and-answer
/// cycle made ten).
pub(crate) const CPU_TIMED_BYTES: usize = 64 * 1024;

/// Wall and CPU time of one pass.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Spent {
    pub(crate) wall: Duration,
    /// `None` for a pass over fewer than [`CPU_TIMED_BYTES`], or where the
    /// platform cannot tell.
    pub(crate) cpu: Option<Duration>,
}

impl Spent {
    /// Runs `work`, a pass over `bytes` bytes, and measures it.
    pub(crate) fn measure<T>(bytes: usize, work: impl FnOnce() -> T) -> (T, Self) {
        let timer = PassTimer::start(bytes);
        let out = work();
        (out, timer.stop())
    }

    /// Wall milliseconds, to a microsecond, for the log.
    pub(crate) fn wall_ms(self) -> f64 {
        millis(self.wall)
    }

    /// CPU milliseconds, to a microsecond, for the log (when measured).
    pub(crate) fn cpu_ms(self) -> Option<f64> {
        self.cpu.map(millis)
    }
}

/// A pass being measured, for passes that await (see [`Spent::measure`]
/// for those that do not). It holds the thread's CPU clock as it read it:
/// only a pass that does not move to another thread while it waits (one
/// that never suspends) may ask for CPU time.
#[derive(Debug)]
pub(crate) struct PassTimer {
    wall: Instant,
    cpu: Option<Duration>,
}

impl PassTimer {
    /// Starts measuring a pass over `bytes` bytes (its CPU time only from
    /// [`CPU_TIMED_BYTES`] on).
    pub(crate) fn start(bytes: usize) -> Self {
        let cpu = if bytes >= CPU_TIMED_BYTES {
            ThreadTime::try_now().ok().map(|t| t.as_duration())
        } else {
            None
        };
        Self {
            wall: Instant::now(),
            cpu,
        }
    }

    /// What the pass spent.
    pub(crate) fn stop(self) -> Spent {
        let cpu = self.cpu.and_then(|started| {
            let now = ThreadTime::try_now().ok()?.as_duration();
            Some(now.saturating_sub(started))
        });
        Spent {
            wall: self.wall.elapsed(),
            cpu,
        }
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
