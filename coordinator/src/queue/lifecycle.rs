//! The transitions of one task: submitted, leased, completed, failed,
//! rejected, given back, requeued when its lease expires, evicted.
//!
//! Every operation appends the transitions it made to the caller's
//! [`Changes`], also when it then refuses (a submission that evicted due
//! tasks to make room and still does not fit).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::change::{Change, Changes, RequeueReason};
use super::task::{Lease, Task, TaskId, TaskStatus, TaskView};
use super::workers::WorkerId;
use super::{LeaseEntry, NewTask, QueueError, TaskQueue};
use crate::check::TaskCheck;
use crate::shared_text::SharedText;

/// What [`TaskQueue::complete`] and [`TaskQueue::fail`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The task changed state as asked.
    Applied(TaskView),
    /// The task was already completed; nothing changed.
    AlreadyCompleted(TaskView),
    /// The task had already failed and an error changes nothing.
    AlreadyFailed(TaskView),
}

impl Outcome {
    /// The task as it is now.
    pub(crate) fn view(&self) -> &TaskView {
        match self {
            Self::Applied(view) | Self::AlreadyCompleted(view) | Self::AlreadyFailed(view) => view,
        }
    }
}

/// Why [`TaskQueue::lease_next`] handed out no task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoLease {
    /// Nothing is pending.
    NonePending,
    /// The worker is benched after repeated rejected results.
    Benched,
    /// The worker gave a task back this long ago less than
    /// [`super::RELEASE_PAUSE`]; this is what is left of the pause.
    Paused(Duration),
}

/// What [`TaskQueue::reject`] did with the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// It went back to the front of the queue for another worker.
    Requeued,
    /// It had used its last attempt and failed.
    Failed,
    /// It was not processing by the poster (completed, failed, requeued after
    /// its lease expired, or leased to someone else): it stays as it is.
    Unchanged(TaskStatus),
}

impl TaskQueue {
    /// Adds a task: one pending task at the back of the queue, or a split
    /// task whose parts are queued in order at the back. Returns the id the
    /// client gets (the next client id; parts take ids counting down from
    /// [`super::FIRST_PART_ID`]).
    ///
    /// # Errors
    ///
    /// [`QueueError::Full`] or [`QueueError::FullBytes`] when holding the task
    /// would pass a limit (after evicting what is due at `now`);
    /// [`QueueError::PartIdsExhausted`] when no part ids are left.
    pub(crate) fn submit(
        &mut self,
        task: NewTask,
        now: Instant,
        changes: &mut Changes,
    ) -> Result<TaskId, QueueError> {
        match task {
            NewTask::One { data, check } => self.submit_one(data, check, now, changes),
            NewTask::Split { data, parts } => self.submit_split(data, parts, now, changes),
        }
    }

    fn submit_one(
        &mut self,
        data: SharedText,
        check: Option<TaskCheck>,
        now: Instant,
        changes: &mut Changes,
    ) -> Result<TaskId, QueueError> {
        if !self.ids_reserved_for(0) {
            return Err(QueueError::IdsNotReserved);
        }
        self.make_room(1, data.own_len(), now, changes)?;
        let id = self.insert(Task::new(data.clone(), check.clone()));
        self.pending.push_back(id);
        self.counters.pending += 1;
        changes.push(Change::Submitted { id, data, check });
        Ok(id)
    }

    /// Requeues the leases expired by `now`, then hands the first pending
    /// task to `worker` for one lease (the worker counts as seen either way).
    ///
    /// # Errors
    ///
    /// [`NoLease`] says why no task was handed out.
    pub(crate) fn lease_next(
        &mut self,
        worker: &WorkerId,
        now: Instant,
        changes: &mut Changes,
    ) -> Result<Lease, NoLease> {
        self.requeue_expired(now, changes);
        self.workers.touch(worker, now);
        if self.workers.is_benched(worker, now) {
            return Err(NoLease::Benched);
        }
        if let Some(left) = self.workers.release_pause_left(worker, now) {
            return Err(NoLease::Paused(left));
        }
        while let Some(id) = self.pending.pop_front() {
            let Some(task) = self.tasks.get_mut(&id) else {
                continue; // evicted while queued
            };
            if task.status != TaskStatus::Pending {
                continue; // completed by a late result while queued
            }
            let expires_at = now + self.limits.lease;
            task.status = TaskStatus::Processing;
            task.attempts += 1;
            task.lease_generation += 1;
            task.leased_by = Some(worker.clone());
            task.lease_expires_at = Some(expires_at);
            self.leases.push_back(LeaseEntry {
                expires_at,
                id,
                generation: task.lease_generation,
            });
            self.counters
                .moved(TaskStatus::Pending, TaskStatus::Processing);
            changes.push(Change::Leased {
                id,
                part: task.part_of,
                worker: worker.clone(),
                attempts: task.attempts,
                expires_at,
            });
            let (data, attempts, part_of) = (task.data.clone(), task.attempts, task.part_of);
            return Ok(Lease {
                id,
                data,
                attempts,
                part: part_of.and_then(|part_of| self.part_place(part_of)),
            });
        }
        Err(NoLease::NonePending)
    }

    /// Stores `result` for task `id` and marks it completed, unless it is
    /// completed already (then nothing changes: results are immutable).
    /// Accepted in any other state, so a result that arrives after the lease
    /// expired is not wasted. `worker` is the poster when known; otherwise
    /// the task's last lease holder is credited. The result of the last
    /// part of a split task completes the split task too, with the parts'
    /// results joined.
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] or [`QueueError::Expired`] for an unknown id;
    /// [`QueueError::SplitTask`] for a split task that is not completed
    /// (its result is assembled from its parts).
    pub(crate) fn complete(
        &mut self,
        id: TaskId,
        result: SharedText,
        worker: Option<&WorkerId>,
        now: Instant,
        changes: &mut Changes,
    ) -> Result<Outcome, QueueError> {
        let task = self.tasks.get(&id).ok_or_else(|| self.missing(id))?;
        if task.status == TaskStatus::Completed {
            return Ok(Outcome::AlreadyCompleted(task.view(id)));
        }
        if task.cancelled {
            return Ok(Outcome::AlreadyFailed(task.view(id)));
        }
        if task.split.is_some() {
            return Err(QueueError::SplitTask(id));
        }
        let part_of = task.part_of;
        let view = self
            .settle(
                id,
                TaskStatus::Completed,
                Some(result.clone()),
                None,
                worker,
                now,
            )
            .ok_or(QueueError::NotFound)?;
        if let Some(credited) = &view.leased_by {
            self.workers.credit_completed(credited, now);
        }
        changes.push(Change::Completed {
            id,
            part: part_of,
            result: result.clone(),
            worker: view.leased_by.clone(),
        });
        if let Some(part_of) = part_of {
            self.record_part(part_of, result, view.leased_by.clone(), now, changes);
        }
        Ok(Outcome::Applied(view))
    }

    /// Marks task `id` failed with `error`, as a worker's error answer does.
    /// A completed task stays completed; a failed one keeps its first error.
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] or [`QueueError::Expired`] for an unknown id.
    pub(crate) fn fail(
        &mut self,
        id: TaskId,
        error: Arc<str>,
        worker: Option<&WorkerId>,
        now: Instant,
        changes: &mut Changes,
    ) -> Result<Outcome, QueueError> {
        let task = self.tasks.get(&id).ok_or_else(|| self.missing(id))?;
        match task.status {
            TaskStatus::Completed => return Ok(Outcome::AlreadyCompleted(task.view(id))),
            TaskStatus::Failed => return Ok(Outcome::AlreadyFailed(task.view(id))),
            TaskStatus::Pending | TaskStatus::Processing => {}
        }
        let view = self
            .mark_failed(id, error, worker, now, changes)
            .ok_or(QueueError::NotFound)?;
        if let Some(credited) = &view.leased_by {
            self.workers.count_failed(credited, Some(now));
        }
        Ok(Outcome::Applied(view))
    }

    /// Records that a result for task `id` failed its check: counts the
    /// rejection for `worker` (the poster, or the task's lease holder when
    /// unknown), benches the worker after repeated rejections
    /// ([`super::RejectPolicy`]), and, when the task is processing by that
    /// worker, puts it back at the front of the queue (or fails it after its
    /// last attempt).
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] or [`QueueError::Expired`] for an unknown id.
    pub(crate) fn reject(
        &mut self,
        id: TaskId,
        worker: Option<&WorkerId>,
        reason: &str,
        now: Instant,
        changes: &mut Changes,
    ) -> Result<Rejection, QueueError> {
        let task = self.tasks.get(&id).ok_or_else(|| self.missing(id))?;
        let poster = worker.cloned().or_else(|| task.leased_by.clone());
        let held_by_poster = task.status == TaskStatus::Processing && task.leased_by == poster;
        let (status, attempts, part) = (task.status, task.attempts, task.part_of);
        self.counters.rejected += 1;
        let benched = poster
            .as_ref()
            .is_some_and(|poster| self.workers.count_rejection(poster, now));
        changes.push(Change::Rejected {
            id,
            part,
            worker: poster,
            reason: Arc::from(reason),
            benched,
        });
        if !held_by_poster {
            return Ok(Rejection::Unchanged(status));
        }
        if attempts >= self.limits.max_attempts {
            let error = format!("Every result was rejected ({attempts} attempts): {reason}");
            self.mark_failed(id, Arc::from(error), None, now, changes);
            return Ok(Rejection::Failed);
        }
        self.requeue_front(id, RequeueReason::Rejected, changes);
        Ok(Rejection::Requeued)
    }

    /// Gives task `id` back from `worker` (a closing browser tab): it goes to
    /// the front of the queue at once and the attempt is not counted. The
    /// worker then gets no task for [`super::RELEASE_PAUSE`].
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] or [`QueueError::Expired`] for an unknown id;
    /// [`QueueError::NotLeasedBy`] when the task is not processing by `worker`.
    pub(crate) fn release(
        &mut self,
        id: TaskId,
        worker: &WorkerId,
        now: Instant,
        changes: &mut Changes,
    ) -> Result<(), QueueError> {
        let Some(task) = self.tasks.get_mut(&id) else {
            return Err(self.missing(id));
        };
        if task.status != TaskStatus::Processing || task.leased_by.as_ref() != Some(worker) {
            return Err(QueueError::NotLeasedBy(id));
        }
        task.attempts = task.attempts.saturating_sub(1);
        self.requeue_front(id, RequeueReason::Released, changes);
        self.workers.note_release(worker, now);
        Ok(())
    }

    /// Puts every task whose lease expired by `now` back at the front of the
    /// queue with its attempt counted, or fails it when it has had
    /// [`super::QueueLimits::max_attempts`] attempts.
    pub(crate) fn requeue_expired(&mut self, now: Instant, changes: &mut Changes) {
        while let Some(entry) = self.leases.front().copied() {
            if entry.expires_at > now {
                break;
            }
            self.leases.pop_front();
            let Some(task) = self.tasks.get(&entry.id) else {
                continue;
            };
            if task.status != TaskStatus::Processing || task.lease_generation != entry.generation {
                continue;
            }
            let holder = task.leased_by.clone();
            if task.attempts >= self.limits.max_attempts {
                let error: Arc<str> = Arc::from(format!(
                    "No result after {} attempts: every lease of {} s expired",
                    task.attempts,
                    self.limits.lease.as_secs_f64()
                ));
                self.mark_failed(entry.id, error, None, now, changes);
            } else {
                self.counters.requeued += 1;
                self.requeue_front(entry.id, RequeueReason::LeaseExpired, changes);
            }
            if let Some(holder) = holder {
                self.workers.count_failed(&holder, None);
            }
        }
    }

    /// Evicts finished tasks kept for [`super::QueueLimits::keep_finished`]
    /// by `now`.
    pub(crate) fn evict_finished(&mut self, now: Instant, changes: &mut Changes) {
        while let Some(&(evict_at, id)) = self.finished.front() {
            if evict_at > now {
                break;
            }
            self.finished.pop_front();
            let due = self
                .tasks
                .get(&id)
                .is_some_and(|task| task.status.is_finished() && task.evict_at == Some(evict_at));
            if due && self.drop_task(id).is_some() {
                changes.push(Change::Evicted { id });
            }
        }
    }

    /// The periodic housekeeping: requeues expired leases, evicts finished
    /// tasks and forgets workers not seen within
    /// [`super::WORKER_SEEN_WINDOW`].
    pub(crate) fn tick(&mut self, now: Instant, changes: &mut Changes) {
        self.requeue_expired(now, changes);
        self.evict_finished(now, changes);
        self.workers.forget_unseen(now);
    }

    /// Puts processing task `id` back at the front of the queue.
    pub(super) fn requeue_front(
        &mut self,
        id: TaskId,
        reason: RequeueReason,
        changes: &mut Changes,
    ) {
        let Some(task) = self.tasks.get_mut(&id) else {
            return;
        };
        task.status = TaskStatus::Pending;
        task.leased_by = None;
        task.lease_expires_at = None;
        self.pending.push_front(id);
        self.counters
            .moved(TaskStatus::Processing, TaskStatus::Pending);
        changes.push(Change::Requeued {
            id,
            part: task.part_of,
            attempts: task.attempts,
            reason,
        });
    }

    /// Moves a pending or processing task to failed, and a part's split
    /// task with it; returns its view (as it is, when already finished).
    pub(super) fn mark_failed(
        &mut self,
        id: TaskId,
        error: Arc<str>,
        worker: Option<&WorkerId>,
        now: Instant,
        changes: &mut Changes,
    ) -> Option<TaskView> {
        let task = self.tasks.get(&id)?;
        if task.status.is_finished() {
            return Some(task.view(id));
        }
        let part_of = task.part_of;
        let view = self.settle(
            id,
            TaskStatus::Failed,
            None,
            Some(Arc::clone(&error)),
            worker,
            now,
        )?;
        changes.push(Change::Failed {
            id,
            part: part_of,
            error: Arc::clone(&error),
            worker: worker.cloned(),
        });
        if let Some(part_of) = part_of {
            self.fail_split(part_of, id, now, changes);
        }
        Some(view)
    }

    /// Moves task `id` to finished status `to` (with `result` when it
    /// completes, `error` when it fails), credits `worker` as its holder when given, and schedules
    /// its eviction; returns its view.
    pub(super) fn settle(
        &mut self,
        id: TaskId,
        to: TaskStatus,
        result: Option<SharedText>,
        error: Option<Arc<str>>,
        worker: Option<&WorkerId>,
        now: Instant,
    ) -> Option<TaskView> {
        let evict_at = now + self.limits.keep_finished;
        let task = self.tasks.get_mut(&id)?;
        self.counters.moved(task.status, to);
        self.held_bytes -= task.held_bytes();
        task.status = to;
        task.result = result;
        task.last_error = error;
        task.lease_expires_at = None;
        if let Some(worker) = worker {
            task.leased_by = Some(worker.clone());
        }
        task.evict_at = Some(evict_at);
        self.held_bytes += task.held_bytes();
        self.finished.push_back((evict_at, id));
        Some(task.view(id))
    }
}
