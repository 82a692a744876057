//! The use cases on tasks kept in a shared Redis (`--redis URL`).
//!
//! Each transition reads the tasks it concerns, lets the queue decide on a
//! scratch queue that holds only those ([`crate::queue`]'s one-task
//! views), and writes the outcome back if no other coordinator changed
//! those tasks meanwhile; otherwise it decides again on what is there now.
//! A part of a split task is read with its split task and the split task's
//! other parts, so that completing the last part assembles the product in
//! the same write. The change record is then committed locally as for the
//! embedded store (log, metrics, local waiters); other coordinators learn
//! of it from what the write published ([`AppState::follow_shared`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::{AppState, UseCaseError};
use crate::check::TaskCheck;
use crate::queue::{Change, Changes, Clock, QueueError, TaskId, TaskQueue, TaskView};
use crate::store::shared::{Counts, Limits, PendingClaim, Read, SharedStore, Snapshot, Written};
use crate::store::{StoreError, Ticket};

/// How often a transition is decided again after other coordinators
/// changed its tasks first, before the request is answered 503.
const MAX_TRIES: usize = 64;

/// How far down the queue of pending ids a lease looks after losing a
/// race for the first one.
const HEAD_SPREAD: usize = 8;

/// How many expired leases, and finished tasks due, one tick handles.
const TICK_BATCH: usize = 256;

/// A lease being decided, counted while it is.
struct LeaseSlot<'a>(usize, &'a AtomicUsize);

impl<'a> LeaseSlot<'a> {
    fn take(leasing: &'a AtomicUsize) -> Self {
        Self(leasing.fetch_add(1, Ordering::Relaxed), leasing)
    }
}

impl Drop for LeaseSlot<'_> {
    fn drop(&mut self) {
        self.1.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What a transition concerns.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target {
    /// Task `id` (with its split task and siblings when it is a part, and
    /// its parts when it is split).
    Task(TaskId),
    /// The task at the head of the queue of pending ids.
    Head,
    /// A new task with this many parts.
    New {
        /// Its parts (0 for a task that is not split).
        parts: usize,
    },
}

impl Target {
    /// What a decision on it is called in the metrics: `task`, `lease`,
    /// `submit`.
    fn name(self) -> &'static str {
        match self {
            Self::Task(_) => "task",
            Self::Head => "lease",
            Self::New { .. } => "submit",
        }
    }
}

/// The wall clock and the monotonic one, now.
fn clock() -> Clock {
    Clock {
        now: Instant::now(),
        now_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    }
}

impl AppState {
    /// The shared store, when the tasks live in Redis.
    pub(super) fn shared(&self) -> Option<&Arc<SharedStore>> {
        self.inner.shared.as_ref()
    }

    /// Runs `op` on the queue: on the local queue under its lock (the
    /// ticket says when it is on disk), or on the tasks `target` names in
    /// the shared store, written back atomically (the ticket is ready).
    pub(super) async fn decide_on<T>(
        &self,
        target: Target,
        op: impl FnMut(&mut TaskQueue, &mut Changes) -> T,
    ) -> Result<(T, Changes, Ticket), UseCaseError> {
        self.decide_on_read(target, None, op).await
    }

    /// [`AppState::decide_on`], deciding first on `read`, the task as a
    /// use case read it a moment ago (when it is all the transition
    /// concerns), so that it is not read twice; a write that finds it
    /// changed since decides again on a fresh read.
    pub(super) async fn decide_on_read<T>(
        &self,
        target: Target,
        read: Option<Snapshot>,
        mut op: impl FnMut(&mut TaskQueue, &mut Changes) -> T,
    ) -> Result<(T, Changes, Ticket), UseCaseError> {
        let Some(shared) = self.shared().cloned() else {
            return Ok(self.decide(op));
        };
        let (out, changes) = self.decide_shared(&shared, target, read, &mut op).await?;
        // Other coordinators decide too: a task's completion may come here
        // before its submission through another one was seen, or without it.
        self.inner.metrics.observe_changes(&changes);
        Ok((out, changes, Ticket::ready()))
    }

    async fn decide_shared<T>(
        &self,
        shared: &SharedStore,
        target: Target,
        mut read: Option<Snapshot>,
        op: &mut impl FnMut(&mut TaskQueue, &mut Changes) -> T,
    ) -> Result<(T, Changes), UseCaseError> {
        // Leases decided here at the same time start at different places of
        // the queue's head, so that they do not all race for its first task.
        let slot = matches!(target, Target::Head).then(|| LeaseSlot::take(&self.inner.leasing));
        let mut offset = slot.as_ref().map_or(0, |slot| slot.0 % HEAD_SPREAD);
        // The head of the queue as a lease's write on a copy found it.
        let mut head_read: Option<Snapshot> = None;
        for tries in 0..MAX_TRIES {
            // A lease tries first the oldest task submitted here that is
            // pending as this coordinator wrote it: one round trip, whose
            // write checks that the task is still near the head of the
            // queue, behind none but tasks being leased here now, and
            // otherwise answers with the head, which the lease then takes.
            let mut claim = match (target, tries) {
                (Target::Head, 0) => shared.pending_copy(),
                _ => None,
            };
            let near_head = claim.as_ref().map(|claim| claim.near_head(HEAD_SPREAD));
            let copy = claim.as_mut().and_then(PendingClaim::take_snapshot);
            let alone = |s: &Snapshot| {
                s.tasks.len() == 1
                    && s.tasks
                        .iter()
                        .all(|t| t.part_of().is_none() && t.parts().is_empty())
            };
            let snapshot = match copy {
                Some(copy) => copy,
                None => match (target, read.take()) {
                    (Target::Task(_), Some(snapshot)) if alone(&snapshot) => snapshot,
                    (Target::Task(id), _) => self.read_family(shared, id, None).await?,
                    (Target::Head, _) => {
                        let head = match head_read.take() {
                            Some(head) => head,
                            None => shared.head(offset).await?,
                        };
                        match head.tasks.first() {
                            None if offset > 0 => {
                                // The queue is shorter now: look at its head.
                                offset = 0;
                                continue;
                            }
                            Some(read) if !read.exists() => {
                                shared.drop_stale(read.id).await?;
                                continue;
                            }
                            Some(read) if read.part_of().is_some() => {
                                let id = read.id;
                                self.read_family(shared, id, Some(id)).await?
                            }
                            _ => head,
                        }
                    }
                    (Target::New { parts }, _) => {
                        let ids = shared.take_ids(parts).await?;
                        // The first try goes by the held bytes and tasks last
                        // known here (the write bounds them exactly); a try
                        // after a refusal or a bound passed reads them.
                        let counts = if tries == 0 {
                            shared.held_known()
                        } else {
                            shared.held_now().await?
                        };
                        let max = self.config().max_tasks as u64;
                        if tries > 0 && counts.held_tasks + 1 + parts as u64 > max {
                            return Err(QueueError::Full(counts.held_tasks as usize).into());
                        }
                        Snapshot {
                            tasks: Vec::new(),
                            ids,
                            held_bytes: counts.held_bytes,
                            copied: tries == 0,
                        }
                    }
                },
            };
            let loaded = snapshot
                .tasks
                .iter()
                .filter_map(|read| shared.loaded(read, None))
                .collect();
            let mut changes = Changes::none();
            let (out, diffs, deltas, undo) = {
                let mut queue = self.queue();
                let scratch = queue.load(loaded, snapshot.ids, snapshot.held_bytes, clock());
                let (out, undo) = queue.recording_workers(|queue| op(queue, &mut changes));
                let (diffs, deltas) = queue.unload(scratch);
                (out, diffs, deltas, undo)
            };
            let woken = changes.pending_added();
            let limits = self.shared_limits();
            let written = match shared
                .write(&snapshot.tasks, &diffs, &deltas, woken, limits, near_head)
                .await
            {
                Ok(written) => written,
                Err(error) => {
                    // Most likely not written: the worker tables do not
                    // count it.
                    self.queue().undo_workers(undo);
                    return Err(error.into());
                }
            };
            self.inner.metrics.shared_write(
                target.name(),
                if snapshot.copied { "copy" } else { "read" },
                written.name(),
            );
            if let Some(claim) = &claim
                && matches!(written, Written::Unchanged | Written::Behind(_))
            {
                // Its copy still holds: this or another lease may take it.
                claim.put_back();
            }
            match written {
                Written::Changed => return Ok((out, changes)),
                Written::Unchanged if !snapshot.copied => return Ok((out, changes)),
                _ => {}
            }
            // What was decided does not stand: the worker tables do not
            // count it (the leases decided are not held, a rejection or a
            // credit is counted when the decision made again lands).
            self.queue().undo_workers(undo);
            match written {
                // A lease on a copy found other tasks first: it takes the
                // head instead, as the write read it.
                Written::Behind(head) => {
                    head_read = Some(head);
                    offset = 0;
                }
                // Another coordinator changed these tasks first: a lease
                // looks one place further.
                Written::Stale if matches!(target, Target::Head) && claim.is_none() => {
                    offset = (offset + 1) % HEAD_SPREAD;
                }
                // Decided on this coordinator's copy, which may be behind:
                // a decision to change nothing is made again on a read.
                _ => {}
            }
        }
        Err(UseCaseError::Busy(
            "Too many coordinators changed this task at once; try again".to_owned(),
        ))
    }

    /// Reads task `id` and, for a part, its split task and that one's other
    /// parts, or, for a split task, its parts; with the data of `data_of`.
    async fn read_family(
        &self,
        shared: &SharedStore,
        id: TaskId,
        data_of: Option<TaskId>,
    ) -> Result<Snapshot, StoreError> {
        let first = shared.read(&[id], data_of == Some(id)).await?;
        let Some(read) = first.tasks.first() else {
            return Ok(first);
        };
        let mut family = match read.part_of() {
            Some(split) => {
                let split_read = shared.read(&[split], false).await?;
                let mut ids = vec![split];
                if let Some(split_read) = split_read.tasks.first() {
                    ids.extend(split_read.parts());
                }
                ids
            }
            None => read.parts(),
        };
        if family.is_empty() {
            return Ok(first);
        }
        family.retain(|&other| other != id);
        family.insert(0, id);
        let mut snapshot = shared.read(&family, false).await?;
        if data_of.is_some() {
            // The part to hand out is read again with its data.
            let with_data = shared.read(&[id], true).await?;
            if let (Some(slot), Some(read)) = (snapshot.tasks.first_mut(), with_data.tasks.first())
            {
                *slot = read.clone();
            }
        }
        Ok(snapshot)
    }

    /// The check a result for task `id` must pass, from the shared store:
    /// prepared here before, or prepared now from the task's data.
    /// Returns the read too, for the transition that follows: this
    /// coordinator's copy of the task when `use_copy` and it has one
    /// ([`SharedStore::recent`]), else a fresh read.
    pub(super) async fn shared_check_for(
        &self,
        shared: &SharedStore,
        id: TaskId,
        use_copy: bool,
    ) -> Result<(Option<TaskCheck>, Snapshot), UseCaseError> {
        let copy = use_copy.then(|| shared.recent(id)).flatten();
        let snapshot = match copy {
            Some(copy) => copy,
            None => shared.read(&[id], false).await?,
        };
        let Some(read) = snapshot.tasks.first() else {
            return Err(QueueError::NotFound.into());
        };
        let data = shared.check_data(read).await?;
        let loaded = shared.loaded(read, data.as_ref()).into_iter().collect();
        let mut queue = self.queue();
        let scratch = queue.load(loaded, snapshot.ids, 0, clock());
        let check = queue.check_for(id);
        let _ = queue.unload(scratch);
        drop(queue);
        Ok((check?, snapshot))
    }

    /// Task `id` as the shared store has it (with its parts, for a split
    /// task), or as this coordinator completed it ([`SharedStore::completed_copy`]).
    pub(super) async fn shared_get(
        &self,
        shared: &SharedStore,
        id: TaskId,
    ) -> Result<TaskView, UseCaseError> {
        let snapshot = match shared.completed_copy(id) {
            Some(copy) => copy,
            None => self.read_family(shared, id, None).await?,
        };
        let loaded = snapshot
            .tasks
            .iter()
            .filter_map(|read| shared.loaded(read, None))
            .collect();
        let mut queue = self.queue();
        let scratch = queue.load(loaded, snapshot.ids, 0, clock());
        let view = queue.get(id);
        let _ = queue.unload(scratch);
        Ok(view?)
    }

    /// Keeps the checks of the tasks a submission here made, so that their
    /// results are checked here without preparing them again.
    pub(super) fn remember_checks(&self, changes: &Changes) {
        let Some(shared) = self.shared() else {
            return;
        };
        for change in changes {
            if let Change::Submitted {
                id,
                check: Some(check),
                ..
            }
            | Change::PartSubmitted {
                id,
                check: Some(check),
                ..
            } = change
            {
                shared.remember_check(*id, check);
            }
        }
    }

    /// The shared store's housekeeping: requeues the leases that expired
    /// (whichever coordinator handed them out; doing it twice changes
    /// nothing the second time), evicts finished tasks that are due, and
    /// reads the cluster's counters for the metrics.
    pub(super) async fn shared_tick(&self, shared: &SharedStore) -> Result<Changes, UseCaseError> {
        let now = clock();
        let mut all = Changes::none();
        let (expired, due) = shared.due(now.now_ms, TICK_BATCH).await?;
        for id in expired {
            let (_, changes, _) = self
                .decide_on(Target::Task(id), |queue, changes| {
                    queue.requeue_expired(Instant::now(), changes)
                })
                .await?;
            if changes.is_empty() && !self.shared_exists(shared, id).await? {
                shared.forget_deadlines(id, true).await?;
            }
            all.append(changes);
        }
        for id in due {
            let (_, changes, _) = self
                .decide_on(Target::Task(id), |queue, changes| {
                    queue.evict_finished(Instant::now(), changes)
                })
                .await?;
            if changes.is_empty() && !self.shared_exists(shared, id).await? {
                shared.forget_deadlines(id, false).await?;
            }
            all.append(changes);
        }
        let counts = shared.counts().await?;
        *self
            .inner
            .shared_counts
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = counts;
        Ok(all)
    }

    async fn shared_exists(&self, shared: &SharedStore, id: TaskId) -> Result<bool, StoreError> {
        let snapshot = shared.read(&[id], false).await?;
        Ok(snapshot.tasks.first().is_some_and(Read::exists))
    }

    /// The limits the cluster keeps, from this coordinator's settings.
    fn shared_limits(&self) -> Limits {
        let config = self.config();
        let held = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        Limits {
            max_held_bytes: held(config.max_held_bytes),
            max_tasks: held(config.max_tasks),
        }
    }

    /// Whether the store answers: always for the embedded one; a PING for
    /// a shared Redis.
    pub async fn store_reachable(&self) -> bool {
        match self.shared() {
            Some(shared) => shared.ping().await,
            None => true,
        }
    }

    /// The cluster's counters as of the last tick.
    pub(super) fn shared_counts(&self) -> Counts {
        *self
            .inner
            .shared_counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes local long polls from what other coordinators publish, for
    /// ever: one poll for tasks per task they made pending, the clients
    /// waiting on each task they changed, and everyone after the
    /// subscription was lost for a while.
    pub(crate) fn follow_shared(&self) {
        let Some(shared) = self.shared().cloned() else {
            return;
        };
        let (on, on_gap) = (self.clone(), self.clone());
        tokio::spawn(shared.follow(
            move |woken, ids| {
                for _ in 0..woken {
                    on.inner.task_available.notify_one();
                }
                for id in ids {
                    on.inner.result_waiters.announce(*id);
                }
            },
            move || {
                on_gap.inner.task_available.notify_waiters();
                on_gap.inner.result_waiters.announce_all();
            },
        ));
    }
}
