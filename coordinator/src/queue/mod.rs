//! The task state machine: every task's life from submission to eviction.
//!
//! A task is `Pending` (waiting in the queue), `Processing` (leased to a
//! worker until a deadline; a replicated task to several), `Completed` (holds its result, never
//! overwritten) or `Failed` (holds an error). This module is plain
//! synchronous Rust: no HTTP, no async, no clock. Every operation that
//! depends on time takes `now: Instant`, so tests drive leases and eviction
//! without sleeping. Every operation that changes something returns the
//! [`Changes`] it made, the one record that waking, logging and storing
//! read. Locking is the caller's job ([`crate::state`]).
//!
//! # Layout
//!
//! - `task`: one task, its id, status and snapshot ([`TaskView`]).
//! - `client`: who asks and answers: address keys, posters, askers.
//! - `lifecycle`: submitting, leasing, ending leases (expired, given back),
//!   settling, evicting.
//! - `answers`: results, error reports, rejections and give-backs, weighed
//!   by whether the poster holds the task.
//! - `quorum`: replicated tasks, whose answers are votes.
//! - `table`: the sharded table of tasks.
//! - `split_tasks`: split tasks and their parts: a split task completes
//!   when its last part does, with the parts' results joined.
//! - `workers`: workers seen, their speeds, rejections, bench and release
//!   pause.
//! - `speed`: measured speeds and the rules built on them: parts sized by
//!   speed, parts handed to the workers they fit, backup copies of parts
//!   whose holders straggle.
//! - `change`: the change record.
//!
//! # Complexity
//!
//! Tasks live boxed in hash maps keyed by id, in shards so that no growth
//! moves them all at once (`table`). The pending queue is a `VecDeque`
//! of ids (requeued tasks go to the front). Lease deadlines and eviction
//! deadlines go into FIFO deques: every lease has the same length and every
//! finished task is kept for the same time, so both deques are sorted by
//! deadline as they are pushed. Stale entries (a task completed while its id
//! still sits in a deque) are skipped when popped (lazy deletion), so every
//! operation is O(1) amortised, apart from submitting or finishing a split
//! task (O(parts)). Statistics are counters, never scans.

mod answers;
mod cancel;
mod change;
mod client;
mod lifecycle;
mod quorum;
mod restore;
mod shared;
mod speed;
mod split_tasks;
mod table;
mod task;
mod workers;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[cfg(test)]
use answers::Rejection;
#[cfg(test)]
use cancel::CANCELLED;
pub use change::{Change, Changes, RequeueReason};
pub(crate) use client::Poster;
pub use client::{Asker, ClientKey};
pub(crate) use lifecycle::{NoLease, Outcome};
pub(crate) use restore::{RestoredFinish, RestoredKind, RestoredOutcome, RestoredTask};
pub(crate) use shared::{
    Answer, Clock, Deltas, FreshIds, LeaseState, Loaded, SplitData, TaskDiff, TaskState,
};
pub(crate) use speed::{Crew, SplitPace, part_cost};
pub(crate) use split_tasks::NewPart;
pub(crate) use split_tasks::assemble;
pub(crate) use task::FIRST_PART_ID;
pub(crate) use task::{Holder, Provisional, Vote};
pub use task::{Lease, PartPlace, PartRef, PartView, PartsProgress, TaskId, TaskStatus, TaskView};
pub(crate) use workers::{
    DEFAULT_BENCH_TIME, DEFAULT_MAX_LEASES_PER_CLIENT, DEFAULT_REJECT_LIMIT, RejectPolicy,
};
pub use workers::{RELEASE_PAUSE, WORKER_SEEN_WINDOW, WorkerId, WorkerStats};

use crate::check::TaskCheck;
use crate::shared_text::SharedText;
use table::TaskTable;
use task::Task;
use workers::Workers;

/// The limits the queue enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueLimits {
    /// How long a worker holds a task before it goes back to the queue.
    pub lease: Duration,
    /// How many times a task is handed out before it fails for good.
    pub max_attempts: u32,
    /// Most tasks held at once, in any state.
    pub max_tasks: usize,
    /// Most bytes of task data, results and errors held at once.
    pub max_held_bytes: usize,
    /// How long a finished task is kept before it is evicted (finished
    /// tasks older than [`PRESSURE_KEEP_FLOOR`] go sooner, oldest first,
    /// when a new task or result needs their room).
    pub keep_finished: Duration,
    /// Bytes counted for each task held on top of its text: what the
    /// queue's own records of it take ([`TASK_OVERHEAD_BYTES`]).
    pub task_overhead_bytes: usize,
    /// Whether parts go to workers by their measured speeds, with backup
    /// copies of straggling parts (`speed`); `false` hands parts out in
    /// order, one copy each (the equal split of `--equal-parts`).
    pub by_speed: bool,
}

/// A finished task is kept at least this long (or its keep time, if
/// shorter) before a submission or a result that needs room evicts it:
/// long enough for the client that waits on it to read it.
pub const PRESSURE_KEEP_FLOOR: Duration = Duration::from_secs(60);

/// What one task costs the queue beyond its text, in bytes, as counted in
/// `heldBytes`: its entry in the task table (an id and a pointer, at the
/// table's worst load, half full), the boxed task and its allocation
/// header, the shared-text and body headers around its data (three
/// allocations), and its places in the queue of pending ids and of
/// finished ones.
pub const TASK_OVERHEAD_BYTES: usize = 2 * std::mem::size_of::<(TaskId, Box<Task>)>()
    + std::mem::size_of::<Task>()
    + 16
    + 3 * 16
    + 32
    + 48
    + 3 * 16
    + 24;

/// Why a queue operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// No task with this id was ever submitted.
    #[error("Task not found")]
    NotFound,
    /// The task finished and was evicted after the keep time.
    #[error("Task result expired")]
    Expired,
    /// The queue holds [`QueueLimits::max_tasks`] tasks.
    #[error("Queue is full ({0} tasks held)")]
    Full(usize),
    /// Accepting the task would hold more than [`QueueLimits::max_held_bytes`].
    #[error("Queue is full ({0} bytes held)")]
    FullBytes(usize),
    /// A result larger than every byte the queue may hold.
    #[error("Result of {bytes} bytes is larger than the {limit} bytes the coordinator may hold")]
    ResultTooLarge {
        /// The result's bytes.
        bytes: usize,
        /// [`QueueLimits::max_held_bytes`].
        limit: usize,
    },
    /// The task is not leased to the client that asked.
    #[error("Task {0} is not leased to this client")]
    NotLeasedBy(TaskId),
    /// The task was split into parts: results are taken per part.
    #[error("Task {0} is split into parts; post the results of its parts")]
    SplitTask(TaskId),
    /// The task is completed: there is nothing left to cancel.
    #[error("Task {0} is already completed")]
    AlreadyCompleted(TaskId),
    /// Every id between the client ids and [`FIRST_PART_ID`] is taken, so no
    /// more split tasks can be made (after about two billion tasks).
    #[error("No task ids left for the parts of a split task")]
    PartIdsExhausted,
    /// The store has not yet made durable room for the ids this task needs
    /// ([`TaskQueue::ids_to_reserve`]).
    #[error("Task ids are being reserved; try again")]
    IdsNotReserved,
}

/// The task ids a store has made durable room for: client ids below
/// `client_below` and part ids above `parts_above`. Ids are only handed out
/// inside the window, so that after a crash no id is given out twice, even
/// one a worker saw before the task's own record was on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct IdWindow {
    /// Client ids below this are reserved.
    pub(crate) client_below: u64,
    /// Part ids above this are reserved.
    pub(crate) parts_above: u64,
}

/// How many ids of each kind a reservation adds.
const ID_BLOCK: u64 = 1 << 16;

/// A task to add, as [`TaskQueue::submit`] takes it.
#[derive(Debug, Clone)]
pub(crate) enum NewTask {
    /// One task that workers compute as it is.
    One {
        /// The task data, handed back verbatim to the worker that leases it.
        data: SharedText,
        /// What every result is checked against.
        check: Option<TaskCheck>,
    },
    /// A split task: the client's data, kept for reference, and its parts,
    /// queued in order.
    Split {
        /// What the client sent.
        data: SharedText,
        /// The parts, in row order.
        parts: Vec<NewPart>,
        /// The crew its parts were sized for, when its speeds were
        /// measured.
        pace: Option<SplitPace>,
    },
}

impl NewTask {
    /// How many parts it has (0 for a task that is not split).
    pub(crate) fn parts(&self) -> usize {
        match self {
            Self::One { .. } => 0,
            Self::Split { parts, .. } => parts.len(),
        }
    }

    /// A task with no check.
    #[cfg(test)]
    pub(crate) fn unchecked(data: impl Into<SharedText>) -> Self {
        Self::One {
            data: data.into(),
            check: None,
        }
    }
}

/// Counters for `GET /stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Tasks ever submitted.
    pub total_tasks: u64,
    /// Tasks ever completed.
    pub completed_tasks: u64,
    /// Tasks ever failed (and not completed later by a late result).
    pub failed_tasks: u64,
    /// Tasks processing now.
    pub active_tasks: u64,
    /// Tasks pending now.
    pub queue_size: u64,
    /// Times a task went back to the queue after its lease expired.
    pub requeued_tasks: u64,
    /// Results that failed verification.
    pub rejected_results: u64,
    /// Tasks held now, in any state.
    pub held_tasks: u64,
    /// Bytes of data, results and errors held now.
    pub held_bytes: u64,
    /// Workers seen within [`WORKER_SEEN_WINDOW`], sorted by id.
    pub workers: Vec<WorkerStats>,
    /// Backup copies of parts handed out.
    pub backups: u64,
    /// Results for tasks already completed, from workers that held them
    /// (the losing copy of a backed-up part, a lease that expired): taken
    /// and ignored.
    pub late_results: u64,
}

#[derive(Debug, Clone, Copy)]
struct LeaseEntry {
    expires_at: Instant,
    id: TaskId,
    /// The lease's number among the task's leases.
    number: u64,
}

#[derive(Debug, Default)]
struct Counters {
    /// Tasks (and parts) submitted, plus the ones restored from a store.
    submitted: u64,
    completed: u64,
    failed: u64,
    requeued: u64,
    pending: u64,
    processing: u64,
    rejected: u64,
    backups: u64,
    late_results: u64,
}

impl Counters {
    /// Moves one task's count from status `from` to status `to`.
    fn moved(&mut self, from: TaskStatus, to: TaskStatus) {
        *self.slot(from) -= 1;
        *self.slot(to) += 1;
    }

    fn slot(&mut self, status: TaskStatus) -> &mut u64 {
        match status {
            TaskStatus::Pending => &mut self.pending,
            TaskStatus::Processing => &mut self.processing,
            TaskStatus::Completed => &mut self.completed,
            TaskStatus::Failed => &mut self.failed,
        }
    }
}

/// All tasks and the queue of pending ones. See the module docs.
#[derive(Debug)]
pub(crate) struct TaskQueue {
    limits: QueueLimits,
    tasks: TaskTable,
    pending: VecDeque<TaskId>,
    leases: VecDeque<LeaseEntry>,
    finished: VecDeque<(Instant, TaskId)>,
    next_id: u64,
    /// The id the next part of a split task gets (counts down).
    next_part_id: u64,
    held_bytes: usize,
    counters: Counters,
    workers: Workers,
    /// The ids reserved in a store; `None` when every id may be used (no
    /// store to reserve them in).
    ids: Option<IdWindow>,
    /// Split tasks in submission order, that may still be open (finished
    /// ones are skipped when met): where backup copies are looked for.
    open_splits: VecDeque<TaskId>,
}

impl TaskQueue {
    /// An empty queue enforcing `limits`, benching workers by `policy`.
    pub(crate) fn new(limits: QueueLimits, policy: RejectPolicy) -> Self {
        Self {
            limits,
            tasks: TaskTable::default(),
            pending: VecDeque::new(),
            leases: VecDeque::new(),
            finished: VecDeque::new(),
            next_id: 1,
            next_part_id: FIRST_PART_ID,
            held_bytes: 0,
            counters: Counters::default(),
            workers: Workers::new(policy),
            ids: None,
            open_splits: VecDeque::new(),
        }
    }

    /// The window of ids to reserve before a task with `parts` parts can
    /// be submitted, when the reserved one is running out; `None` when no
    /// reservation is needed.
    pub(crate) fn ids_to_reserve(&self, parts: usize) -> Option<IdWindow> {
        let window = self.ids?;
        let parts = parts as u64;
        let client_room = window.client_below.saturating_sub(self.next_id);
        let part_room = self
            .next_part_id
            .saturating_sub(window.parts_above)
            .saturating_sub(parts);
        if client_room > ID_BLOCK / 2 && part_room > ID_BLOCK / 2 {
            return None;
        }
        let middle = self.next_id + (self.next_part_id - self.next_id) / 2;
        Some(IdWindow {
            client_below: (self.next_id + ID_BLOCK).min(middle),
            parts_above: self
                .next_part_id
                .saturating_sub(ID_BLOCK + parts)
                .max(middle),
        })
    }

    /// Hands out ids only inside `window` (widened to it when a window is
    /// already set).
    pub(crate) fn reserve_ids(&mut self, window: IdWindow) {
        self.ids = Some(match self.ids {
            None => window,
            Some(old) => IdWindow {
                client_below: old.client_below.max(window.client_below),
                parts_above: old.parts_above.min(window.parts_above),
            },
        });
    }

    /// Whether a task with `parts` parts gets ids inside the reserved window.
    fn ids_reserved_for(&self, parts: usize) -> bool {
        self.ids.is_none_or(|window| {
            self.next_id < window.client_below
                && self.next_part_id.saturating_sub(parts as u64) >= window.parts_above
        })
    }

    /// A snapshot of task `id`; for a split task, with its parts
    /// ([`TaskView::part_list`]).
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] when it was never submitted,
    /// [`QueueError::Expired`] when it was evicted.
    pub(crate) fn get(&self, id: TaskId) -> Result<TaskView, QueueError> {
        let task = self.tasks.get(&id).ok_or_else(|| self.missing(id))?;
        let mut view = task.view(id);
        view.part_list = self.part_views(task);
        Ok(view)
    }

    /// The check a result for task `id` must pass, if it has one and is not
    /// completed yet (a result for a completed task changes nothing), or is
    /// a part with a backup copy: the losing copy's late result is checked
    /// too, so that a wrong one is rejected and counted against its worker
    /// like any other.
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] or [`QueueError::Expired`] for an unknown id.
    pub(crate) fn check_for(&self, id: TaskId) -> Result<Option<TaskCheck>, QueueError> {
        let task = self.tasks.get(&id).ok_or_else(|| self.missing(id))?;
        Ok(task
            .check
            .clone()
            .filter(|_| task.status != TaskStatus::Completed || task.backed_up))
    }

    /// Workers seen within [`WORKER_SEEN_WINDOW`] (as of the last tick,
    /// which forgets the others), plus benched ones.
    #[cfg(test)]
    pub(crate) fn workers_seen(&self) -> usize {
        self.workers.len()
    }

    /// The workers likely to take the parts of a task submitted at `now`,
    /// with their measured speeds. O(workers tracked).
    pub(crate) fn crew(&self, now: Instant) -> Crew {
        self.workers.crew(now)
    }

    /// Whether `worker` of `client` is benched at `now`.
    #[cfg(test)]
    pub(crate) fn is_benched(&self, client: ClientKey, worker: &WorkerId, now: Instant) -> bool {
        self.workers.is_benched(client, worker, now)
    }

    /// How much longer `worker` (of an unknown address) gets no task
    /// because it gave one back ([`RELEASE_PAUSE`]); `None` when it is not
    /// paused.
    #[cfg(test)]
    pub(crate) fn release_pause_left(&self, worker: &WorkerId, now: Instant) -> Option<Duration> {
        self.workers
            .release_pause_left(ClientKey::Unknown, worker, now)
    }

    /// The counters and the recently seen workers.
    pub(crate) fn stats(&self, now: Instant) -> Stats {
        Stats {
            total_tasks: self.counters.submitted,
            completed_tasks: self.counters.completed,
            failed_tasks: self.counters.failed,
            active_tasks: self.counters.processing,
            queue_size: self.counters.pending,
            requeued_tasks: self.counters.requeued,
            rejected_results: self.counters.rejected,
            held_tasks: self.tasks.len() as u64,
            held_bytes: self.held_bytes as u64,
            workers: self.workers.stats(now),
            backups: self.counters.backups,
            late_results: self.counters.late_results,
        }
    }

    /// The error for an id that is not held: expired if it was given out.
    fn missing(&self, id: TaskId) -> QueueError {
        let was_client_task = id.0 > 0 && id.0 < self.next_id;
        let was_part = id.0 > self.next_part_id && id.0 <= FIRST_PART_ID;
        if was_client_task || was_part {
            QueueError::Expired
        } else {
            QueueError::NotFound
        }
    }

    /// If holding `tasks` more tasks and `bytes` more bytes (each task's
    /// overhead added) would pass a limit, evicts what is due, then finished
    /// tasks older than [`PRESSURE_KEEP_FLOOR`], oldest first, until they
    /// fit; refuses if they still do not.
    fn make_room(
        &mut self,
        tasks: usize,
        bytes: usize,
        now: Instant,
        changes: &mut Changes,
    ) -> Result<(), QueueError> {
        let bytes = bytes + tasks * self.limits.task_overhead_bytes;
        let fits = move |queue: &Self| {
            queue.tasks.len() + tasks <= queue.limits.max_tasks
                && queue.held_bytes + bytes <= queue.limits.max_held_bytes
        };
        if !fits(self) {
            self.evict_finished(now, changes);
        }
        if !fits(self) {
            // Finished at least the floor ago: kept until `now + keep - floor`.
            let keep = self.limits.keep_finished;
            let due = now + keep.saturating_sub(PRESSURE_KEEP_FLOOR.min(keep));
            self.evict_finished_until(due, &fits, changes);
        }
        if self.tasks.len() + tasks > self.limits.max_tasks {
            return Err(QueueError::Full(self.tasks.len()));
        }
        if self.held_bytes + bytes > self.limits.max_held_bytes {
            return Err(QueueError::FullBytes(self.held_bytes));
        }
        Ok(())
    }

    /// Stores a new task under the next client id (not queued) and counts
    /// its bytes.
    fn insert(&mut self, task: Task) -> TaskId {
        let id = TaskId(self.next_id);
        self.next_id += 1;
        self.hold(id, task);
        id
    }

    /// Stores a new part of a split task under the next part id (not
    /// queued) and counts its bytes.
    fn insert_part(&mut self, task: Task) -> TaskId {
        let id = TaskId(self.next_part_id);
        self.next_part_id -= 1;
        self.hold(id, task);
        id
    }

    /// Whether `parts` more part ids fit between the client ids and the part
    /// ids given out so far (with room for the next client id).
    fn has_part_ids_for(&self, parts: usize) -> bool {
        self.next_part_id.saturating_sub(self.next_id) > parts as u64
    }

    fn hold(&mut self, id: TaskId, task: Task) {
        self.counters.submitted += 1;
        self.held_bytes += task.held_bytes() + self.limits.task_overhead_bytes;
        self.tasks.insert(id, task);
    }

    /// Removes task `id` and its bytes.
    fn drop_task(&mut self, id: TaskId) -> Option<Task> {
        let task = self.tasks.remove(&id)?;
        self.held_bytes -= task.held_bytes() + self.limits.task_overhead_bytes;
        Some(task)
    }
}

#[cfg(test)]
mod tests;
