//! One-task views: running the queue's rules on tasks kept elsewhere.
//!
//! When the tasks live in a store several coordinators share (Redis), no
//! coordinator holds the whole queue. Each transition instead loads the
//! few tasks it concerns (one task; a part with its split task and the
//! split task's other parts), runs the same [`TaskQueue`] operation on a
//! scratch queue that holds just those, and reads back what changed as
//! plain data ([`TaskDiff`], [`Deltas`]). The store then writes that back
//! atomically, if no other coordinator changed those tasks in between.
//! The rules stay here, in one home: the store only compares versions.
//!
//! Times cross process boundaries here, so tasks carry them as wall-clock
//! milliseconds ([`Clock`]), not as [`Instant`]s.
//!
//! The scratch queue keeps its worker tables between operations: in a
//! shared store, rejections, the bench and the release pause are each
//! coordinator's own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::split_tasks::SplitState;
use super::task::{Holder, LiveLease, PartRef, Provisional, Task, TaskId, TaskStatus, Vote};
use super::workers::{WorkerId, WorkerUndo};
use super::{Counters, LeaseEntry, TaskQueue};
use crate::check::TaskCheck;
use crate::shared_text::SharedText;

pub(crate) use super::task::Answer;

/// A moment as both clocks tell it: the monotonic one the queue's rules
/// use and the wall clock that other processes share.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    /// Now, monotonic.
    pub(crate) now: Instant,
    /// Now, in milliseconds since the Unix epoch.
    pub(crate) now_ms: u64,
}

impl Clock {
    /// The instant `ms` (Unix milliseconds) falls on.
    pub(crate) fn at(&self, ms: u64) -> Instant {
        if ms >= self.now_ms {
            self.now + Duration::from_millis(ms - self.now_ms)
        } else {
            let back = Duration::from_millis(self.now_ms - ms);
            self.now.checked_sub(back).unwrap_or(self.now)
        }
    }

    /// `instant` in Unix milliseconds.
    pub(crate) fn ms(&self, instant: Instant) -> u64 {
        if instant >= self.now {
            self.now_ms + instant.duration_since(self.now).as_millis() as u64
        } else {
            let back = self.now.duration_since(instant).as_millis() as u64;
            self.now_ms.saturating_sub(back)
        }
    }
}

/// One task as a shared store keeps it: everything the rules read.
#[derive(Debug, Clone)]
pub(crate) struct TaskState {
    /// The task data (a store may leave it empty when the operation does
    /// not hand it out: it never changes).
    pub(crate) data: SharedText,
    /// Its status.
    pub(crate) status: TaskStatus,
    /// Hand-outs counted against it.
    pub(crate) attempts: u32,
    /// The number of its latest lease.
    pub(crate) lease_generation: u64,
    /// Its live leases, with their deadlines.
    pub(crate) leases: Vec<LeaseState>,
    /// The worker of the latest live lease, or the one credited.
    pub(crate) leased_by: Option<WorkerId>,
    /// The holder of the last lease that ended without an answer.
    pub(crate) last_holder: Option<Holder>,
    /// Its result once completed.
    pub(crate) result: Option<SharedText>,
    /// Why it failed.
    pub(crate) last_error: Option<Arc<str>>,
    /// When it is evicted, in Unix milliseconds, once finished.
    pub(crate) evict_at_ms: Option<u64>,
    /// What its results are checked against.
    pub(crate) check: Option<TaskCheck>,
    /// For a part: its split task and place.
    pub(crate) part_of: Option<PartRef>,
    /// For a split task: its parts and their results.
    pub(crate) split: Option<SplitData>,
    /// Cancelled by its client.
    pub(crate) cancelled: bool,
    /// A former holder's answer kept aside: the answer, its worker and
    /// address.
    pub(crate) provisional: Option<Provisional>,
    /// A replicated task's votes.
    pub(crate) votes: Vec<Vote>,
}

/// A live lease and its deadline.
#[derive(Debug, Clone)]
pub(crate) struct LeaseState {
    /// The lease's number.
    pub(crate) number: u64,
    /// Who holds it.
    pub(crate) holder: Holder,
    /// When it expires, in Unix milliseconds.
    pub(crate) expires_ms: u64,
}

/// A split task's parts and their results.
#[derive(Debug, Clone)]
pub(crate) struct SplitData {
    /// The parts' ids, in row order.
    pub(crate) parts: Vec<TaskId>,
    /// The parts' results.
    pub(crate) results: Vec<Option<SharedText>>,
    /// Who computed each part.
    pub(crate) done_by: Vec<Option<WorkerId>>,
}

/// A task loaded for an operation.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    /// Its id.
    pub(crate) id: TaskId,
    /// Its state.
    pub(crate) state: TaskState,
    /// Whether it sits in the shared queue of pending ids.
    pub(crate) queued: bool,
    /// Bytes of its data that the store did not read (the data of a task
    /// handed to no worker by this operation): counted when it is dropped.
    pub(crate) unread_bytes: usize,
}

/// What an operation left of one task it loaded or created.
#[derive(Debug, Clone)]
pub(crate) struct TaskDiff {
    /// The task.
    pub(crate) id: TaskId,
    /// Its state now; `None` when it was dropped (evicted).
    pub(crate) after: Option<TaskState>,
    /// Whether it should sit in the queue of pending ids now.
    pub(crate) queued: bool,
    /// Whether the operation created it.
    pub(crate) created: bool,
}

/// How an operation moved the shared counters (each may be negative).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Deltas {
    /// Tasks submitted.
    pub(crate) submitted: i64,
    /// Tasks completed.
    pub(crate) completed: i64,
    /// Tasks failed.
    pub(crate) failed: i64,
    /// Leases expired and requeued.
    pub(crate) requeued: i64,
    /// Tasks pending.
    pub(crate) pending: i64,
    /// Tasks processing.
    pub(crate) processing: i64,
    /// Rejected results.
    pub(crate) rejected: i64,
    /// Bytes held.
    pub(crate) held_bytes: i64,
    /// Tasks held.
    pub(crate) held_tasks: i64,
    /// The highest client id and the lowest part id the operation
    /// created, if it created any (so that the store can tell an id given
    /// to a task from one that never was).
    pub(crate) created_ids: [Option<u64>; 2],
}

/// The ids a submission may take: the next client id and the next part id
/// (counting down), as the shared store handed them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FreshIds {
    /// The client id the next task gets.
    pub(crate) next_id: u64,
    /// The id the first part gets.
    pub(crate) next_part_id: u64,
}

/// What [`TaskQueue::load`] set up, for [`TaskQueue::unload`].
#[derive(Debug)]
pub(crate) struct Scratch {
    loaded: Vec<(TaskId, usize)>,
    ids: FreshIds,
    held_bytes: usize,
    clock: Clock,
}

/// Every counter starts here in a scratch queue, so that moving a count
/// down never goes below zero; the change is read as a difference.
const COUNTER_BASE: u64 = 1 << 40;

impl TaskQueue {
    /// Sets this (empty) queue up to run one operation on `tasks`, as of
    /// `clock`: queued tasks are pending in the order given, live leases
    /// have their deadlines, finished tasks their eviction times. New
    /// tasks take the ids in `ids`; `held_bytes` is what the whole cluster
    /// holds (so that byte limits hold for the cluster). `ids.next_id` also
    /// tells an unknown id from an evicted one.
    pub(crate) fn load(
        &mut self,
        tasks: Vec<Loaded>,
        ids: FreshIds,
        held_bytes: u64,
        clock: Clock,
    ) -> Scratch {
        self.next_id = ids.next_id;
        self.next_part_id = ids.next_part_id;
        self.counters = Counters {
            submitted: COUNTER_BASE,
            completed: COUNTER_BASE,
            failed: COUNTER_BASE,
            requeued: COUNTER_BASE,
            pending: COUNTER_BASE,
            processing: COUNTER_BASE,
            rejected: COUNTER_BASE,
            // Not counted on a shared store: no backups are handed out
            // there (`Config::parts_by_speed`).
            backups: COUNTER_BASE,
            late_results: COUNTER_BASE,
        };
        let mut loaded = Vec::with_capacity(tasks.len());
        let mut bytes = 0;
        let mut leases = Vec::new();
        for Loaded {
            id,
            state,
            queued,
            unread_bytes,
        } in tasks
        {
            if queued {
                self.pending.push_back(id);
            }
            for lease in &state.leases {
                leases.push(LeaseEntry {
                    expires_at: clock.at(lease.expires_ms),
                    id,
                    number: lease.number,
                });
            }
            let task = state.into_task(&clock);
            if let Some(evict_at) = task.evict_at {
                self.finished.push_back((evict_at, id));
            }
            bytes += task.held_bytes() + self.limits.task_overhead_bytes;
            loaded.push((id, unread_bytes));
            self.tasks.insert(id, task);
        }
        leases.sort_by_key(|entry| entry.expires_at);
        self.leases.extend(leases);
        self.held_bytes = usize::try_from(held_bytes).unwrap_or(usize::MAX).max(bytes);
        Scratch {
            loaded,
            ids,
            held_bytes: self.held_bytes,
            clock,
        }
    }

    /// Runs `decide` and returns its answer with what it changed in the
    /// worker tables, to take back with [`TaskQueue::undo_workers`] if its
    /// write does not land.
    pub(crate) fn recording_workers<T>(
        &mut self,
        decide: impl FnOnce(&mut Self) -> T,
    ) -> (T, WorkerUndo) {
        self.workers.record_changes();
        let out = decide(self);
        (out, self.workers.recorded())
    }

    /// Takes back what a decision did to the worker tables (leases counted,
    /// credits, rejections, benches, speeds) when its write did not land.
    pub(crate) fn undo_workers(&mut self, undo: WorkerUndo) {
        self.workers.undo(undo);
    }

    /// Reads back what the operation since [`TaskQueue::load`] did to the
    /// tasks it was given and the ones it created, and empties the queue
    /// again (its worker tables stay).
    pub(crate) fn unload(&mut self, scratch: Scratch) -> (Vec<TaskDiff>, Deltas) {
        let Scratch {
            loaded,
            ids,
            held_bytes,
            clock,
        } = scratch;
        let created = (ids.next_id..self.next_id)
            .chain((self.next_part_id + 1..=ids.next_part_id).rev())
            .map(TaskId);
        let mut all: Vec<(TaskId, bool)> = loaded.iter().map(|(id, _)| (*id, false)).collect();
        all.extend(created.map(|id| (id, true)));
        let mut diffs = Vec::with_capacity(all.len());
        for (id, created) in all {
            let queued = self.pending.contains(&id)
                && self.tasks.get(&id).is_some_and(|task| {
                    task.wants_lease() && task.attempts < self.attempt_limit(task)
                });
            let after = self.tasks.get(&id).map(|task| {
                let expiry = |number: u64| {
                    self.leases
                        .iter()
                        .find(|entry| entry.id == id && entry.number == number)
                        .map_or(clock.now + self.limits.lease, |entry| entry.expires_at)
                };
                TaskState::of(task, &clock, expiry)
            });
            diffs.push(TaskDiff {
                id,
                after,
                queued,
                created,
            });
        }
        let held_before = loaded.len() as i64;
        let held_after = diffs.iter().filter(|d| d.after.is_some()).count() as i64;
        // A dropped task's unread data leaves the cluster's bytes too.
        let unread_dropped: usize = loaded
            .iter()
            .filter(|(id, _)| diffs.iter().any(|d| d.id == *id && d.after.is_none()))
            .map(|(_, bytes)| bytes)
            .sum();
        let delta = |now: u64| now as i64 - COUNTER_BASE as i64;
        let c = &self.counters;
        let deltas = Deltas {
            submitted: delta(c.submitted),
            completed: delta(c.completed),
            failed: delta(c.failed),
            requeued: delta(c.requeued),
            pending: delta(c.pending),
            processing: delta(c.processing),
            rejected: delta(c.rejected),
            held_bytes: self.held_bytes as i64 - held_bytes as i64 - unread_dropped as i64,
            held_tasks: held_after - held_before,
            created_ids: [
                (self.next_id > ids.next_id).then(|| self.next_id - 1),
                (self.next_part_id < ids.next_part_id).then(|| self.next_part_id + 1),
            ],
        };
        for diff in &diffs {
            self.tasks.remove(&diff.id);
        }
        self.pending.clear();
        self.leases.clear();
        self.finished.clear();
        self.counters = Counters::default();
        self.held_bytes = 0;
        (diffs, deltas)
    }
}

impl TaskState {
    /// The state of `task`, its leases' deadlines told by `expiry`.
    fn of(task: &Task, clock: &Clock, expiry: impl Fn(u64) -> Instant) -> Self {
        Self {
            data: task.data.clone(),
            status: task.status,
            attempts: task.attempts,
            lease_generation: task.lease_generation,
            leases: task
                .leases
                .iter()
                .map(|lease| LeaseState {
                    number: lease.number,
                    holder: lease.holder.clone(),
                    expires_ms: clock.ms(expiry(lease.number)),
                })
                .collect(),
            leased_by: task.leased_by.clone(),
            last_holder: task.last_holder.clone(),
            result: task.result.clone(),
            last_error: task.last_error.clone(),
            evict_at_ms: task.evict_at.map(|at| clock.ms(at)),
            check: task.check.clone(),
            part_of: task.part_of,
            split: task.split.as_ref().map(|split| SplitData {
                parts: split.parts.clone(),
                results: split.results.clone(),
                done_by: split.done_by.clone(),
            }),
            cancelled: task.cancelled,
            provisional: task.provisional.as_deref().cloned(),
            votes: task.votes.clone(),
        }
    }

    fn into_task(self, clock: &Clock) -> Task {
        let mut task = Task::new(self.data, self.check);
        task.status = self.status;
        task.attempts = self.attempts;
        task.lease_generation = self.lease_generation;
        task.leases = self
            .leases
            .into_iter()
            .map(|lease| LiveLease {
                number: lease.number,
                holder: lease.holder,
                // Only speeds use when a lease started, and they are not
                // learned from a shared store's tasks.
                started_at: clock.at(lease.expires_ms),
                backup: false,
                answering: false,
            })
            .collect();
        task.leased_by = self.leased_by;
        task.last_holder = self.last_holder;
        task.result = self.result;
        task.last_error = self.last_error;
        task.evict_at = self.evict_at_ms.map(|ms| clock.at(ms));
        task.part_of = self.part_of;
        task.split = self.split.map(|split| {
            let done = split.results.iter().flatten().count();
            Box::new(SplitState {
                parts: split.parts,
                results: split.results,
                done_by: split.done_by,
                done,
                pace: None,
            })
        });
        task.cancelled = self.cancelled;
        task.provisional = self.provisional.map(Box::new);
        task.votes = self.votes;
        task
    }
}
