//! Workers' answers and give-backs, and who may make them.
//!
//! Every answer is weighed by what its poster is to the task
//! ([`Role`]): the holder of a live lease (proved by the lease's token, or,
//! for a worker that took no token, by its address and worker id), a
//! former holder, or a stranger.
//!
//! - A result the task's check verified is right whoever sends it, and
//!   completes the task.
//! - Any other answer (a result nothing can check, an error report) is
//!   final from the holder, and from a former holder when no lease is live
//!   (the contract's late result). A former holder's answer while another
//!   lease is live is kept aside and stands only if no holder answers
//!   before the leases end. A stranger's is ignored.
//! - A replicated task counts answers as votes instead (`quorum`).
//! - A result the check refused is the worker's fault, not the task's:
//!   from the holder, its lease ends, its attempt is given back and the
//!   worker and its address are counted ([`super::workers`]); from anyone
//!   else, nothing but the counter of rejected results changes.
//! - Only the holder can give a task back.

use std::sync::Arc;
use std::time::Instant;

use super::change::{Change, Changes, RequeueReason};
use super::client::{ClientKey, Poster};
use super::lifecycle::Outcome;
use super::task::{Answer, Provisional, Role, TaskId, TaskStatus, TaskView};
use super::workers::WorkerId;
use super::{QueueError, TaskQueue};
use crate::shared_text::SharedText;

/// What [`TaskQueue::reject`] did with the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// The poster held the task: its lease ended and the task went back to
    /// the front of the queue for another worker (its attempt given back).
    Requeued,
    /// The poster did not hold the task (completed, failed, requeued after
    /// its lease expired, or leased to someone else): it stays as it is.
    Unchanged(TaskStatus),
}

impl TaskQueue {
    /// Takes `result` for task `id` from `poster`: see the module docs for
    /// when it completes the task. A completed task keeps its result
    /// (results are immutable). The result of the last part of a split task
    /// completes the split task too, with the parts' results joined.
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] or [`QueueError::Expired`] for an unknown id;
    /// [`QueueError::SplitTask`] for a split task that is not completed
    /// (its result is assembled from its parts);
    /// [`QueueError::ResultTooLarge`] for a result larger than every byte
    /// the queue may hold, [`QueueError::FullBytes`] when there is no room
    /// for it now.
    pub(crate) fn complete(
        &mut self,
        id: TaskId,
        result: SharedText,
        poster: &Poster,
        now: Instant,
        changes: &mut Changes,
    ) -> Result<Outcome, QueueError> {
        let task = self.tasks.get(&id).ok_or_else(|| self.missing(id))?;
        if task.status == TaskStatus::Completed {
            let view = task.view(id);
            if task.role(poster) == Role::Former {
                // A copy that lost, or a lease that expired: late.
                self.counters.late_results += 1;
            }
            return Ok(Outcome::AlreadyCompleted(view));
        }
        if task.cancelled {
            return Ok(Outcome::AlreadyFailed(task.view(id)));
        }
        if task.split.is_some() {
            return Err(QueueError::SplitTask(id));
        }
        self.answer(id, Answer::Result(result), poster, now, changes)
    }

    /// Takes `poster`'s error report for task `id`, as [`TaskQueue::complete`]
    /// takes a result: when final, the task fails. A completed task stays
    /// completed; a failed one keeps its first error.
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] or [`QueueError::Expired`] for an unknown id.
    pub(crate) fn fail(
        &mut self,
        id: TaskId,
        error: Arc<str>,
        poster: &Poster,
        now: Instant,
        changes: &mut Changes,
    ) -> Result<Outcome, QueueError> {
        let task = self.tasks.get(&id).ok_or_else(|| self.missing(id))?;
        match task.status {
            TaskStatus::Completed => return Ok(Outcome::AlreadyCompleted(task.view(id))),
            TaskStatus::Failed => return Ok(Outcome::AlreadyFailed(task.view(id))),
            TaskStatus::Pending | TaskStatus::Processing => {}
        }
        self.answer(id, Answer::Error(error), poster, now, changes)
    }

    /// Weighs an answer by its poster's role (see the module docs).
    fn answer(
        &mut self,
        id: TaskId,
        answer: Answer,
        poster: &Poster,
        now: Instant,
        changes: &mut Changes,
    ) -> Result<Outcome, QueueError> {
        let Some(task) = self.tasks.get(&id) else {
            return Err(self.missing(id));
        };
        let role = task.role(poster);
        if task.quorum().is_some() {
            return self.vote(id, answer, poster, role, now, changes);
        }
        let verified = task.verifies() && matches!(answer, Answer::Result(_));
        let client = self.workers.resolve(poster.client);
        let (worker, client) = match role {
            Role::Holder(index) => {
                let holder = &task.leases[index].holder;
                (Some(holder.worker.clone()), holder.client)
            }
            _ => (self.poster_worker(task, poster, role), client),
        };
        let stands = matches!(role, Role::Holder(_))
            || verified
            || (role == Role::Former && task.leases.is_empty());
        // The holder's result measures its speed: the part's work over the
        // time from its lease to now. Not a backup copy's: it ran while the
        // rest of the crew was idle, after its worker's own part, and the
        // speeds plan parts computed all at once (tabs of one machine share
        // its cores); and only the copies that win are seen.
        let measured = match (role, &answer) {
            (Role::Holder(index), Answer::Result(_))
                if task.work > 0 && !task.leases[index].backup =>
            {
                let held = now.saturating_duration_since(task.leases[index].started_at);
                Some(task.work as f64 / held.as_secs_f64())
            }
            _ => None,
        };
        if stands {
            self.room_for(&answer, now, changes)?;
            if let (Some(sample), Some(worker)) = (measured, worker.as_ref()) {
                self.workers.learn_speed(client, worker, sample);
            }
            let view = self.settle_answer(
                id,
                answer,
                worker.as_ref(),
                Some(client),
                verified,
                now,
                changes,
            );
            return Ok(Outcome::Applied(view.ok_or(QueueError::NotFound)?));
        }
        match (role, worker) {
            (Role::Former, Some(worker)) if task.provisional.is_none() => {
                self.room_for(&answer, now, changes)?;
                self.keep_aside(id, answer, worker, client, changes)
            }
            _ => Ok(Outcome::Ignored(task.view(id))),
        }
    }

    /// The worker a poster that holds no live lease answers as: the id it
    /// gave, or the last holder's for a former holder that gave none.
    pub(super) fn poster_worker(
        &self,
        task: &super::task::Task,
        poster: &Poster,
        role: Role,
    ) -> Option<WorkerId> {
        poster.worker.clone().or_else(|| match role {
            Role::Former => task.last_holder.as_ref().map(|h| h.worker.clone()),
            _ => None,
        })
    }

    /// Keeps a former holder's answer aside while another lease is live.
    fn keep_aside(
        &mut self,
        id: TaskId,
        answer: Answer,
        worker: WorkerId,
        client: ClientKey,
        changes: &mut Changes,
    ) -> Result<Outcome, QueueError> {
        let task = self.tasks.get_mut(&id).ok_or(QueueError::NotFound)?;
        self.held_bytes += answer.held_bytes();
        changes.push(Change::Kept {
            id,
            part: task.part_of,
            worker: worker.clone(),
        });
        task.provisional = Some(Box::new(Provisional {
            answer,
            worker,
            client,
        }));
        Ok(Outcome::Kept(task.view(id)))
    }

    /// Makes room for holding `answer`'s bytes.
    ///
    /// # Errors
    ///
    /// [`QueueError::ResultTooLarge`] when they are more than the queue may
    /// hold at all; [`QueueError::FullBytes`] when there is no room now.
    pub(super) fn room_for(
        &mut self,
        answer: &Answer,
        now: Instant,
        changes: &mut Changes,
    ) -> Result<(), QueueError> {
        let bytes = answer.held_bytes();
        if bytes > self.limits.max_held_bytes {
            return Err(QueueError::ResultTooLarge {
                bytes,
                limit: self.limits.max_held_bytes,
            });
        }
        self.make_room(0, bytes, now, changes)
    }

    /// Settles task `id` with `answer`: a result completes it (a part's
    /// split task counts one more part), an error fails it. `worker` of
    /// address `client` is credited (a `verified` result proves it).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn settle_answer(
        &mut self,
        id: TaskId,
        answer: Answer,
        worker: Option<&WorkerId>,
        client: Option<ClientKey>,
        verified: bool,
        now: Instant,
        changes: &mut Changes,
    ) -> Option<TaskView> {
        match answer {
            Answer::Result(result) => {
                let part_of = self.tasks.get(&id)?.part_of;
                let view = self.settle(
                    id,
                    TaskStatus::Completed,
                    Some(result.clone()),
                    None,
                    worker,
                    now,
                )?;
                if let (Some(worker), Some(client)) = (worker, client) {
                    self.workers.credit_completed(client, worker, verified, now);
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
                Some(view)
            }
            Answer::Error(error) => {
                let view = self.mark_failed(id, error, worker, now, changes)?;
                if let (Some(worker), Some(client)) = (worker, client) {
                    self.workers.count_failed(client, worker, Some(now));
                }
                Some(view)
            }
        }
    }

    /// Records that a result for task `id` failed its check. From the
    /// holder: the rejection counts against the worker (benched after
    /// repeated ones) and its address, the lease ends and the task goes
    /// back to the front of the queue with its attempt given back. From
    /// anyone else it changes nothing but the count of rejected results.
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] or [`QueueError::Expired`] for an unknown id.
    pub(crate) fn reject(
        &mut self,
        id: TaskId,
        poster: &Poster,
        reason: &str,
        now: Instant,
        changes: &mut Changes,
    ) -> Result<Rejection, QueueError> {
        let task = self.tasks.get(&id).ok_or_else(|| self.missing(id))?;
        let (role, status, part) = (task.role(poster), task.status, task.part_of);
        self.counters.rejected += 1;
        let Role::Holder(index) = role else {
            changes.push(Change::Rejected {
                id,
                part,
                worker: poster.worker.clone(),
                reason: Arc::from(reason),
                counted: false,
                benched: false,
            });
            return Ok(Rejection::Unchanged(status));
        };
        let (holder, number) = self.end_lease(id, index).ok_or(QueueError::NotFound)?;
        let benched = self
            .workers
            .count_rejection(holder.client, &holder.worker, now);
        changes.push(Change::Rejected {
            id,
            part,
            worker: Some(holder.worker),
            reason: Arc::from(reason),
            counted: true,
            benched,
        });
        self.give_attempt_back(id, number, RequeueReason::Rejected, now, changes);
        Ok(Rejection::Requeued)
    }

    /// Gives task `id` back from `poster` (a closing browser tab): its lease
    /// ends, the task goes to the front of the queue at once and the
    /// attempt is not counted. The worker then gets no task for
    /// [`super::RELEASE_PAUSE`].
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] or [`QueueError::Expired`] for an unknown id;
    /// [`QueueError::NotLeasedBy`] when `poster` does not hold the task.
    pub(crate) fn release(
        &mut self,
        id: TaskId,
        poster: &Poster,
        now: Instant,
        changes: &mut Changes,
    ) -> Result<(), QueueError> {
        let task = self.tasks.get(&id).ok_or_else(|| self.missing(id))?;
        let Role::Holder(index) = task.role(poster) else {
            return Err(QueueError::NotLeasedBy(id));
        };
        let (holder, number) = self.end_lease(id, index).ok_or(QueueError::NotFound)?;
        self.workers
            .note_release(holder.client, &holder.worker, now);
        self.give_attempt_back(id, number, RequeueReason::Released, now, changes);
        Ok(())
    }

    /// After lease `number` of task `id` ended by no fault of the task:
    /// gives its attempt back and puts the task back in the queue.
    fn give_attempt_back(
        &mut self,
        id: TaskId,
        number: u64,
        reason: RequeueReason,
        now: Instant,
        changes: &mut Changes,
    ) {
        let Some(task) = self.tasks.get_mut(&id) else {
            return;
        };
        task.attempts = task.attempts.saturating_sub(1);
        changes.push(Change::Requeued {
            id,
            part: task.part_of,
            lease: number,
            attempts: task.attempts,
            reason,
        });
        self.after_lease_end(id, now, changes);
    }
}
