//! One task: its id, its status, what it holds, and the snapshot of it
//! that answers show.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use super::split_tasks::SplitState;
use super::workers::WorkerId;
use crate::check::TaskCheck;
use crate::shared_text::SharedText;

/// The id of the first part of a split task; later parts count down from
/// it. Client tasks count up from 1, so their ids stay 1, 2, 3, ... as the
/// contract says, however many parts the coordinator makes. It is the
/// largest Dana `int` under `-chip 32`, so every id fits a 32-bit worker.
pub(crate) const FIRST_PART_ID: u64 = i32::MAX as u64;

/// A task's id: a positive integer. Tasks clients submit count up from 1;
/// parts of split tasks count down from [`FIRST_PART_ID`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub u64);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a part belongs: its split task and its place among the parts, in
/// row order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartRef {
    /// The split task.
    pub split: TaskId,
    /// The part's place, from 0.
    pub index: usize,
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Waiting in the queue for a worker.
    Pending,
    /// Leased to a worker until its lease expires (or, for a split task,
    /// waiting for its parts).
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

/// A task handed to a worker by [`super::TaskQueue::lease_next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The task's id.
    pub id: TaskId,
    /// The task data as JSON text, ready to be written into an answer.
    pub data: SharedText,
    /// How many times the task has been handed out, this time included.
    pub attempts: u32,
    /// For a part of a split task: which split task, and where in it.
    pub part: Option<PartPlace>,
}

/// Where a part sits in its split task ("part 2 of 4 of task 14").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartPlace {
    /// The split task, the id its client knows.
    pub split: TaskId,
    /// The part's position in row order, from 0.
    pub index: usize,
    /// How many parts the split task has.
    pub total: usize,
}

/// One part of a split task as its client may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartView {
    /// The part's own task id.
    pub id: TaskId,
    /// Its state.
    pub status: TaskStatus,
    /// The worker that holds it, or that computed it.
    pub worker: Option<WorkerId>,
}

/// How far a split task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartsProgress {
    /// Parts with a result.
    pub done: usize,
    /// All parts.
    pub total: usize,
}

/// A snapshot of one task, for answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskView {
    /// The task's id.
    pub id: TaskId,
    /// Its state.
    pub status: TaskStatus,
    /// Its result text once completed.
    pub result: Option<SharedText>,
    /// The reason it failed.
    pub last_error: Option<Arc<str>>,
    /// The worker that holds it, or that finished it.
    pub leased_by: Option<WorkerId>,
    /// How many times it has been handed out.
    pub attempts: u32,
    /// For a split task: how many of its parts are done.
    pub parts: Option<PartsProgress>,
    /// For a part of a split task: the split task.
    pub split: Option<TaskId>,
    /// For a split task read with [`super::TaskQueue::get`]: its parts, in
    /// row order (`None` in the views that operations return).
    pub part_list: Option<Vec<PartView>>,
}

/// One task as the queue holds it.
#[derive(Debug)]
pub(super) struct Task {
    pub(super) data: SharedText,
    pub(super) status: TaskStatus,
    pub(super) attempts: u32,
    /// Bumped on every lease so stale lease-deque entries are recognised.
    pub(super) lease_generation: u64,
    pub(super) leased_by: Option<WorkerId>,
    pub(super) lease_expires_at: Option<Instant>,
    pub(super) result: Option<SharedText>,
    pub(super) last_error: Option<Arc<str>>,
    pub(super) evict_at: Option<Instant>,
    /// What every result for this task is checked against.
    pub(super) check: Option<TaskCheck>,
    /// For a part: the split task it belongs to.
    pub(super) part_of: Option<PartRef>,
    /// For a split task: its parts and their results.
    pub(super) split: Option<Box<SplitState>>,
    /// Cancelled by the client: failed for good.
    pub(super) cancelled: bool,
}

impl Task {
    /// A task that is pending and has never been handed out.
    pub(super) fn new(data: SharedText, check: Option<TaskCheck>) -> Self {
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
            cancelled: false,
        }
    }

    /// Bytes this task holds on its own (shared bytes counted once, by
    /// the task that owns them).
    pub(super) fn held_bytes(&self) -> usize {
        self.data.own_len()
            + self.result.as_ref().map_or(0, SharedText::own_len)
            + self.last_error.as_ref().map_or(0, |e| e.len())
    }

    /// The split task this task is a part of.
    pub(super) fn split_id(&self) -> Option<TaskId> {
        self.part_of.map(|part| part.split)
    }

    pub(super) fn view(&self, id: TaskId) -> TaskView {
        TaskView {
            id,
            status: self.status,
            result: self.result.clone(),
            last_error: self.last_error.clone(),
            leased_by: self.leased_by.clone(),
            attempts: self.attempts,
            parts: self.split.as_ref().map(|split| split.progress()),
            split: self.split_id(),
            part_list: None,
        }
    }
}
