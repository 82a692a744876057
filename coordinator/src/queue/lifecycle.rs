//! The transitions of one task that time and workers asking drive:
//! submitted, leased, its leases ending (expired, given back, answered
//! wrongly), settled (completed or failed), evicted.
//!
//! Answers are in `answers` (and a replicated task's in `quorum`); this
//! file holds what every path shares: ending a lease, what happens to a
//! task whose lease ended ([`TaskQueue::after_lease_end`]), and settling.
//!
//! Every operation appends the transitions it made to the caller's
//! [`Changes`], also when it then refuses (a submission that evicted due
//! tasks to make room and still does not fit).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::change::{Change, Changes, RequeueReason};
use super::client::Asker;
use super::task::{Holder, Lease, LiveLease, Task, TaskId, TaskStatus, TaskView};
use super::workers::{HeldBack, WorkerId};
use super::{LeaseEntry, NewTask, QueueError, TaskQueue};
use crate::check::TaskCheck;
use crate::shared_text::SharedText;

/// How many pending tasks a worker may pass over, looking for one it may
/// take (a replicated task goes to distinct addresses), before it is told
/// nothing is pending for it.
const SKIP_LIMIT: usize = 32;

/// What [`TaskQueue::complete`] and [`TaskQueue::fail`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The task changed state as asked.
    Applied(TaskView),
    /// The answer was taken but does not settle the task yet: a former
    /// holder's answer kept while another lease is live, or a replicated
    /// task's vote waiting for others to agree.
    Kept(TaskView),
    /// The poster holds no lease of the task (and its answer proves
    /// nothing): nothing changed.
    Ignored(TaskView),
    /// The task was already completed; nothing changed.
    AlreadyCompleted(TaskView),
    /// The task had already failed and an error changes nothing.
    AlreadyFailed(TaskView),
}

impl Outcome {
    /// The task as it is now.
    pub(crate) fn view(&self) -> &TaskView {
        match self {
            Self::Applied(view)
            | Self::Kept(view)
            | Self::Ignored(view)
            | Self::AlreadyCompleted(view)
            | Self::AlreadyFailed(view) => view,
        }
    }
}

/// Why [`TaskQueue::lease_next`] handed out no task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoLease {
    /// Nothing is pending (that this worker may take).
    NonePending,
    /// Nothing is pending for this worker now, but after this long, if
    /// nothing changes before, a backup copy of a part may be worth handing
    /// it, or a part held back for faster workers may be its.
    NotYet(Duration),
    /// The worker is benched after repeated rejected results, or it is
    /// unproven and its address is.
    Benched,
    /// The worker gave a task back this long ago less than
    /// [`super::RELEASE_PAUSE`]; this is what is left of the pause.
    Paused(Duration),
    /// The workers of its address hold as many leases as one address may.
    LeaseCap,
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
    /// would pass a limit (after evicting what is due at `now`, then
    /// finished tasks oldest first); [`QueueError::PartIdsExhausted`] when
    /// no part ids are left.
    pub(crate) fn submit(
        &mut self,
        task: NewTask,
        now: Instant,
        changes: &mut Changes,
    ) -> Result<TaskId, QueueError> {
        match task {
            NewTask::One { data, check } => self.submit_one(data, check, now, changes),
            NewTask::Split { data, parts, pace } => {
                self.submit_split(data, parts, pace, now, changes)
            }
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
    /// task `asker` may take to it for one lease (the worker counts as seen
    /// either way). A replicated task that wants more leases stays at the
    /// front, for the next worker of another address.
    ///
    /// # Errors
    ///
    /// [`NoLease`] says why no task was handed out.
    pub(crate) fn lease_next(
        &mut self,
        asker: &Asker,
        now: Instant,
        changes: &mut Changes,
    ) -> Result<Lease, NoLease> {
        self.requeue_expired(now, changes);
        let client = self.workers.resolve(asker.client);
        let worker = &asker.worker;
        self.workers.touch(client, worker, now);
        let probation = match self.workers.may_lease(client, worker, now) {
            Ok(probation) => probation,
            Err(HeldBack::Benched) => return Err(NoLease::Benched),
            Err(HeldBack::Paused(left)) => return Err(NoLease::Paused(left)),
            Err(HeldBack::LeaseCap) => return Err(NoLease::LeaseCap),
        };
        let mut passed = Vec::new();
        // How long until a part held back from this worker is its to take.
        let mut held_back: Option<Duration> = None;
        let found = loop {
            let Some(id) = self.pending.pop_front() else {
                break None;
            };
            let Some(task) = self.tasks.get(&id) else {
                continue; // evicted while queued
            };
            if !task.wants_lease() || task.attempts >= self.attempt_limit(task) {
                continue; // leased, completed, or out of attempts while queued
            }
            if task.takeable_by(client) {
                // A part of a split task sized by speeds: the one that
                // fits this worker, or none while faster ones may take it.
                match self.fitting_part(id, client, worker, now) {
                    Ok(pick) if pick == id => break Some(id),
                    Ok(pick) => {
                        passed.push(id);
                        break Some(pick);
                    }
                    Err(left) => held_back = Some(held_back.map_or(left, |h| h.min(left))),
                }
            }
            passed.push(id);
            if passed.len() >= SKIP_LIMIT {
                break None;
            }
        };
        let holder = Holder {
            client,
            worker: asker.worker.clone(),
            tokened: asker.tokened,
            probation,
        };
        for id in passed.into_iter().rev() {
            self.pending.push_front(id);
        }
        if let Some(id) = found {
            return self
                .hand_out(id, holder, false, now, changes)
                .ok_or(NoLease::NonePending);
        }
        if probation || !self.limits.by_speed {
            return Err(NoLease::NonePending);
        }
        match self.backup_for(client, worker, now) {
            Ok(id) => self
                .hand_out(id, holder, true, now, changes)
                .ok_or(NoLease::NonePending),
            Err(due) => match (due, held_back) {
                (Some(a), Some(b)) => Err(NoLease::NotYet(a.min(b))),
                (Some(left), None) | (None, Some(left)) => Err(NoLease::NotYet(left)),
                (None, None) => Err(NoLease::NonePending),
            },
        }
    }

    /// Leases task `id` to `holder`; a `backup` copy of a part another
    /// worker holds counts no attempt.
    fn hand_out(
        &mut self,
        id: TaskId,
        holder: Holder,
        backup: bool,
        now: Instant,
        changes: &mut Changes,
    ) -> Option<Lease> {
        let expires_at = now + self.limits.lease;
        let task = self.tasks.get_mut(&id)?;
        if backup {
            task.backed_up = true;
            self.counters.backups += 1;
        } else {
            task.attempts += 1;
        }
        task.lease_generation += 1;
        let number = task.lease_generation;
        let (client, probation, worker) = (holder.client, holder.probation, holder.worker.clone());
        task.leases.push(LiveLease {
            number,
            holder,
            started_at: now,
            backup,
            answering: false,
        });
        task.leased_by = Some(worker.clone());
        let was = task.status;
        task.status = TaskStatus::Processing;
        let wants_more = task.wants_lease();
        let (part, attempts, data, work) =
            (task.part_of, task.attempts, task.data.clone(), task.work);
        self.counters.moved(was, TaskStatus::Processing);
        self.leases.push_back(LeaseEntry {
            expires_at,
            id,
            number,
        });
        self.workers.lease_started(client, probation);
        if wants_more {
            self.pending.push_front(id);
        }
        changes.push(Change::Leased {
            id,
            part,
            worker,
            lease: number,
            attempts,
            expires_at,
            work,
        });
        Some(Lease {
            id,
            data,
            attempts,
            part: part.and_then(|part_of| self.part_place(part_of)),
            number,
        })
    }

    /// How many hand-outs a task gets before it fails when its leases keep
    /// ending without an answer: `max_attempts`, times the replicas of a
    /// replicated task.
    pub(super) fn attempt_limit(&self, task: &Task) -> u32 {
        let replicas = task.quorum().map_or(1, |q| q.replicas);
        self.limits.max_attempts.saturating_mul(replicas)
    }

    /// Ends the live lease at `index` of task `id` without an answer that
    /// settles the task: the holder's address holds one lease less, and
    /// the holder is remembered as the task's last one. A backup copy,
    /// which counted no attempt when it was handed out, counts one now, as
    /// every lease that ends unanswered does (given back or rejected, the
    /// caller gives it back). Returns the holder and the lease's number.
    pub(super) fn end_lease(&mut self, id: TaskId, index: usize) -> Option<(Holder, u64)> {
        let task = self.tasks.get_mut(&id)?;
        if index >= task.leases.len() {
            return None;
        }
        let lease = task.leases.remove(index);
        if lease.backup {
            task.attempts += 1;
        }
        task.last_holder = Some(lease.holder.clone());
        task.leased_by = task.leases.last().map(|l| l.holder.worker.clone());
        self.workers
            .lease_ended(lease.holder.client, lease.holder.probation);
        Some((lease.holder, lease.number))
    }

    /// What happens to task `id` after one of its leases ended without
    /// settling it: nothing more while other leases are live (it is queued
    /// again if it wants another); with none left, a kept answer of a
    /// former holder settles it, a task out of attempts fails, and any
    /// other goes back to the front of the queue.
    pub(super) fn after_lease_end(&mut self, id: TaskId, now: Instant, changes: &mut Changes) {
        let Some(task) = self.tasks.get(&id) else {
            return;
        };
        if task.status.is_finished() {
            return;
        }
        let limit = self.attempt_limit(task);
        let out_of_attempts = task.attempts >= limit;
        if !task.leases.is_empty() {
            if task.wants_lease() && !out_of_attempts {
                self.pending.push_front(id);
            }
            return;
        }
        let error = out_of_attempts.then(|| match task.quorum() {
            Some(quorum) => format!(
                "No {} identical answers after {} attempts ({} answers, at most {} agreeing)",
                quorum.agree,
                task.attempts,
                task.votes.len(),
                task.best_agreement()
            ),
            None => format!(
                "No result after {} attempts: every lease of {} s expired",
                task.attempts,
                self.limits.lease.as_secs_f64()
            ),
        });
        let Some(task) = self.tasks.get_mut(&id) else {
            return;
        };
        if let Some(kept) = task.provisional.take() {
            self.held_bytes -= kept.answer.held_bytes();
            let (worker, client) = (Some(&kept.worker), Some(kept.client));
            self.settle_answer(id, kept.answer, worker, client, false, now, changes);
            return;
        }
        if let Some(error) = error {
            self.mark_failed(id, Arc::from(error), None, now, changes);
            return;
        }
        self.counters.moved(task.status, TaskStatus::Pending);
        task.status = TaskStatus::Pending;
        task.leased_by = None;
        self.pending.push_front(id);
    }

    /// Ends every lease expired by `now`: each one counts as an attempt of
    /// its task and a failure of its holder, and the task goes back to the
    /// front of the queue, fails after its last attempt, or takes a former
    /// holder's kept answer.
    pub(crate) fn requeue_expired(&mut self, now: Instant, changes: &mut Changes) {
        while let Some(entry) = self.leases.front().copied() {
            if entry.expires_at > now {
                break;
            }
            self.leases.pop_front();
            let Some(index) = self
                .tasks
                .get(&entry.id)
                .and_then(|task| task.leases.iter().position(|l| l.number == entry.number))
            else {
                continue; // answered, given back or settled before it expired
            };
            let Some((holder, number)) = self.end_lease(entry.id, index) else {
                continue;
            };
            self.workers
                .count_failed(holder.client, &holder.worker, None);
            let Some(task) = self.tasks.get(&entry.id) else {
                continue;
            };
            let settles = task.leases.is_empty()
                && (task.provisional.is_some() || task.attempts >= self.attempt_limit(task));
            if !settles {
                self.counters.requeued += 1;
            }
            changes.push(Change::Requeued {
                id: entry.id,
                part: task.part_of,
                lease: number,
                attempts: task.attempts,
                reason: RequeueReason::LeaseExpired,
            });
            self.after_lease_end(entry.id, now, changes);
        }
    }

    /// Evicts finished tasks kept for [`super::QueueLimits::keep_finished`]
    /// by `now`.
    pub(crate) fn evict_finished(&mut self, now: Instant, changes: &mut Changes) {
        self.evict_finished_until(now, &|_| false, changes);
    }

    /// Evicts finished tasks due by `due` (oldest first), stopping early
    /// once `enough(self)`.
    pub(super) fn evict_finished_until(
        &mut self,
        due: Instant,
        enough: &dyn Fn(&Self) -> bool,
        changes: &mut Changes,
    ) {
        while let Some(&(evict_at, id)) = self.finished.front() {
            if evict_at > due || enough(self) {
                break;
            }
            self.finished.pop_front();
            let kept = self
                .tasks
                .get(&id)
                .is_some_and(|task| task.status.is_finished() && task.evict_at == Some(evict_at));
            if kept && self.drop_task(id).is_some() {
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
    /// completes, `error` when it fails), ends its live leases and drops
    /// its waiting answers, credits `worker` as its holder when given, and
    /// schedules its eviction; returns its view.
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
        let work = if to == TaskStatus::Completed {
            task.work
        } else {
            0
        };
        // When the copy of the credited worker started, if it was live.
        let winner_started = task
            .leases
            .iter()
            .find(|l| worker.is_some_and(|w| *w == l.holder.worker))
            .map(|l| l.started_at);
        let mut lost_copy = false;
        for lease in task.leases.drain(..) {
            self.workers
                .lease_ended(lease.holder.client, lease.holder.probation);
            let lost = worker.is_some_and(|w| *w != lease.holder.worker);
            let straggled = winner_started.is_some_and(|started| lease.started_at <= started);
            if lost && straggled && work > 0 {
                // A copy started after this one won: this holder is at
                // most this fast.
                let held = now.saturating_duration_since(lease.started_at);
                self.workers
                    .censor_speed(lease.holder.client, &lease.holder.worker, work, held);
            }
            // Its holder's later answer is a former holder's (of a copy
            // that lost, when there was one: the winner answered).
            if lost || !lost_copy {
                task.last_holder = Some(lease.holder);
            }
            lost_copy |= lost;
        }
        task.provisional = None;
        task.votes = Vec::new();
        if let Some(worker) = worker {
            task.leased_by = Some(worker.clone());
        }
        task.evict_at = Some(evict_at);
        self.held_bytes += task.held_bytes();
        self.finished.push_back((evict_at, id));
        Some(task.view(id))
    }
}
