//! When each unfinished task was submitted and last leased, so that the
//! time it spent pending and processing can be measured when it moves on.
//!
//! The queue is clock-free (time is passed in) and its change record says
//! what changed, not when, so the times live here, keyed by task id. An
//! entry is made when a task is submitted and dropped when it finishes
//! (completed, failed, cancelled) or is evicted, so the table never holds
//! more than the queue does (`--max-tasks`).

use std::time::Instant;

use crate::id_map::IdMap;
use crate::queue::TaskId;

/// What a task is, for the `kind` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A task as a client submitted it, not split.
    Single,
    /// A split task: completes when its parts are assembled.
    Split,
    /// A part of a split task.
    Part,
}

impl Kind {
    /// Its place in [`super::families::KINDS`].
    pub(super) fn index(self) -> usize {
        match self {
            Self::Single => 0,
            Self::Split => 1,
            Self::Part => 2,
        }
    }

    /// Whether a client waits on it (its end-to-end time is measured).
    pub(super) fn is_client_task(self) -> bool {
        self != Self::Part
    }
}

/// One unfinished task's times.
#[derive(Debug, Clone, Copy)]
pub(super) struct Times {
    /// What it is.
    pub(super) kind: Kind,
    /// When it was submitted.
    pub(super) submitted: Instant,
    /// When it was last leased.
    pub(super) leased: Option<Instant>,
    /// Floating point operations of its product (0 when unknown).
    pub(super) flops: u64,
}

/// The times of the unfinished tasks.
#[derive(Debug, Default)]
pub(super) struct TaskTimes {
    tasks: IdMap<Times>,
}

impl TaskTimes {
    /// Starts timing task `id`, submitted at `now`.
    pub(super) fn submitted(&mut self, id: TaskId, kind: Kind, flops: u64, now: Instant) {
        self.tasks.insert(
            id,
            Times {
                kind,
                submitted: now,
                leased: None,
                flops,
            },
        );
    }

    /// Notes that task `id` was leased at `now`; returns how long it waited
    /// when this is its first lease.
    pub(super) fn leased(&mut self, id: TaskId, now: Instant) -> Option<std::time::Duration> {
        let times = self.tasks.get_mut(&id)?;
        let first = times.leased.is_none();
        times.leased = Some(now);
        first.then(|| now.saturating_duration_since(times.submitted))
    }

    /// Stops timing task `id` (it finished or was evicted) and returns its
    /// times.
    pub(super) fn finished(&mut self, id: TaskId) -> Option<Times> {
        self.tasks.remove(&id)
    }

    /// The kind of task `id`, if it is being timed.
    pub(super) fn kind(&self, id: TaskId) -> Option<Kind> {
        self.tasks.get(&id).map(|times| times.kind)
    }

    /// Tasks being timed.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.tasks.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn only_the_first_lease_ends_the_pending_time() {
        let mut times = TaskTimes::default();
        let start = Instant::now();
        times.submitted(TaskId(1), Kind::Single, 24, start);
        let first = times.leased(TaskId(1), start + Duration::from_millis(30));
        assert_eq!(first, Some(Duration::from_millis(30)));
        assert_eq!(
            times.leased(TaskId(1), start + Duration::from_secs(9)),
            None
        );
        let done = times.finished(TaskId(1)).map(|t| (t.leased, t.flops));
        assert_eq!(done, Some((Some(start + Duration::from_secs(9)), 24)));
        assert_eq!(times.len(), 0, "a finished task is forgotten");
        assert_eq!(
            times.leased(TaskId(1), start),
            None,
            "unknown tasks are ignored"
        );
    }
}
