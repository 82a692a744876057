//! One-task views (`shared`): a transition decided on a scratch queue that
//! holds only the tasks it concerns, as a shared store runs it, gives what
//! the whole queue gives, and reads back as the store writes it.

use super::*;
use crate::queue::shared::{Clock, FreshIds, Loaded, TaskDiff};

fn clock(now: Instant) -> Clock {
    Clock {
        now,
        now_ms: 1_700_000_000_000,
    }
}

fn ids(next_id: u64) -> FreshIds {
    FreshIds {
        next_id,
        next_part_id: FIRST_PART_ID,
    }
}

/// A store of task states between operations, as Redis keeps them.
#[derive(Default)]
struct Kept {
    tasks: HashMap<TaskId, (crate::queue::TaskState, bool)>,
    next_id: u64,
}

impl Kept {
    /// Runs `op` on a scratch queue holding tasks `load`, and keeps what
    /// it left.
    fn run<T>(
        &mut self,
        scratch: &mut TaskQueue,
        load: &[TaskId],
        at: Clock,
        op: impl FnOnce(&mut TaskQueue, &mut Changes) -> T,
    ) -> (T, Changes, Vec<TaskDiff>, crate::queue::Deltas) {
        let loaded = load
            .iter()
            .filter_map(|id| {
                let (state, queued) = self.tasks.get(id)?.clone();
                Some(Loaded {
                    id: *id,
                    state,
                    queued,
                    unread_bytes: 0,
                })
            })
            .collect();
        let next = self.next_id.max(1);
        let set_up = scratch.load(loaded, ids(next), 0, at);
        let mut changes = Changes::none();
        let out = op(scratch, &mut changes);
        let (diffs, deltas) = scratch.unload(set_up);
        for diff in &diffs {
            match &diff.after {
                Some(state) => {
                    self.tasks.insert(diff.id, (state.clone(), diff.queued));
                }
                None => {
                    self.tasks.remove(&diff.id);
                }
            }
            if diff.created {
                self.next_id = self.next_id.max(diff.id.0 + 1);
            }
        }
        (out, changes, diffs, deltas)
    }
}

#[test]
fn a_task_submitted_leased_and_completed_through_views_ends_as_in_the_queue() {
    let now = Instant::now();
    let mut scratch = TaskQueue::new(limits(), RejectPolicy::default());
    let mut kept = Kept::default();
    let (id, _, diffs, deltas) = kept.run(&mut scratch, &[], clock(now), |q, c| {
        q.submit(NewTask::unchecked("{}"), now, c)
    });
    let id = id.unwrap();
    assert_eq!(id, TaskId(1));
    assert!(diffs[0].created && diffs[0].queued);
    assert_eq!(
        (deltas.submitted, deltas.pending, deltas.held_tasks),
        (1, 1, 1)
    );

    let w1 = asker("w1", 1);
    let (lease, changes, diffs, deltas) = kept.run(&mut scratch, &[id], clock(now), |q, c| {
        q.lease_next(&w1, now, c)
    });
    let lease = lease.unwrap();
    assert_eq!((lease.id, lease.number), (id, 1));
    assert_eq!(changes.len(), 1);
    assert!(
        !diffs[0].queued,
        "a leased task leaves the queue of pending ids"
    );
    let leases = &diffs[0].after.as_ref().unwrap().leases;
    assert_eq!(leases.len(), 1);
    assert_eq!(
        leases[0].expires_ms,
        1_700_000_000_000 + LEASE.as_millis() as u64
    );
    assert_eq!((deltas.pending, deltas.processing), (-1, 1));

    // Another worker's lease on the same view finds nothing.
    let w2 = asker("w2", 2);
    let (none, _, _, _) = kept.run(&mut scratch, &[id], clock(now), |q, c| {
        q.lease_next(&w2, now, c)
    });
    assert!(none.is_err());

    let (done, _, diffs, deltas) = kept.run(&mut scratch, &[id], clock(now), |q, c| {
        q.complete(id, text("[[1]]"), &poster_of(&w1), now, c)
    });
    assert!(matches!(done.unwrap(), Outcome::Applied(_)));
    let after = diffs[0].after.as_ref().unwrap();
    assert_eq!(after.status, TaskStatus::Completed);
    assert!(after.leases.is_empty());
    assert_eq!(
        after.evict_at_ms,
        Some(1_700_000_000_000 + KEEP.as_millis() as u64)
    );
    assert_eq!((deltas.processing, deltas.completed), (-1, 1));

    // The scratch queue holds nothing between operations.
    assert_eq!(scratch.tasks.len(), 0);
    assert!(scratch.pending.is_empty() && scratch.leases.is_empty());
}

#[test]
fn an_expired_lease_is_requeued_by_a_view_as_of_the_shared_clock() {
    let now = Instant::now();
    let mut scratch = TaskQueue::new(limits(), RejectPolicy::default());
    let mut kept = Kept::default();
    let (id, ..) = kept.run(&mut scratch, &[], clock(now), |q, c| {
        q.submit(NewTask::unchecked("{}"), now, c)
    });
    let id = id.unwrap();
    let w1 = asker("w1", 1);
    let (lease, ..) = kept.run(&mut scratch, &[id], clock(now), |q, c| {
        q.lease_next(&w1, now, c)
    });
    lease.unwrap();
    // Another coordinator, whose monotonic clock says something else, one
    // millisecond before the deadline and then at it.
    let other = Instant::now() + Duration::from_secs(1000);
    let before = Clock {
        now: other,
        now_ms: 1_700_000_000_000 + LEASE.as_millis() as u64 - 1,
    };
    let (_, changes, _, _) = kept.run(&mut scratch, &[id], before, |q, c| {
        q.requeue_expired(other, c)
    });
    assert!(changes.is_empty());
    let at = Clock {
        now: other,
        now_ms: before.now_ms + 1,
    };
    let (_, changes, diffs, deltas) =
        kept.run(&mut scratch, &[id], at, |q, c| q.requeue_expired(other, c));
    assert!(matches!(
        changes.iter().next(),
        Some(Change::Requeued {
            reason: RequeueReason::LeaseExpired,
            ..
        })
    ));
    assert!(diffs[0].queued);
    assert_eq!(
        (deltas.requeued, deltas.pending, deltas.processing),
        (1, 1, -1)
    );
    // Doing it again changes nothing.
    let (_, changes, _, deltas) =
        kept.run(&mut scratch, &[id], at, |q, c| q.requeue_expired(other, c));
    assert!(changes.is_empty());
    assert_eq!(deltas, crate::queue::Deltas::default());
}

#[test]
fn an_evicted_task_leaves_the_view_and_its_bytes_with_it() {
    let now = Instant::now();
    let mut scratch = TaskQueue::new(limits(), RejectPolicy::default());
    let mut kept = Kept::default();
    let (id, ..) = kept.run(&mut scratch, &[], clock(now), |q, c| {
        q.submit(NewTask::unchecked("{\"x\":1}"), now, c)
    });
    let id = id.unwrap();
    let w1 = asker("w1", 1);
    let (lease, ..) = kept.run(&mut scratch, &[id], clock(now), |q, c| {
        q.lease_next(&w1, now, c)
    });
    lease.unwrap();
    let (done, ..) = kept.run(&mut scratch, &[id], clock(now), |q, c| {
        q.complete(id, text("[[1]]"), &poster_of(&w1), now, c)
    });
    done.unwrap();
    let later = now + KEEP + Duration::from_secs(1);
    let at = Clock {
        now: later,
        now_ms: clock(now).now_ms + (KEEP + Duration::from_secs(1)).as_millis() as u64,
    };
    let (_, changes, diffs, deltas) =
        kept.run(&mut scratch, &[id], at, |q, c| q.evict_finished(later, c));
    assert!(matches!(
        changes.iter().next(),
        Some(Change::Evicted { .. })
    ));
    assert!(diffs[0].after.is_none());
    assert_eq!(deltas.held_tasks, -1);
    assert_eq!(
        deltas.held_bytes,
        -(("{\"x\":1}".len() + "[[1]]".len()) as i64)
    );
}
