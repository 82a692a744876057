//! One task: its id, its status, what it holds, and the snapshot of it
//! that answers show.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use super::client::{ClientKey, Poster};
use super::split_tasks::SplitState;
use super::workers::WorkerId;
use crate::check::{Quorum, TaskCheck};
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
    /// The lease's number (the task's leases count up from 1): what its
    /// token names.
    pub number: u64,
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

/// A worker's answer to a task: a result or an error report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The result text.
    Result(SharedText),
    /// The error it reported.
    Error(Arc<str>),
}

impl Answer {
    /// Bytes the answer holds.
    pub(super) fn held_bytes(&self) -> usize {
        match self {
            Self::Result(text) => text.own_len(),
            Self::Error(error) => error.len(),
        }
    }
}

/// One lease of a task that has not ended.
#[derive(Debug, Clone)]
pub(super) struct LiveLease {
    /// The lease's number: the task's leases count up from 1.
    pub(super) number: u64,
    /// Who holds it.
    pub(super) holder: Holder,
    /// When it was handed out.
    pub(super) started_at: Instant,
    /// Whether it is a backup copy of a part another worker holds (it
    /// counts an attempt only if it ends unanswered).
    pub(super) backup: bool,
    /// Whether its holder's answer is arriving now (see
    /// [`super::TaskQueue::mark_answering`]).
    pub(super) answering: bool,
}

/// Who holds (or held) a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Holder {
    /// The holder's address key.
    pub(crate) client: ClientKey,
    /// The worker id it gave.
    pub(crate) worker: WorkerId,
    /// Whether it was handed a token: then only the token proves it.
    pub(crate) tokened: bool,
    /// Whether it took the lease on its address's probation (see
    /// `workers`).
    pub(crate) probation: bool,
}

impl Holder {
    /// Whether a poster that sent no token is this holder: same address,
    /// and the same worker id when it gave one. A holder handed a token
    /// proves itself with it, never without.
    fn is_tokenless(&self, poster: &Poster) -> bool {
        !self.tokened
            && poster.lease.is_none()
            && self.client == poster.client
            && poster.worker.as_ref().is_none_or(|w| *w == self.worker)
    }
}

/// What a poster is to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// It holds the lease at this index of [`Task::leases`].
    Holder(usize),
    /// It held an earlier lease of the task, which ended.
    Former,
    /// It never held a lease of the task (as far as can be told).
    Stranger,
}

/// An answer from a former holder, kept while another lease is live: it
/// stands if no holder answers before the leases end.
#[derive(Debug, Clone)]
pub(crate) struct Provisional {
    /// The answer.
    pub(crate) answer: Answer,
    /// Who gave it.
    pub(crate) worker: WorkerId,
    /// Its address key.
    pub(crate) client: ClientKey,
}

/// One answer of a replicated task, waiting for others to agree.
#[derive(Debug, Clone)]
pub(crate) struct Vote {
    /// The answer.
    pub(crate) answer: Answer,
    /// The voter's address key: one vote per address.
    pub(crate) client: ClientKey,
}

/// One task as the queue holds it.
#[derive(Debug)]
pub(super) struct Task {
    pub(super) data: SharedText,
    pub(super) status: TaskStatus,
    /// Hand-outs counted against the task (a release or a rejected result
    /// gives its attempt back).
    pub(super) attempts: u32,
    /// Leases ever handed out: the number of the latest.
    pub(super) lease_generation: u64,
    /// The leases that have not ended (one at most, unless replicated).
    pub(super) leases: Vec<LiveLease>,
    /// The worker of the latest live lease, or the one credited with how
    /// the task ended.
    pub(super) leased_by: Option<WorkerId>,
    /// The holder of the last lease that ended without an answer, so that
    /// its late answer is known for what it is without a token.
    pub(super) last_holder: Option<Holder>,
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
    /// A former holder's answer, kept while another lease is live.
    pub(super) provisional: Option<Box<Provisional>>,
    /// A replicated task's answers so far.
    pub(super) votes: Vec<Vote>,
    /// For a part: its floating-point operations (0 when not known), what
    /// its workers' speeds are measured by.
    pub(super) work: u64,
    /// For a part: whether a backup copy of it was handed out (one at
    /// most).
    pub(super) backed_up: bool,
}

impl Task {
    /// A task that is pending and has never been handed out.
    pub(super) fn new(data: SharedText, check: Option<TaskCheck>) -> Self {
        Self {
            data,
            status: TaskStatus::Pending,
            attempts: 0,
            lease_generation: 0,
            leases: Vec::new(),
            leased_by: None,
            last_holder: None,
            result: None,
            last_error: None,
            evict_at: None,
            check,
            part_of: None,
            split: None,
            cancelled: false,
            provisional: None,
            votes: Vec::new(),
            work: 0,
            backed_up: false,
        }
    }

    /// Bytes this task holds on its own (shared bytes counted once, by
    /// the task that owns them), answers waiting for agreement included;
    /// the queue adds each task's fixed overhead.
    pub(super) fn held_bytes(&self) -> usize {
        self.data.own_len()
            + self.result.as_ref().map_or(0, SharedText::own_len)
            + self.last_error.as_ref().map_or(0, |e| e.len())
            + self
                .provisional
                .as_ref()
                .map_or(0, |p| p.answer.held_bytes())
            + self
                .votes
                .iter()
                .map(|v| v.answer.held_bytes())
                .sum::<usize>()
    }

    /// The split task this task is a part of.
    pub(super) fn split_id(&self) -> Option<TaskId> {
        self.part_of.map(|part| part.split)
    }

    /// The quorum a replicated task needs.
    pub(super) fn quorum(&self) -> Option<Quorum> {
        self.check.as_ref().and_then(TaskCheck::quorum)
    }

    /// Whether a result that passed the task's check is known right.
    pub(super) fn verifies(&self) -> bool {
        self.check.as_ref().is_some_and(TaskCheck::verifies)
    }

    /// What `poster` is to this task: the holder of a live lease (by its
    /// token, or without one by address and worker id), a former holder,
    /// or a stranger.
    pub(super) fn role(&self, poster: &Poster) -> Role {
        let live = match poster.lease {
            Some(number) => self.leases.iter().position(|l| l.number == number),
            None => self
                .leases
                .iter()
                .position(|l| l.holder.is_tokenless(poster)),
        };
        if let Some(index) = live {
            return Role::Holder(index);
        }
        let former = match poster.lease {
            Some(number) => number >= 1 && number <= self.lease_generation,
            None => self
                .last_holder
                .as_ref()
                .is_some_and(|h| h.is_tokenless(poster)),
        };
        if former { Role::Former } else { Role::Stranger }
    }

    /// How many identical answers the most agreed answer has.
    pub(super) fn best_agreement(&self) -> usize {
        self.votes
            .iter()
            .map(|vote| {
                self.votes
                    .iter()
                    .filter(|v| v.answer == vote.answer)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    /// How many leases the task wants live at once: one, or for a
    /// replicated task enough to reach its replicas and, failing
    /// agreement, its quorum.
    pub(super) fn leases_wanted(&self) -> usize {
        if self.status.is_finished() || self.split.is_some() {
            return 0;
        }
        match self.quorum() {
            None => 1,
            Some(quorum) => {
                let replicas = (quorum.replicas as usize).saturating_sub(self.votes.len());
                let agree = (quorum.agree as usize).saturating_sub(self.best_agreement());
                replicas.max(agree)
            }
        }
    }

    /// Whether the task wants another lease now.
    pub(super) fn wants_lease(&self) -> bool {
        self.leases.len() < self.leases_wanted()
    }

    /// Whether `client` may take a lease of it: a replicated task goes to
    /// distinct addresses (one live lease or vote per address).
    pub(super) fn takeable_by(&self, client: ClientKey) -> bool {
        self.quorum().is_none()
            || !(self.leases.iter().any(|l| l.holder.client == client)
                || self.votes.iter().any(|v| v.client == client))
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
