//! What the queue knows of workers: when each was last seen, what it
//! finished, its rejected results and bench time, and its pause after
//! giving a task back.
//!
//! Workers name themselves (`workerId`), so the table is bounded
//! ([`MAX_TRACKED_WORKERS`]) and forgets workers not seen within
//! [`WORKER_SEEN_WINDOW`] (benched ones are kept until their bench ends).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a worker counts as "seen recently" in [`super::Stats`].
pub const WORKER_SEEN_WINDOW: Duration = Duration::from_secs(60);

/// At most this many workers are tracked; workers not seen within
/// [`WORKER_SEEN_WINDOW`] are forgotten on [`super::TaskQueue::tick`].
pub(super) const MAX_TRACKED_WORKERS: usize = 1024;

/// After a worker gives a task back ([`super::TaskQueue::release`]) it is
/// given no task for this long. A worker that releases is going away (its
/// tab is closing, or it was stopped), and a long poll it opened before may
/// still be waiting here after the page abandoned it: without the pause, the
/// task it just gave back would go straight to that dead poll and sit there
/// for a whole lease.
pub const RELEASE_PAUSE: Duration = Duration::from_secs(2);

/// Worker ids longer than this many bytes are cut to it.
pub(super) const MAX_WORKER_ID_BYTES: usize = 128;

/// Default number of rejected results in a row after which a worker is
/// benched.
pub(crate) const DEFAULT_REJECT_LIMIT: u32 = 3;

/// Default time a benched worker gets no tasks: five minutes.
pub(crate) const DEFAULT_BENCH_TIME: Duration = Duration::from_secs(300);

/// The id a worker gives itself (`workerId` query parameter).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkerId(Arc<str>);

impl WorkerId {
    /// The id used when a worker sends none or an empty one.
    pub const UNKNOWN: &'static str = "unknown";

    /// Builds a worker id from what the client sent: missing or empty gives
    /// `"unknown"`, longer than [`MAX_WORKER_ID_BYTES`] is cut.
    pub fn from_param(param: Option<&str>) -> Self {
        let raw = param.unwrap_or("");
        if raw.is_empty() {
            return Self(Arc::from(Self::UNKNOWN));
        }
        let mut end = raw.len().min(MAX_WORKER_ID_BYTES);
        while !raw.is_char_boundary(end) {
            end -= 1;
        }
        Self(Arc::from(&raw[..end]))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// When a worker is benched for posting wrong results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RejectPolicy {
    /// Rejected results in a row (no accepted result in between) that bench
    /// a worker.
    pub limit: u32,
    /// How long a benched worker gets no tasks.
    pub bench_time: Duration,
}

impl Default for RejectPolicy {
    fn default() -> Self {
        Self {
            limit: DEFAULT_REJECT_LIMIT,
            bench_time: DEFAULT_BENCH_TIME,
        }
    }
}

/// One worker's line in [`super::Stats::workers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerStats {
    /// The worker's id.
    pub id: WorkerId,
    /// Results it posted that completed a task.
    pub tasks_completed: u64,
    /// Errors it posted plus leases it let expire.
    pub tasks_failed: u64,
    /// Results it posted that failed verification.
    pub results_rejected: u64,
    /// How long it still gets no tasks after repeated rejections.
    pub benched_for: Option<Duration>,
    /// Time since it last asked for a task or posted an answer.
    pub last_seen_ago: Duration,
}

#[derive(Debug)]
struct WorkerRecord {
    tasks_completed: u64,
    tasks_failed: u64,
    last_seen: Instant,
    results_rejected: u64,
    /// Rejections since its last accepted result.
    rejections_in_a_row: u32,
    benched_until: Option<Instant>,
    /// When it last gave a task back ([`RELEASE_PAUSE`]).
    released_at: Option<Instant>,
}

impl WorkerRecord {
    fn new(now: Instant) -> Self {
        Self {
            tasks_completed: 0,
            tasks_failed: 0,
            last_seen: now,
            results_rejected: 0,
            rejections_in_a_row: 0,
            benched_until: None,
            released_at: None,
        }
    }
}

/// The workers seen recently and what they did.
#[derive(Debug, Default)]
pub(super) struct Workers {
    records: HashMap<WorkerId, WorkerRecord>,
    policy: RejectPolicy,
}

impl Workers {
    pub(super) fn new(policy: RejectPolicy) -> Self {
        Self {
            records: HashMap::new(),
            policy,
        }
    }

    /// Notes that `worker` was seen at `now` (a new worker is tracked while
    /// there is room).
    pub(super) fn touch(&mut self, worker: &WorkerId, now: Instant) {
        if let Some(record) = self.records.get_mut(worker) {
            record.last_seen = now;
        } else if self.records.len() < MAX_TRACKED_WORKERS {
            self.records.insert(worker.clone(), WorkerRecord::new(now));
        }
    }

    /// Credits `worker` with a completed task: its rejections in a row end.
    pub(super) fn credit_completed(&mut self, worker: &WorkerId, now: Instant) {
        self.touch(worker, now);
        if let Some(record) = self.records.get_mut(worker) {
            record.tasks_completed += 1;
            record.rejections_in_a_row = 0;
        }
    }

    /// Counts a task `worker` failed (an error it posted, a lease it let
    /// expire). `seen` tells whether this is news from the worker itself.
    pub(super) fn count_failed(&mut self, worker: &WorkerId, seen: Option<Instant>) {
        if let Some(now) = seen {
            self.touch(worker, now);
        }
        if let Some(record) = self.records.get_mut(worker) {
            record.tasks_failed += 1;
        }
    }

    /// Counts a rejected result of `worker`; benches it after
    /// [`RejectPolicy::limit`] rejections in a row. Returns whether it was
    /// benched by this one.
    pub(super) fn count_rejection(&mut self, worker: &WorkerId, now: Instant) -> bool {
        self.touch(worker, now);
        let policy = self.policy;
        let Some(record) = self.records.get_mut(worker) else {
            return false;
        };
        record.results_rejected += 1;
        record.rejections_in_a_row += 1;
        if record.rejections_in_a_row < policy.limit {
            return false;
        }
        record.rejections_in_a_row = 0;
        record.benched_until = Some(now + policy.bench_time);
        true
    }

    /// Notes that `worker` gave a task back at `now` ([`RELEASE_PAUSE`]).
    pub(super) fn note_release(&mut self, worker: &WorkerId, now: Instant) {
        self.touch(worker, now);
        if let Some(record) = self.records.get_mut(worker) {
            record.released_at = Some(now);
        }
    }

    /// Whether `worker` is benched at `now`.
    pub(super) fn is_benched(&self, worker: &WorkerId, now: Instant) -> bool {
        self.records
            .get(worker)
            .and_then(|record| record.benched_until)
            .is_some_and(|until| until > now)
    }

    /// How much longer `worker` gets no task because it gave one back.
    pub(super) fn release_pause_left(&self, worker: &WorkerId, now: Instant) -> Option<Duration> {
        let released_at = self.records.get(worker)?.released_at?;
        let left = (released_at + RELEASE_PAUSE).saturating_duration_since(now);
        (!left.is_zero()).then_some(left)
    }

    /// Forgets workers not seen within [`WORKER_SEEN_WINDOW`] (benched
    /// workers are remembered until their bench time ends).
    pub(super) fn forget_unseen(&mut self, now: Instant) {
        self.records.retain(|_, record| {
            now.saturating_duration_since(record.last_seen) < WORKER_SEEN_WINDOW
                || record.benched_until.is_some_and(|until| until > now)
        });
    }

    /// Workers tracked (seen within the window as of the last tick, plus
    /// benched ones).
    pub(super) fn len(&self) -> usize {
        self.records.len()
    }

    /// The lines of the workers seen within [`WORKER_SEEN_WINDOW`], by id.
    pub(super) fn stats(&self, now: Instant) -> Vec<WorkerStats> {
        let mut lines: Vec<WorkerStats> = self
            .records
            .iter()
            .filter_map(|(id, record)| {
                let ago = now.saturating_duration_since(record.last_seen);
                (ago < WORKER_SEEN_WINDOW).then(|| WorkerStats {
                    id: id.clone(),
                    tasks_completed: record.tasks_completed,
                    tasks_failed: record.tasks_failed,
                    last_seen_ago: ago,
                    results_rejected: record.results_rejected,
                    benched_for: record
                        .benched_until
                        .map(|until| until.saturating_duration_since(now))
                        .filter(|left| !left.is_zero()),
                })
            })
            .collect();
        lines.sort_by(|a, b| a.id.cmp(&b.id));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_id_defaults_to_unknown_and_is_bounded() {
        assert_eq!(WorkerId::from_param(None).as_str(), "unknown");
        assert_eq!(WorkerId::from_param(Some("")).as_str(), "unknown");
        let long = "é".repeat(200);
        let id = WorkerId::from_param(Some(&long));
        assert!(id.as_str().len() <= MAX_WORKER_ID_BYTES);
        assert!(id.as_str().chars().all(|c| c == 'é'));
    }
}
