//! Taking back what a decision did to the worker tables when its write to
//! a shared store does not land.
//!
//! A decision on a shared store is made on this coordinator's tables and
//! written afterwards; meanwhile other decisions here change the same
//! tables. So a change is taken back as a change, not by putting the old
//! record back: counts lose what the decision added (or get back what it
//! took), and a field it set (a bench, a speed, a pause) gets its old
//! value back only while it still holds what the decision set, so that a
//! later decision's change stands.

use super::{ClientKey, ClientRecord, WorkerId, WorkerRecord, Workers};

/// What one decision changed in the worker tables
/// ([`Workers::record_changes`]), to take back with [`Workers::undo`].
#[derive(Debug, Default)]
pub(crate) struct WorkerUndo {
    steps: Vec<Step>,
}

impl WorkerUndo {
    /// The changes recorded, oldest first.
    pub(super) fn new(steps: Vec<Step>) -> Self {
        Self { steps }
    }

    /// Whether the decision changed nothing there.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// One change, as the record was before and after it.
#[derive(Debug)]
pub(super) enum Step {
    /// A worker's record.
    Worker {
        key: (ClientKey, WorkerId),
        before: Box<WorkerRecord>,
        after: Box<WorkerRecord>,
    },
    /// An address's counts.
    Client {
        client: ClientKey,
        before: ClientCounts,
        after: ClientCounts,
    },
}

impl Step {
    /// A change of the record of worker `key`.
    pub(super) fn worker(
        key: (ClientKey, WorkerId),
        before: WorkerRecord,
        after: WorkerRecord,
    ) -> Self {
        Self::Worker {
            key,
            before: Box::new(before),
            after: Box::new(after),
        }
    }

    /// A change of the counts of address `client`.
    pub(super) fn client(client: ClientKey, before: ClientCounts, after: ClientCounts) -> Self {
        Self::Client {
            client,
            before,
            after,
        }
    }
}

/// The counts of an address a decision changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ClientCounts {
    leases: usize,
    probation_leases: usize,
    strikes: u32,
}

impl ClientRecord {
    /// Its counts a decision may change.
    pub(super) fn counts(&self) -> ClientCounts {
        ClientCounts {
            leases: self.leases,
            probation_leases: self.probation_leases,
            strikes: self.strikes,
        }
    }

    /// Takes back the change of its counts from `before` to `after`.
    fn take_back(&mut self, before: ClientCounts, after: ClientCounts) {
        self.leases = take_back_count(self.leases, before.leases, after.leases);
        self.probation_leases = take_back_count(
            self.probation_leases,
            before.probation_leases,
            after.probation_leases,
        );
        let strikes = take_back_count(
            self.strikes as usize,
            before.strikes as usize,
            after.strikes as usize,
        );
        self.strikes = u32::try_from(strikes).unwrap_or(u32::MAX);
    }
}

impl WorkerRecord {
    /// Takes back the change from `before` to `after`: counts lose what
    /// it added, and a field it set gets its old value back if it still
    /// holds the one set.
    fn take_back(&mut self, before: &Self, after: &Self) {
        let count =
            |now: u64, before: u64, after: u64| now.saturating_sub(after.saturating_sub(before));
        self.tasks_completed = count(
            self.tasks_completed,
            before.tasks_completed,
            after.tasks_completed,
        );
        self.tasks_failed = count(self.tasks_failed, before.tasks_failed, after.tasks_failed);
        self.results_rejected = count(
            self.results_rejected,
            before.results_rejected,
            after.results_rejected,
        );
        restore(
            &mut self.rejections_in_a_row,
            before.rejections_in_a_row,
            after.rejections_in_a_row,
        );
        restore(
            &mut self.benched_until,
            before.benched_until,
            after.benched_until,
        );
        restore(&mut self.released_at, before.released_at, after.released_at);
        restore(&mut self.proven, before.proven, after.proven);
        restore(&mut self.speed, before.speed, after.speed);
    }
}

/// `now` without the change from `before` to `after` (never below 0).
fn take_back_count(now: usize, before: usize, after: usize) -> usize {
    if after >= before {
        now.saturating_sub(after - before)
    } else {
        now.saturating_add(before - after)
    }
}

/// Puts `before` back in `field` if it still holds what the change set.
fn restore<T: PartialEq>(field: &mut T, before: T, after: T) {
    if *field == after && before != after {
        *field = before;
    }
}

impl Workers {
    /// Takes back what a decision recorded in `undo` did, latest change
    /// first: its write did not land.
    pub(crate) fn undo(&mut self, undo: WorkerUndo) {
        for step in undo.steps.into_iter().rev() {
            match step {
                Step::Worker { key, before, after } => {
                    if let Some(record) = self.records.get_mut(&key) {
                        record.take_back(&before, &after);
                    }
                }
                Step::Client {
                    client,
                    before,
                    after,
                } => {
                    if let Some(record) = self.clients.get_mut(&client) {
                        record.take_back(before, after);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::{Duration, Instant};

    use super::*;
    use crate::queue::workers::RejectPolicy;

    fn policy() -> RejectPolicy {
        RejectPolicy {
            limit: 2,
            ..RejectPolicy::default()
        }
    }

    /// A worker `w` seen now at an unknown address, in tables benching
    /// after two rejections in a row.
    fn one_worker() -> (Instant, ClientKey, WorkerId, Workers) {
        let now = Instant::now();
        let w = WorkerId::from_param(Some("w"));
        let mut workers = Workers::new(policy());
        workers.touch(ClientKey::Unknown, &w, now);
        (now, ClientKey::Unknown, w, workers)
    }

    fn line(workers: &Workers, id: &WorkerId, now: Instant) -> (u64, u64, u64, bool, Option<u64>) {
        let line = workers
            .stats(now)
            .into_iter()
            .find(|line| line.id == *id)
            .unwrap();
        (
            line.tasks_completed,
            line.tasks_failed,
            line.results_rejected,
            line.benched_for.is_some(),
            line.flops_per_sec,
        )
    }

    #[test]
    fn a_decision_taken_back_leaves_the_tables_as_before_it() {
        let (now, client, w, mut workers) = one_worker();
        workers.credit_completed(client, &w, false, now);
        workers.learn_speed(client, &w, 100.0);
        workers.lease_started(client, false);
        let before = line(&workers, &w, now);
        // A decision: the lease ends, two rejections in a row bench the
        // worker, a failure, a speed sample.
        workers.record_changes();
        workers.lease_ended(client, false);
        assert!(!workers.count_rejection(client, &w, now));
        assert!(workers.count_rejection(client, &w, now), "benched");
        workers.count_failed(client, &w, Some(now));
        workers.learn_speed(client, &w, 300.0);
        let undo = workers.recorded();
        assert!(!undo.is_empty());
        assert_ne!(line(&workers, &w, now), before);
        workers.undo(undo);
        assert_eq!(line(&workers, &w, now), before);
        assert_eq!(workers.leases_of(client), 1);
        // Not benched any more, nor on probation: a lease is allowed as
        // before.
        assert_eq!(workers.may_lease(client, &w, now), Ok(false));
    }

    #[test]
    fn what_a_later_decision_changed_stands() {
        let (now, client, w, mut workers) = one_worker();
        workers.record_changes();
        workers.credit_completed(client, &w, true, now);
        workers.learn_speed(client, &w, 100.0);
        workers.note_release(client, &w, now);
        let undo = workers.recorded();
        // Decided meanwhile, and written: another credit, another speed,
        // another release.
        let later = now + Duration::from_secs(1);
        workers.credit_completed(client, &w, false, later);
        workers.learn_speed(client, &w, 300.0);
        workers.note_release(client, &w, later);
        workers.undo(undo);
        let (completed, _, _, _, speed) = line(&workers, &w, later);
        assert_eq!(completed, 1, "the later credit stands");
        assert_eq!(speed, Some(200), "the later sample, smoothed, stands");
        assert!(workers.release_pause_left(client, &w, later).is_some());
    }

    #[test]
    fn nothing_is_recorded_unless_asked() {
        let (now, client, w, mut workers) = one_worker();
        workers.credit_completed(client, &w, false, now);
        assert!(workers.recorded().is_empty());
    }
}
