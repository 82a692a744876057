//! What the dashboard shows of the last minutes that Prometheus counters do
//! not keep: end-to-end times of the tasks completed lately (for p50 and
//! p99), the work each worker delivered lately, and the latest failures and
//! rejections with their errors.
//!
//! Everything here is bounded: at most [`MAX_LATENCIES`] times, at most
//! [`MAX_PROBLEMS`] problems, and work of at most [`MAX_WORKERS`] workers
//! over [`WORK_WINDOW`].

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use crate::queue::{TaskId, WorkerId};

/// End-to-end times are summed up over this window.
pub const LATENCY_WINDOW: Duration = Duration::from_secs(10);
/// A worker's recent GFLOP/s is its work over this window.
pub const WORK_WINDOW: Duration = Duration::from_secs(30);
/// Most end-to-end times kept.
const MAX_LATENCIES: usize = 10_000;
/// Most failures and rejections kept.
pub(super) const MAX_PROBLEMS: usize = 20;
/// Most workers whose work is kept.
const MAX_WORKERS: usize = 1024;
/// Longest error text kept, in bytes.
const MAX_ERROR_BYTES: usize = 300;

/// A failure, a rejected result or an expired lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// When it happened.
    pub at: SystemTime,
    /// The task.
    pub task: TaskId,
    /// `failed`, `rejected` or `lease expired`.
    pub kind: &'static str,
    /// The worker involved, when known.
    pub worker: Option<WorkerId>,
    /// What went wrong (cut to a few hundred bytes).
    pub error: String,
}

/// Percentiles of the end-to-end times of the tasks completed in the last
/// [`LATENCY_WINDOW`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// Tasks completed in the window.
    pub samples: usize,
    /// Median, in seconds (`None` without samples).
    pub p50: Option<f64>,
    /// 99th percentile, in seconds.
    pub p99: Option<f64>,
}

/// The dashboard's recent figures.
#[derive(Debug, Default)]
pub(super) struct Recent {
    latencies: VecDeque<(Instant, f64)>,
    problems: VecDeque<Problem>,
    work: HashMap<WorkerId, VecDeque<(Instant, u64)>>,
}

impl Recent {
    /// A client task completed at `now` after `secs` seconds.
    pub(super) fn completed(&mut self, now: Instant, secs: f64) {
        if self.latencies.len() == MAX_LATENCIES {
            self.latencies.pop_front();
        }
        self.latencies.push_back((now, secs));
    }

    /// `worker` delivered a product of `flops` at `now`.
    pub(super) fn work(&mut self, worker: &WorkerId, flops: u64, now: Instant) {
        if flops == 0 {
            return;
        }
        if !self.work.contains_key(worker) && self.work.len() >= MAX_WORKERS {
            self.forget_old_work(now);
            if self.work.len() >= MAX_WORKERS {
                return;
            }
        }
        let done = self.work.entry(worker.clone()).or_default();
        drop_older(done, now, WORK_WINDOW);
        done.push_back((now, flops));
    }

    /// Notes a problem; the oldest goes when there are too many.
    pub(super) fn problem(
        &mut self,
        task: TaskId,
        kind: &'static str,
        worker: Option<&WorkerId>,
        error: &str,
    ) {
        if self.problems.len() == MAX_PROBLEMS {
            self.problems.pop_front();
        }
        let mut end = error.len().min(MAX_ERROR_BYTES);
        while !error.is_char_boundary(end) {
            end -= 1;
        }
        self.problems.push_back(Problem {
            at: SystemTime::now(),
            task,
            kind,
            worker: worker.cloned(),
            error: error[..end].to_owned(),
        });
    }

    /// The end-to-end percentiles as of `now`.
    pub(super) fn latency(&mut self, now: Instant) -> Latency {
        drop_older(&mut self.latencies, now, LATENCY_WINDOW);
        let mut secs: Vec<f64> = self.latencies.iter().map(|&(_, s)| s).collect();
        secs.sort_by(f64::total_cmp);
        let at = |p: f64| {
            let last = secs.len().checked_sub(1)?;
            secs.get((last as f64 * p).round() as usize).copied()
        };
        Latency {
            samples: secs.len(),
            p50: at(0.50),
            p99: at(0.99),
        }
    }

    /// Each worker's recent GFLOP/s: what it delivered over the last
    /// [`WORK_WINDOW`], per second.
    pub(super) fn gflops(&mut self, now: Instant) -> HashMap<WorkerId, f64> {
        self.forget_old_work(now);
        self.work
            .iter()
            .map(|(worker, done)| {
                let flops: u64 = done.iter().map(|&(_, f)| f).sum();
                let rate = flops as f64 / WORK_WINDOW.as_secs_f64() / 1e9;
                (worker.clone(), rate)
            })
            .collect()
    }

    /// The latest problems, newest first.
    pub(super) fn problems(&self) -> Vec<Problem> {
        self.problems.iter().rev().cloned().collect()
    }

    fn forget_old_work(&mut self, now: Instant) {
        self.work.retain(|_, done| {
            drop_older(done, now, WORK_WINDOW);
            !done.is_empty()
        });
    }
}

/// Drops the entries older than `window` before `now` from the front.
fn drop_older<T>(entries: &mut VecDeque<(Instant, T)>, now: Instant, window: Duration) {
    while entries
        .front()
        .is_some_and(|(at, _)| now.saturating_duration_since(*at) > window)
    {
        entries.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_cover_only_the_window() {
        let mut recent = Recent::default();
        let start = Instant::now();
        recent.completed(start, 100.0);
        for i in 1..=100 {
            recent.completed(start + Duration::from_secs(20), f64::from(i) / 100.0);
        }
        let latency = recent.latency(start + Duration::from_secs(25));
        assert_eq!(latency.samples, 100, "the old sample fell out");
        assert_eq!(latency.p50, Some(0.51));
        assert_eq!(latency.p99, Some(0.99));
        let later = recent.latency(start + Duration::from_secs(60));
        assert_eq!((later.samples, later.p50), (0, None));
    }

    #[test]
    fn worker_rates_are_work_over_the_window_and_expire() {
        let mut recent = Recent::default();
        let start = Instant::now();
        let worker = WorkerId::from_param(Some("w1"));
        recent.work(&worker, 15_000_000_000, start);
        recent.work(&worker, 15_000_000_000, start + Duration::from_secs(1));
        let rates = recent.gflops(start + Duration::from_secs(2));
        assert_eq!(rates.get(&worker).copied(), Some(1.0));
        assert!(recent.gflops(start + Duration::from_secs(40)).is_empty());
    }

    #[test]
    fn problems_are_bounded_newest_first_and_cut() {
        let mut recent = Recent::default();
        for id in 1..=(MAX_PROBLEMS as u64 + 5) {
            recent.problem(TaskId(id), "failed", None, &"é".repeat(400));
        }
        let problems = recent.problems();
        assert_eq!(problems.len(), MAX_PROBLEMS);
        assert_eq!(problems[0].task, TaskId(MAX_PROBLEMS as u64 + 5));
        assert!(problems[0].error.len() <= MAX_ERROR_BYTES);
    }
}
