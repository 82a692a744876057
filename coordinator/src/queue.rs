//! The task state machine: every task's life from submission to eviction.
//!
//! A task is `Pending` (waiting in the queue), `Processing` (leased to one
//! worker until a deadline), `Completed` (holds its result, never
//! overwritten) or `Failed` (holds an error). This module is plain
//! synchronous Rust: no HTTP, no async, no clock. Every operation that
//! depends on time takes `now: Instant`, so tests drive leases and eviction
//! without sleeping. Locking, waking long polls and the periodic tick are the
//! caller's job ([`crate::state`]).
//!
//! A large product may be a *split task*: it answers `Processing` until its
//! parts (ordinary tasks, each a row block) are done and assembled, and it
//! counts among the processing tasks meanwhile. Tasks may carry a check that
//! every result must pass; a result that fails is rejected, the task goes
//! back to the front of the queue and the worker is counted, and benched
//! after repeated rejections. Both live in the `parts` submodule.
//!
//! # Complexity
//!
//! Tasks live in a `HashMap` keyed by id. The pending queue is a `VecDeque`
//! of ids (requeued tasks go to the front). Lease deadlines and eviction
//! deadlines go into FIFO deques: every lease has the same length and every
//! finished task is kept for the same time, so both deques are sorted by
//! deadline as they are pushed. Stale entries (a task completed while its id
//! still sits in a deque) are skipped when popped (lazy deletion), so every
//! operation is O(1) amortised. Statistics are counters, never scans.

mod parts;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use parts::{
    DEFAULT_BENCH_TIME, DEFAULT_REJECT_LIMIT, PartSpec, PartsProgress, ReadyParent, RejectPolicy,
    Rejection, TaskCheck,
};
use parts::{PartOf, SplitState};

use crate::task_data::TaskData;

/// How long a worker counts as "seen recently" in [`Stats`].
pub const WORKER_SEEN_WINDOW: Duration = Duration::from_secs(60);

/// At most this many workers are tracked for [`Stats::workers`]; workers not
/// seen within [`WORKER_SEEN_WINDOW`] are forgotten on [`TaskQueue::tick`].
pub const MAX_TRACKED_WORKERS: usize = 1024;

/// After a worker gives a task back ([`TaskQueue::release`]) it is given no
/// task for this long. A worker that releases is going away (its tab is
/// closing, or it was stopped), and a long poll it opened before may still
/// be waiting here after the page abandoned it: without the pause, the task
/// it just gave back would go straight to that dead poll and sit there for a
/// whole lease.
pub const RELEASE_PAUSE: Duration = Duration::from_secs(2);

/// Worker ids longer than this many bytes are cut to it.
pub const MAX_WORKER_ID_BYTES: usize = 128;

/// The id of the first part of a split task; later parts count down from
/// it. Client tasks count up from 1, so their ids stay 1, 2, 3, ... as the
/// contract says, however many parts the coordinator makes. It is the
/// largest Dana `int` under `-chip 32`, so every id fits a 32-bit worker.
pub const FIRST_PART_ID: u64 = i32::MAX as u64;

/// A task's id: a positive integer. Tasks clients submit count up from 1;
/// parts of split tasks count down from [`FIRST_PART_ID`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub u64);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

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

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Waiting in the queue for a worker.
    Pending,
    /// Leased to a worker until its lease expires.
    Processing,
    /// Finished with a result; the result is never overwritten.
    Completed,
    /// Finished without a result: a worker reported an error, or every
    /// attempt's lease expired.
    Failed,
}

impl TaskStatus {
    /// The contract's wire string: `"pending"`, `"processing"`, `"completed"`
    /// or `"failed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    /// The status named by its wire string.
    pub fn from_wire(text: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Processing,
            Self::Completed,
            Self::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }

    /// Completed or failed: it changes no more.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// The limits the queue enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// How long a worker holds a task before it goes back to the queue.
    pub lease: Duration,
    /// How many times a task is handed out before it fails for good.
    pub max_attempts: u32,
    /// Most tasks held at once, in any state.
    pub max_tasks: usize,
    /// Most bytes of task data, results and errors held at once.
    pub max_held_bytes: usize,
    /// How long a finished task is kept before it is evicted.
    pub keep_finished: Duration,
}

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
    /// The task is not processing, or is leased to another worker.
    #[error("Task {0} is not processing by this worker")]
    NotLeasedBy(TaskId),
    /// The task was split into parts: results are taken per part.
    #[error("Task {0} is split into parts; post the results of its parts")]
    SplitTask(TaskId),
    /// Every id between the client ids and [`FIRST_PART_ID`] is taken, so no
    /// more split tasks can be made (after about two billion tasks).
    #[error("No task ids left for the parts of a split task")]
    PartIdsExhausted,
}

pub use crate::result_text::ResultText;

/// A task handed to a worker by [`TaskQueue::lease_next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The task's id.
    pub id: TaskId,
    /// The task data as JSON text, ready to be written into an answer.
    pub data: TaskData,
    /// How many times the task has been handed out, this time included.
    pub attempts: u32,
}

/// A snapshot of one task, for answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskView {
    /// The task's id.
    pub id: TaskId,
    /// Its state.
    pub status: TaskStatus,
    /// Its result text once completed.
    pub result: Option<ResultText>,
    /// The reason it failed.
    pub last_error: Option<Arc<str>>,
    /// The worker that holds it, or that finished it.
    pub leased_by: Option<WorkerId>,
    /// How many times it has been handed out.
    pub attempts: u32,
    /// For a split task: how many of its parts are done.
    pub parts: Option<PartsProgress>,
    /// For a part of a split task: the split task.
    pub part_of: Option<TaskId>,
}

/// What [`TaskQueue::complete`] and [`TaskQueue::fail`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The task changed state as asked.
    Applied(TaskView),
    /// The task was already completed; nothing changed.
    AlreadyCompleted(TaskView),
    /// The task had already failed and an error changes nothing.
    AlreadyFailed(TaskView),
}

impl Outcome {
    /// The task as it is now.
    pub fn view(&self) -> &TaskView {
        match self {
            Self::Applied(view) | Self::AlreadyCompleted(view) | Self::AlreadyFailed(view) => view,
        }
    }
}

/// What one [`TaskQueue::tick`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Tasks whose lease expired and that went back to the queue.
    pub requeued: Vec<TaskId>,
    /// Tasks whose lease expired on their last attempt and that failed.
    pub failed: Vec<TaskId>,
    /// Finished tasks evicted.
    pub evicted: usize,
}

/// One worker's line in [`Stats::workers`].
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
}

#[derive(Debug)]
struct Task {
    data: TaskData,
    status: TaskStatus,
    attempts: u32,
    /// Bumped on every lease so stale lease-deque entries are recognised.
    lease_generation: u64,
    leased_by: Option<WorkerId>,
    lease_expires_at: Option<Instant>,
    result: Option<ResultText>,
    last_error: Option<Arc<str>>,
    evict_at: Option<Instant>,
    /// What every result for this task is checked against.
    check: Option<TaskCheck>,
    /// For a part: the split task it belongs to.
    part_of: Option<PartOf>,
    /// For a split task: its parts and their results.
    split: Option<Box<SplitState>>,
}

impl Task {
    /// A task that is pending and has never been handed out.
    fn new(data: TaskData, check: Option<TaskCheck>) -> Self {
        Self {
            data,
            status: TaskStatus::Pending,
            attempts: 0,
            lease_generation: 0,
            leased_by: None,
            lease_expires_at: None,
            result: None,
            last_error: None,
            evict_at: None,
            check,
            part_of: None,
            split: None,
        }
    }

    fn held_bytes(&self) -> usize {
        self.data.own_len()
            + self.result.as_ref().map_or(0, |r| r.len())
            + self.last_error.as_ref().map_or(0, |e| e.len())
    }

    fn view(&self, id: TaskId) -> TaskView {
        TaskView {
            id,
            status: self.status,
            result: self.result.clone(),
            last_error: self.last_error.clone(),
            leased_by: self.leased_by.clone(),
            attempts: self.attempts,
            parts: self.split.as_ref().map(|split| split.progress()),
            part_of: self.part_of.map(|part| part.parent),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct LeaseEntry {
    expires_at: Instant,
    id: TaskId,
    generation: u64,
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

#[derive(Debug, Default)]
struct Counters {
    completed: u64,
    failed: u64,
    requeued: u64,
    pending: u64,
    processing: u64,
    rejected: u64,
}

/// All tasks and the queue of pending ones. See the module docs.
#[derive(Debug)]
pub struct TaskQueue {
    limits: QueueLimits,
    tasks: HashMap<TaskId, Task>,
    pending: VecDeque<TaskId>,
    leases: VecDeque<LeaseEntry>,
    finished: VecDeque<(Instant, TaskId)>,
    next_id: u64,
    /// The id the next part of a split task gets (counts down).
    next_part_id: u64,
    held_bytes: usize,
    counters: Counters,
    workers: HashMap<WorkerId, WorkerRecord>,
    reject_policy: RejectPolicy,
    /// Split tasks whose parts are all done, waiting to be assembled.
    ready: Vec<ReadyParent>,
}

impl TaskQueue {
    /// An empty queue enforcing `limits`.
    pub fn new(limits: QueueLimits) -> Self {
        Self {
            limits,
            tasks: HashMap::new(),
            pending: VecDeque::new(),
            leases: VecDeque::new(),
            finished: VecDeque::new(),
            next_id: 1,
            next_part_id: FIRST_PART_ID,
            held_bytes: 0,
            counters: Counters::default(),
            workers: HashMap::new(),
            reject_policy: RejectPolicy::default(),
            ready: Vec::new(),
        }
    }

    /// The limits this queue enforces.
    pub fn limits(&self) -> QueueLimits {
        self.limits
    }

    /// Adds a pending task at the back of the queue. `data` is the task data
    /// as JSON text, handed back verbatim to the worker that leases it.
    ///
    /// # Errors
    ///
    /// [`QueueError::Full`] or [`QueueError::FullBytes`] when holding the task
    /// would pass a limit (after evicting what is due at `now`).
    pub fn submit(
        &mut self,
        data: impl Into<TaskData>,
        now: Instant,
    ) -> Result<TaskId, QueueError> {
        self.submit_checked(data, None, now)
    }

    /// As [`TaskQueue::submit`], with the check every result must pass
    /// (see [`TaskQueue::check_for`]).
    ///
    /// # Errors
    ///
    /// As [`TaskQueue::submit`].
    pub fn submit_checked(
        &mut self,
        data: impl Into<TaskData>,
        check: Option<TaskCheck>,
        now: Instant,
    ) -> Result<TaskId, QueueError> {
        let data = data.into();
        self.make_room(1, data.len(), now)?;
        let id = self.insert(Task::new(data, check));
        self.pending.push_back(id);
        self.counters.pending += 1;
        Ok(id)
    }

    /// Evicts what is due if holding `tasks` more tasks of `bytes` more
    /// bytes would pass a limit, then refuses if it still would.
    fn make_room(&mut self, tasks: usize, bytes: usize, now: Instant) -> Result<(), QueueError> {
        let fits = |queue: &Self| {
            queue.tasks.len() + tasks <= queue.limits.max_tasks
                && queue.held_bytes + bytes <= queue.limits.max_held_bytes
        };
        if !fits(self) {
            self.evict_finished(now);
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
        self.store(id, task);
        id
    }

    /// Stores a new part of a split task under the next part id (not
    /// queued) and counts its bytes.
    fn insert_part(&mut self, task: Task) -> TaskId {
        let id = TaskId(self.next_part_id);
        self.next_part_id -= 1;
        self.store(id, task);
        id
    }

    /// Whether `parts` more part ids fit between the client ids and the part
    /// ids given out so far (with room for the next client id).
    fn has_part_ids_for(&self, parts: usize) -> bool {
        self.next_part_id.saturating_sub(self.next_id) > parts as u64
    }

    fn store(&mut self, id: TaskId, task: Task) {
        self.held_bytes += task.held_bytes();
        self.tasks.insert(id, task);
    }

    /// Hands the first pending task to `worker` for one lease. `None` when
    /// nothing is pending. Call [`TaskQueue::requeue_expired`] first so that
    /// expired leases are handed out again at once.
    pub fn lease_next(&mut self, worker: &WorkerId, now: Instant) -> Option<Lease> {
        self.touch_worker(worker, now);
        if self.is_benched(worker, now) || self.release_pause_left(worker, now).is_some() {
            return None;
        }
        while let Some(id) = self.pending.pop_front() {
            let Some(task) = self.tasks.get_mut(&id) else {
                continue;
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
            self.counters.pending -= 1;
            self.counters.processing += 1;
            return Some(Lease {
                id,
                data: task.data.clone(),
                attempts: task.attempts,
            });
        }
        None
    }

    /// Stores `result` for task `id` and marks it completed, unless it is
    /// completed already (then nothing changes: results are immutable).
    /// Accepted in any other state, so a result that arrives after the lease
    /// expired is not wasted. `worker` is the poster when known; otherwise
    /// the task's last lease holder is credited.
    ///
    /// The result of a part of a split task is also kept for the split
    /// task; when every part is done the split task waits in
    /// [`TaskQueue::take_ready`] to be assembled.
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] or [`QueueError::Expired`] for an unknown id;
    /// [`QueueError::SplitTask`] for a split task that is not completed
    /// (its result is assembled from its parts).
    pub fn complete(
        &mut self,
        id: TaskId,
        result: ResultText,
        worker: Option<&WorkerId>,
        now: Instant,
    ) -> Result<Outcome, QueueError> {
        if let Some(task) = self.tasks.get(&id)
            && task.split.is_some()
            && task.status != TaskStatus::Completed
        {
            return Err(QueueError::SplitTask(id));
        }
        let outcome = self.complete_task(id, result, worker, now)?;
        if let Outcome::Applied(view) = &outcome
            && let Some(part_of) = self.tasks.get(&id).and_then(|task| task.part_of)
            && let Some(result) = &view.result
        {
            self.record_part(part_of, result.clone());
        }
        Ok(outcome)
    }

    /// Completes any task, split ones included.
    fn complete_task(
        &mut self,
        id: TaskId,
        result: ResultText,
        worker: Option<&WorkerId>,
        now: Instant,
    ) -> Result<Outcome, QueueError> {
        let keep = self.limits.keep_finished;
        let Some(task) = self.tasks.get_mut(&id) else {
            return Err(self.missing(id));
        };
        let previous = task.status;
        if previous == TaskStatus::Completed {
            return Ok(Outcome::AlreadyCompleted(task.view(id)));
        }
        match previous {
            TaskStatus::Pending => self.counters.pending -= 1,
            TaskStatus::Processing => self.counters.processing -= 1,
            TaskStatus::Failed => self.counters.failed -= 1,
            TaskStatus::Completed => {}
        }
        self.counters.completed += 1;
        self.held_bytes -= task.held_bytes();
        task.status = TaskStatus::Completed;
        task.result = Some(result);
        task.last_error = None;
        task.lease_expires_at = None;
        if let Some(worker) = worker {
            task.leased_by = Some(worker.clone());
        }
        self.held_bytes += task.held_bytes();
        let evict_at = now + keep;
        task.evict_at = Some(evict_at);
        self.finished.push_back((evict_at, id));
        let view = task.view(id);
        if let Some(credited) = view.leased_by.clone() {
            self.credit(&credited, now, true);
        }
        Ok(Outcome::Applied(view))
    }

    /// Marks task `id` failed with `error`, as a worker's error answer does.
    /// A completed task stays completed; a failed one keeps its first error.
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] or [`QueueError::Expired`] for an unknown id.
    pub fn fail(
        &mut self,
        id: TaskId,
        error: Arc<str>,
        worker: Option<&WorkerId>,
        now: Instant,
    ) -> Result<Outcome, QueueError> {
        let Some(task) = self.tasks.get(&id) else {
            return Err(self.missing(id));
        };
        match task.status {
            TaskStatus::Completed => return Ok(Outcome::AlreadyCompleted(task.view(id))),
            TaskStatus::Failed => return Ok(Outcome::AlreadyFailed(task.view(id))),
            TaskStatus::Pending | TaskStatus::Processing => {}
        }
        let view = self.mark_failed(id, error, worker, now);
        if let Some(credited) = view.as_ref().and_then(|v| v.leased_by.clone()) {
            self.credit(&credited, now, false);
        }
        view.map(Outcome::Applied).ok_or(QueueError::NotFound)
    }

    /// Gives task `id` back from `worker` (a closing browser tab): it goes to
    /// the front of the queue at once and the attempt is not counted. The
    /// worker then gets no task for [`RELEASE_PAUSE`].
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] or [`QueueError::Expired`] for an unknown id;
    /// [`QueueError::NotLeasedBy`] when the task is not processing by `worker`.
    pub fn release(
        &mut self,
        id: TaskId,
        worker: &WorkerId,
        now: Instant,
    ) -> Result<(), QueueError> {
        let Some(task) = self.tasks.get_mut(&id) else {
            return Err(self.missing(id));
        };
        if task.status != TaskStatus::Processing || task.leased_by.as_ref() != Some(worker) {
            return Err(QueueError::NotLeasedBy(id));
        }
        task.status = TaskStatus::Pending;
        task.attempts = task.attempts.saturating_sub(1);
        task.leased_by = None;
        task.lease_expires_at = None;
        self.pending.push_front(id);
        self.counters.processing -= 1;
        self.counters.pending += 1;
        self.touch_worker(worker, now);
        if let Some(record) = self.workers.get_mut(worker) {
            record.released_at = Some(now);
        }
        Ok(())
    }

    /// How much longer `worker` gets no task because it gave one back
    /// ([`RELEASE_PAUSE`]); `None` when it is not paused.
    pub fn release_pause_left(&self, worker: &WorkerId, now: Instant) -> Option<Duration> {
        let released_at = self.workers.get(worker)?.released_at?;
        let left = (released_at + RELEASE_PAUSE).saturating_duration_since(now);
        (!left.is_zero()).then_some(left)
    }

    /// Puts every task whose lease expired by `now` back at the front of the
    /// queue with its attempt counted, or fails it when it has had
    /// [`QueueLimits::max_attempts`] attempts.
    pub fn requeue_expired(&mut self, now: Instant) -> TickReport {
        let mut report = TickReport::default();
        while let Some(entry) = self.leases.front().copied() {
            if entry.expires_at > now {
                break;
            }
            self.leases.pop_front();
            let Some(task) = self.tasks.get_mut(&entry.id) else {
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
                self.mark_failed(entry.id, error, None, now);
                report.failed.push(entry.id);
            } else {
                task.status = TaskStatus::Pending;
                task.leased_by = None;
                task.lease_expires_at = None;
                self.pending.push_front(entry.id);
                self.counters.processing -= 1;
                self.counters.pending += 1;
                self.counters.requeued += 1;
                report.requeued.push(entry.id);
            }
            if let Some(holder) = holder
                && let Some(record) = self.workers.get_mut(&holder)
            {
                record.tasks_failed += 1;
            }
        }
        report
    }

    /// Evicts finished tasks kept for [`QueueLimits::keep_finished`] by `now`;
    /// returns how many.
    pub fn evict_finished(&mut self, now: Instant) -> usize {
        let mut evicted = 0;
        while let Some(&(evict_at, id)) = self.finished.front() {
            if evict_at > now {
                break;
            }
            self.finished.pop_front();
            let due = self
                .tasks
                .get(&id)
                .is_some_and(|task| task.status.is_finished() && task.evict_at == Some(evict_at));
            if due && let Some(task) = self.tasks.remove(&id) {
                self.held_bytes -= task.held_bytes();
                evicted += 1;
            }
        }
        evicted
    }

    /// The periodic housekeeping: requeues expired leases, evicts finished
    /// tasks and forgets workers not seen within [`WORKER_SEEN_WINDOW`].
    pub fn tick(&mut self, now: Instant) -> TickReport {
        let mut report = self.requeue_expired(now);
        report.evicted = self.evict_finished(now);
        // Benched workers are remembered until their bench time ends.
        self.workers.retain(|_, record| {
            now.saturating_duration_since(record.last_seen) < WORKER_SEEN_WINDOW
                || record.benched_until.is_some_and(|until| until > now)
        });
        report
    }

    /// A snapshot of task `id`.
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] when it was never submitted,
    /// [`QueueError::Expired`] when it was evicted.
    pub fn get(&self, id: TaskId) -> Result<TaskView, QueueError> {
        self.tasks
            .get(&id)
            .map(|task| task.view(id))
            .ok_or_else(|| self.missing(id))
    }

    /// The split task that task `id` is a part of, if it is one.
    pub fn parent_of(&self, id: TaskId) -> Option<TaskId> {
        self.tasks
            .get(&id)
            .and_then(|task| task.part_of)
            .map(|part| part.parent)
    }

    /// The counters and the recently seen workers.
    pub fn stats(&self, now: Instant) -> Stats {
        let mut workers: Vec<WorkerStats> = self
            .workers
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
        workers.sort_by(|a, b| a.id.cmp(&b.id));
        Stats {
            total_tasks: (self.next_id - 1) + (FIRST_PART_ID - self.next_part_id),
            completed_tasks: self.counters.completed,
            failed_tasks: self.counters.failed,
            active_tasks: self.counters.processing,
            queue_size: self.counters.pending,
            requeued_tasks: self.counters.requeued,
            rejected_results: self.counters.rejected,
            held_tasks: self.tasks.len() as u64,
            held_bytes: self.held_bytes as u64,
            workers,
        }
    }

    fn missing(&self, id: TaskId) -> QueueError {
        let was_client_task = id.0 > 0 && id.0 < self.next_id;
        let was_part = id.0 > self.next_part_id && id.0 <= FIRST_PART_ID;
        if was_client_task || was_part {
            QueueError::Expired
        } else {
            QueueError::NotFound
        }
    }

    /// Moves a pending or processing task to failed; returns its view.
    fn mark_failed(
        &mut self,
        id: TaskId,
        error: Arc<str>,
        worker: Option<&WorkerId>,
        now: Instant,
    ) -> Option<TaskView> {
        let keep = self.limits.keep_finished;
        let task = self.tasks.get_mut(&id)?;
        match task.status {
            TaskStatus::Pending => self.counters.pending -= 1,
            TaskStatus::Processing => self.counters.processing -= 1,
            TaskStatus::Completed | TaskStatus::Failed => return Some(task.view(id)),
        }
        self.counters.failed += 1;
        self.held_bytes -= task.held_bytes();
        task.status = TaskStatus::Failed;
        task.last_error = Some(error);
        task.lease_expires_at = None;
        if let Some(worker) = worker {
            task.leased_by = Some(worker.clone());
        }
        self.held_bytes += task.held_bytes();
        let evict_at = now + keep;
        task.evict_at = Some(evict_at);
        self.finished.push_back((evict_at, id));
        let view = task.view(id);
        if let Some(part_of) = task.part_of {
            self.fail_split(part_of, id, now);
        }
        Some(view)
    }

    fn touch_worker(&mut self, worker: &WorkerId, now: Instant) {
        if let Some(record) = self.workers.get_mut(worker) {
            record.last_seen = now;
        } else if self.workers.len() < MAX_TRACKED_WORKERS {
            self.workers.insert(
                worker.clone(),
                WorkerRecord {
                    tasks_completed: 0,
                    tasks_failed: 0,
                    last_seen: now,
                    results_rejected: 0,
                    rejections_in_a_row: 0,
                    benched_until: None,
                    released_at: None,
                },
            );
        }
    }

    fn credit(&mut self, worker: &WorkerId, now: Instant, completed: bool) {
        self.touch_worker(worker, now);
        if let Some(record) = self.workers.get_mut(worker) {
            if completed {
                record.tasks_completed += 1;
                record.rejections_in_a_row = 0;
            } else {
                record.tasks_failed += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const LEASE: Duration = Duration::from_secs(60);
    const KEEP: Duration = Duration::from_secs(3600);

    fn limits() -> QueueLimits {
        QueueLimits {
            lease: LEASE,
            max_attempts: 3,
            max_tasks: 100,
            max_held_bytes: 1 << 20,
            keep_finished: KEEP,
        }
    }

    fn data(text: &str) -> Arc<str> {
        Arc::from(text)
    }

    /// A result text.
    fn text(text: &str) -> ResultText {
        text.into()
    }

    fn worker(name: &str) -> WorkerId {
        WorkerId::from_param(Some(name))
    }

    fn status(queue: &TaskQueue, id: TaskId) -> TaskStatus {
        queue.get(id).unwrap().status
    }

    #[test]
    fn ids_start_at_one_and_grow_by_one() {
        let mut queue = TaskQueue::new(limits());
        let now = Instant::now();
        assert_eq!(queue.submit(data("1"), now).unwrap(), TaskId(1));
        assert_eq!(queue.submit(data("2"), now).unwrap(), TaskId(2));
        assert_eq!(queue.submit(data("3"), now).unwrap(), TaskId(3));
    }

    #[test]
    fn submitted_task_is_pending_with_empty_result() {
        let mut queue = TaskQueue::new(limits());
        let id = queue.submit(data("{}"), Instant::now()).unwrap();
        let view = queue.get(id).unwrap();
        assert_eq!(view.status, TaskStatus::Pending);
        assert_eq!(view.result, None);
        assert_eq!(view.attempts, 0);
    }

    #[test]
    fn lease_hands_out_tasks_in_submission_order() {
        let mut queue = TaskQueue::new(limits());
        let now = Instant::now();
        let a = queue.submit(data("\"a\""), now).unwrap();
        let b = queue.submit(data("\"b\""), now).unwrap();
        let first = queue.lease_next(&worker("w"), now).unwrap();
        let second = queue.lease_next(&worker("w"), now).unwrap();
        assert_eq!((first.id, first.data.to_text()), (a, "\"a\"".into()));
        assert_eq!((second.id, second.data.to_text()), (b, "\"b\"".into()));
        assert_eq!(queue.lease_next(&worker("w"), now), None);
    }

    #[test]
    fn leased_task_is_processing_by_its_worker() {
        let mut queue = TaskQueue::new(limits());
        let now = Instant::now();
        let id = queue.submit(data("1"), now).unwrap();
        let lease = queue.lease_next(&worker("w1"), now).unwrap();
        assert_eq!(lease.attempts, 1);
        let view = queue.get(id).unwrap();
        assert_eq!(view.status, TaskStatus::Processing);
        assert_eq!(view.leased_by, Some(worker("w1")));
        let stats = queue.stats(now);
        assert_eq!((stats.active_tasks, stats.queue_size), (1, 0));
    }

    #[test]
    fn result_completes_a_processing_task() {
        let mut queue = TaskQueue::new(limits());
        let now = Instant::now();
        let id = queue.submit(data("1"), now).unwrap();
        queue.lease_next(&worker("w"), now).unwrap();
        let outcome = queue.complete(id, text("[[1]]"), None, now).unwrap();
        assert!(matches!(outcome, Outcome::Applied(_)));
        let view = queue.get(id).unwrap();
        assert_eq!(view.status, TaskStatus::Completed);
        assert_eq!(
            view.result.as_ref().map(|r| r.to_string()).as_deref(),
            Some("[[1]]")
        );
        assert_eq!(view.leased_by, Some(worker("w")));
        let stats = queue.stats(now);
        assert_eq!((stats.completed_tasks, stats.active_tasks), (1, 0));
        assert_eq!(stats.workers[0].tasks_completed, 1);
    }

    #[test]
    fn second_result_does_not_overwrite_first() {
        let mut queue = TaskQueue::new(limits());
        let now = Instant::now();
        let id = queue.submit(data("1"), now).unwrap();
        queue.lease_next(&worker("w"), now).unwrap();
        queue.complete(id, text("first"), None, now).unwrap();
        let outcome = queue.complete(id, text("second"), None, now).unwrap();
        assert!(matches!(outcome, Outcome::AlreadyCompleted(_)));
        assert_eq!(
            outcome
                .view()
                .result
                .as_ref()
                .map(|r| r.to_string())
                .as_deref(),
            Some("first")
        );
        assert_eq!(
            queue
                .get(id)
                .unwrap()
                .result
                .as_ref()
                .map(|r| r.to_string())
                .as_deref(),
            Some("first")
        );
        assert_eq!(queue.stats(now).completed_tasks, 1);
    }

    #[test]
    fn expired_lease_is_requeued_at_the_front() {
        let mut queue = TaskQueue::new(limits());
        let t0 = Instant::now();
        let a = queue.submit(data("1"), t0).unwrap();
        let b = queue.submit(data("2"), t0).unwrap();
        queue.lease_next(&worker("slow"), t0).unwrap();
        let report = queue.requeue_expired(t0 + LEASE - Duration::from_millis(1));
        assert!(report.requeued.is_empty());
        assert_eq!(status(&queue, a), TaskStatus::Processing);

        let report = queue.requeue_expired(t0 + LEASE);
        assert_eq!(report.requeued, vec![a]);
        assert_eq!(status(&queue, a), TaskStatus::Pending);
        let next = queue.lease_next(&worker("fast"), t0 + LEASE).unwrap();
        assert_eq!(next.id, a, "a requeued task goes before {b}");
        assert_eq!(next.attempts, 2);
        let stats = queue.stats(t0 + LEASE / 2);
        assert_eq!(stats.requeued_tasks, 1);
        let slow = stats
            .workers
            .iter()
            .find(|w| w.id == worker("slow"))
            .unwrap();
        assert_eq!(slow.tasks_failed, 1);
    }

    #[test]
    fn task_fails_after_max_attempts() {
        let mut queue = TaskQueue::new(limits());
        let mut now = Instant::now();
        let id = queue.submit(data("1"), now).unwrap();
        for attempt in 1..=3 {
            let lease = queue.lease_next(&worker("w"), now).unwrap();
            assert_eq!(lease.attempts, attempt);
            now += LEASE;
            queue.requeue_expired(now);
        }
        let view = queue.get(id).unwrap();
        assert_eq!(view.status, TaskStatus::Failed);
        assert!(view.last_error.unwrap().contains("3 attempts"));
        assert_eq!(queue.lease_next(&worker("w"), now), None);
        let stats = queue.stats(now);
        assert_eq!((stats.failed_tasks, stats.requeued_tasks), (1, 2));
        assert_eq!((stats.queue_size, stats.active_tasks), (0, 0));
    }

    #[test]
    fn late_result_after_requeue_is_accepted() {
        let mut queue = TaskQueue::new(limits());
        let t0 = Instant::now();
        let id = queue.submit(data("1"), t0).unwrap();
        queue.lease_next(&worker("slow"), t0).unwrap();
        queue.requeue_expired(t0 + LEASE);
        assert_eq!(status(&queue, id), TaskStatus::Pending);
        let outcome = queue
            .complete(id, text("late"), Some(&worker("slow")), t0 + LEASE)
            .unwrap();
        assert!(matches!(outcome, Outcome::Applied(_)));
        assert_eq!(status(&queue, id), TaskStatus::Completed);
        // The stale queue entry is skipped, nothing is handed out twice.
        assert_eq!(queue.lease_next(&worker("w"), t0 + LEASE), None);
        let stats = queue.stats(t0 + LEASE);
        assert_eq!(
            (stats.queue_size, stats.active_tasks, stats.completed_tasks),
            (0, 0, 1)
        );
    }

    #[test]
    fn late_result_while_another_worker_holds_the_task_is_accepted() {
        let mut queue = TaskQueue::new(limits());
        let t0 = Instant::now();
        let id = queue.submit(data("1"), t0).unwrap();
        queue.lease_next(&worker("slow"), t0).unwrap();
        queue.requeue_expired(t0 + LEASE);
        queue.lease_next(&worker("fast"), t0 + LEASE).unwrap();
        queue.complete(id, text("late"), None, t0 + LEASE).unwrap();
        assert_eq!(status(&queue, id), TaskStatus::Completed);
        // The second worker's lease entry is stale and does nothing.
        let report = queue.requeue_expired(t0 + LEASE * 3);
        assert!(report.requeued.is_empty() && report.failed.is_empty());
        assert_eq!(queue.stats(t0).active_tasks, 0);
    }

    #[test]
    fn late_result_completes_a_task_failed_by_expiry() {
        let mut queue = TaskQueue::new(QueueLimits {
            max_attempts: 1,
            ..limits()
        });
        let t0 = Instant::now();
        let id = queue.submit(data("1"), t0).unwrap();
        queue.lease_next(&worker("w"), t0).unwrap();
        queue.requeue_expired(t0 + LEASE);
        assert_eq!(status(&queue, id), TaskStatus::Failed);
        queue.complete(id, text("ok"), None, t0 + LEASE).unwrap();
        let view = queue.get(id).unwrap();
        assert_eq!(view.status, TaskStatus::Completed);
        assert_eq!(view.last_error, None);
        let stats = queue.stats(t0);
        assert_eq!((stats.failed_tasks, stats.completed_tasks), (0, 1));
    }

    #[test]
    fn error_result_fails_the_task() {
        let mut queue = TaskQueue::new(limits());
        let now = Instant::now();
        let id = queue.submit(data("1"), now).unwrap();
        queue.lease_next(&worker("w"), now).unwrap();
        let outcome = queue.fail(id, data("ragged matrix"), None, now).unwrap();
        assert!(matches!(outcome, Outcome::Applied(_)));
        let view = queue.get(id).unwrap();
        assert_eq!(view.status, TaskStatus::Failed);
        assert_eq!(view.last_error.as_deref(), Some("ragged matrix"));
        let stats = queue.stats(now);
        assert_eq!((stats.failed_tasks, stats.active_tasks), (1, 0));
        assert_eq!(stats.workers[0].tasks_failed, 1);
        // A failed task's expired lease entry does nothing.
        assert!(queue.requeue_expired(now + LEASE).requeued.is_empty());
    }

    #[test]
    fn error_result_does_not_undo_a_completed_task() {
        let mut queue = TaskQueue::new(limits());
        let now = Instant::now();
        let id = queue.submit(data("1"), now).unwrap();
        queue.complete(id, text("ok"), None, now).unwrap();
        let outcome = queue.fail(id, data("boom"), None, now).unwrap();
        assert!(matches!(outcome, Outcome::AlreadyCompleted(_)));
        assert_eq!(status(&queue, id), TaskStatus::Completed);
    }

    #[test]
    fn second_error_keeps_the_first() {
        let mut queue = TaskQueue::new(limits());
        let now = Instant::now();
        let id = queue.submit(data("1"), now).unwrap();
        queue.fail(id, data("first"), None, now).unwrap();
        let outcome = queue.fail(id, data("second"), None, now).unwrap();
        assert!(matches!(outcome, Outcome::AlreadyFailed(_)));
        assert_eq!(queue.get(id).unwrap().last_error.as_deref(), Some("first"));
        assert_eq!(queue.stats(now).failed_tasks, 1);
    }

    #[test]
    fn result_for_a_pending_task_completes_it() {
        let mut queue = TaskQueue::new(limits());
        let now = Instant::now();
        let id = queue.submit(data("1"), now).unwrap();
        queue.complete(id, text("r"), None, now).unwrap();
        assert_eq!(status(&queue, id), TaskStatus::Completed);
        assert_eq!(queue.lease_next(&worker("w"), now), None);
        assert_eq!(queue.stats(now).queue_size, 0);
    }

    #[test]
    fn released_task_goes_to_the_front_without_counting_an_attempt() {
        let mut queue = TaskQueue::new(limits());
        let now = Instant::now();
        let a = queue.submit(data("1"), now).unwrap();
        queue.submit(data("2"), now).unwrap();
        queue.lease_next(&worker("tab"), now).unwrap();
        queue.release(a, &worker("tab"), now).unwrap();
        let view = queue.get(a).unwrap();
        assert_eq!((view.status, view.attempts), (TaskStatus::Pending, 0));
        let lease = queue.lease_next(&worker("other"), now).unwrap();
        assert_eq!((lease.id, lease.attempts), (a, 1));
        // The released lease's deadline does not requeue the new lease.
        assert!(queue.requeue_expired(now + LEASE / 2).requeued.is_empty());
        assert_eq!(status(&queue, a), TaskStatus::Processing);
    }

    #[test]
    fn a_worker_that_released_a_task_gets_none_for_the_release_pause() {
        let mut queue = TaskQueue::new(limits());
        let now = Instant::now();
        let id = queue.submit(data("1"), now).unwrap();
        queue.lease_next(&worker("tab"), now).unwrap();
        queue.release(id, &worker("tab"), now).unwrap();
        assert_eq!(
            queue.release_pause_left(&worker("tab"), now),
            Some(RELEASE_PAUSE)
        );
        // Its own (possibly abandoned) poll does not take the task back.
        assert_eq!(queue.lease_next(&worker("tab"), now), None);
        assert_eq!(status(&queue, id), TaskStatus::Pending);
        assert_eq!(queue.release_pause_left(&worker("other"), now), None);
        // After the pause it is served again.
        let later = now + RELEASE_PAUSE;
        assert_eq!(queue.release_pause_left(&worker("tab"), later), None);
        assert_eq!(queue.lease_next(&worker("tab"), later).unwrap().id, id);
    }

    #[test]
    fn release_by_another_worker_is_refused() {
        let mut queue = TaskQueue::new(limits());
        let now = Instant::now();
        let id = queue.submit(data("1"), now).unwrap();
        assert_eq!(
            queue.release(id, &worker("w"), now),
            Err(QueueError::NotLeasedBy(id))
        );
        queue.lease_next(&worker("owner"), now).unwrap();
        assert_eq!(
            queue.release(id, &worker("thief"), now),
            Err(QueueError::NotLeasedBy(id))
        );
        assert_eq!(status(&queue, id), TaskStatus::Processing);
        assert_eq!(
            queue.release(TaskId(99), &worker("w"), now),
            Err(QueueError::NotFound)
        );
    }

    #[test]
    fn unknown_ids_are_not_found() {
        let mut queue = TaskQueue::new(limits());
        let now = Instant::now();
        queue.submit(data("1"), now).unwrap();
        assert_eq!(queue.get(TaskId(0)), Err(QueueError::NotFound));
        assert_eq!(queue.get(TaskId(2)), Err(QueueError::NotFound));
        assert_eq!(
            queue.complete(TaskId(7), text("r"), None, now),
            Err(QueueError::NotFound)
        );
        assert_eq!(
            queue.fail(TaskId(7), data("e"), None, now),
            Err(QueueError::NotFound)
        );
    }

    #[test]
    fn finished_task_is_evicted_after_keep_time() {
        let mut queue = TaskQueue::new(limits());
        let t0 = Instant::now();
        let id = queue.submit(data("1"), t0).unwrap();
        let failed = queue.submit(data("2"), t0).unwrap();
        let open = queue.submit(data("3"), t0).unwrap();
        queue.complete(id, text("r"), None, t0).unwrap();
        queue.fail(failed, data("e"), None, t0).unwrap();
        assert_eq!(queue.tick(t0 + KEEP - Duration::from_millis(1)).evicted, 0);
        assert_eq!(queue.tick(t0 + KEEP).evicted, 2);
        assert_eq!(queue.get(id), Err(QueueError::Expired));
        assert_eq!(queue.get(failed), Err(QueueError::Expired));
        assert_eq!(status(&queue, open), TaskStatus::Pending);
        let stats = queue.stats(t0 + KEEP);
        assert_eq!((stats.held_tasks, stats.held_bytes), (1, 1));
        assert_eq!(stats.completed_tasks, 1, "counters survive eviction");
    }

    #[test]
    fn completing_a_failed_task_restarts_its_keep_time() {
        let mut queue = TaskQueue::new(limits());
        let t0 = Instant::now();
        let id = queue.submit(data("1"), t0).unwrap();
        queue.fail(id, data("e"), None, t0).unwrap();
        queue.complete(id, text("r"), None, t0 + KEEP / 2).unwrap();
        assert_eq!(queue.tick(t0 + KEEP).evicted, 0);
        assert_eq!(status(&queue, id), TaskStatus::Completed);
        assert_eq!(queue.tick(t0 + KEEP + KEEP / 2).evicted, 1);
    }

    #[test]
    fn full_queue_refuses_new_tasks() {
        let mut queue = TaskQueue::new(QueueLimits {
            max_tasks: 2,
            ..limits()
        });
        let now = Instant::now();
        queue.submit(data("1"), now).unwrap();
        let done = queue.submit(data("2"), now).unwrap();
        assert_eq!(queue.submit(data("3"), now), Err(QueueError::Full(2)));
        queue.complete(done, text("r"), None, now).unwrap();
        assert_eq!(queue.submit(data("3"), now), Err(QueueError::Full(2)));
        // Once the finished task is due for eviction there is room again.
        assert_eq!(queue.submit(data("3"), now + KEEP).unwrap(), TaskId(3));
    }

    #[test]
    fn byte_limit_refuses_new_tasks() {
        let mut queue = TaskQueue::new(QueueLimits {
            max_held_bytes: 10,
            ..limits()
        });
        let now = Instant::now();
        queue.submit(data("12345678"), now).unwrap();
        assert_eq!(
            queue.submit(data("123"), now),
            Err(QueueError::FullBytes(8))
        );
        assert_eq!(queue.submit(data("12"), now).unwrap(), TaskId(2));
    }

    #[test]
    fn stats_count_every_state() {
        let mut queue = TaskQueue::new(limits());
        let now = Instant::now();
        for i in 0..5 {
            queue.submit(data(&i.to_string()), now).unwrap();
        }
        let a = queue.lease_next(&worker("w"), now).unwrap().id;
        let b = queue.lease_next(&worker("w"), now).unwrap().id;
        queue.lease_next(&worker("w"), now).unwrap();
        queue.complete(a, text("r"), None, now).unwrap();
        queue.fail(b, data("e"), None, now).unwrap();
        let stats = queue.stats(now);
        assert_eq!(stats.total_tasks, 5);
        assert_eq!(stats.completed_tasks, 1);
        assert_eq!(stats.failed_tasks, 1);
        assert_eq!(stats.active_tasks, 1);
        assert_eq!(stats.queue_size, 2);
    }

    #[test]
    fn workers_not_seen_recently_are_forgotten() {
        let mut queue = TaskQueue::new(limits());
        let t0 = Instant::now();
        queue.lease_next(&worker("old"), t0);
        queue.lease_next(&worker("new"), t0 + WORKER_SEEN_WINDOW / 2);
        let later = t0 + WORKER_SEEN_WINDOW;
        queue.tick(later);
        let names: Vec<_> = queue
            .stats(later)
            .workers
            .into_iter()
            .map(|w| w.id)
            .collect();
        assert_eq!(names, vec![worker("new")]);
    }

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
