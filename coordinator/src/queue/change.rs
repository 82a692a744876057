//! The change record: every state transition a queue operation made, as
//! plain data.
//!
//! Each mutating operation of [`super::TaskQueue`] returns [`Changes`], the
//! transitions it decided, in order. Whoever consumes a change (waking long
//! polls and result waiters, the log, a durable store, metrics) reads it
//! from this record; nobody asks the queue again afterwards. The record is
//! complete: folding every change in order into a table of tasks gives the
//! tasks the queue holds (the queue's tests check this after random runs),
//! so a store that persists the changes can rebuild the queue.

use std::sync::Arc;
use std::time::Instant;

use super::task::{PartRef, TaskId};
use super::workers::WorkerId;
use crate::check::TaskCheck;
use crate::shared_text::SharedText;

/// Why a task went back to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequeueReason {
    /// Its lease expired without an answer.
    LeaseExpired,
    /// Its worker gave it back.
    Released,
    /// Its worker's result was rejected.
    Rejected,
}

impl RequeueReason {
    /// A short name for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LeaseExpired => "lease_expired",
            Self::Released => "released",
            Self::Rejected => "rejected",
        }
    }
}

/// One state transition of one task.
#[derive(Debug, Clone)]
pub enum Change {
    /// A task was accepted; it is pending at the back of the queue.
    Submitted {
        /// The new task.
        id: TaskId,
        /// Its data.
        data: SharedText,
        /// What its results are checked against.
        check: Option<TaskCheck>,
    },
    /// A split task was accepted; it is processing until its parts (each
    /// in a [`Change::PartSubmitted`] right after this one) are done.
    SplitSubmitted {
        /// The split task.
        id: TaskId,
        /// What the client sent.
        data: SharedText,
        /// How many parts it has.
        parts: usize,
    },
    /// A part of a split task was accepted; it is pending at the back of
    /// the queue.
    PartSubmitted {
        /// The part.
        id: TaskId,
        /// Its split task and its place among the parts, in row order.
        part: PartRef,
        /// Its data (slices of the split task's data).
        data: SharedText,
        /// What its results are checked against.
        check: Option<TaskCheck>,
    },
    /// A task was leased to a worker.
    Leased {
        /// The task.
        id: TaskId,
        /// For a part: its split task and place.
        part: Option<PartRef>,
        /// The worker that holds it.
        worker: WorkerId,
        /// The lease's number (the task's leases count up from 1; a
        /// replicated task has several live at once).
        lease: u64,
        /// Hand-outs so far, this one included.
        attempts: u32,
        /// When the lease ends.
        expires_at: Instant,
        /// For a part: its cost in flops ([`super::part_cost`]; 0 when not
        /// known), what its holder's speed will be measured by.
        work: u64,
    },
    /// A lease of a task ended without an answer that settles it: the task
    /// is back at the front of the queue, or still processing under its
    /// other leases (a replicated task), or settled by the change that
    /// follows (a kept answer, its last attempt).
    Requeued {
        /// The task.
        id: TaskId,
        /// For a part: its split task and place.
        part: Option<PartRef>,
        /// The lease that ended.
        lease: u64,
        /// Hand-outs counted so far (a release or a rejected result does
        /// not count its own).
        attempts: u32,
        /// Why.
        reason: RequeueReason,
    },
    /// A former holder's answer, given while another lease of the task is
    /// live, was kept aside: it settles the task if no holder answers
    /// before the leases end. The task itself does not change.
    Kept {
        /// The task.
        id: TaskId,
        /// For a part: its split task and place.
        part: Option<PartRef>,
        /// Who gave it.
        worker: WorkerId,
    },
    /// An answer for a replicated task was counted as a vote; the voter's
    /// lease, if it held one, ended. When the vote makes a quorum, a
    /// [`Change::Completed`] or [`Change::Failed`] follows.
    Voted {
        /// The task.
        id: TaskId,
        /// For a part: its split task and place.
        part: Option<PartRef>,
        /// The voter's lease that ended (none for a former holder).
        lease: Option<u64>,
        /// The voter.
        worker: WorkerId,
        /// Votes identical to this one, this one included.
        agreeing: usize,
    },
    /// A task completed with a result (for a part, its split task counts
    /// one more part done).
    Completed {
        /// The task.
        id: TaskId,
        /// For a part: its split task and place.
        part: Option<PartRef>,
        /// The result.
        result: SharedText,
        /// The worker credited with it.
        worker: Option<WorkerId>,
    },
    /// A split task's parts were all done and their results joined into
    /// its product; it is completed.
    Assembled {
        /// The split task.
        id: TaskId,
        /// The product (the parts' results, shared).
        result: SharedText,
    },
    /// A task failed.
    Failed {
        /// The task.
        id: TaskId,
        /// For a part: its split task and place.
        part: Option<PartRef>,
        /// Why.
        error: Arc<str>,
        /// The worker whose answer failed it, if one did.
        worker: Option<WorkerId>,
    },
    /// The client cancelled a task (for a split task, also each part not
    /// finished yet): it failed with "Task cancelled" for good, and a
    /// late result does not complete it.
    Cancelled {
        /// The task.
        id: TaskId,
        /// For a part: its split task and place.
        part: Option<PartRef>,
    },
    /// A result for a task failed its check. The task itself changes only
    /// by a [`Change::Requeued`] that follows (when the poster held it).
    Rejected {
        /// The task.
        id: TaskId,
        /// For a part: its split task and place.
        part: Option<PartRef>,
        /// The poster: the holder, or the id a non-holder gave.
        worker: Option<WorkerId>,
        /// Why the result was refused.
        reason: Arc<str>,
        /// Whether the poster held the task, so that the rejection counted
        /// against it and its address (a stranger's costs no one anything).
        counted: bool,
        /// Whether this rejection benched the worker.
        benched: bool,
    },
    /// A finished task was dropped: its keep time ran out, or it was a
    /// part whose split task has been assembled.
    Evicted {
        /// The task.
        id: TaskId,
    },
}

impl Change {
    /// The task that changed.
    pub fn id(&self) -> TaskId {
        match self {
            Self::Submitted { id, .. }
            | Self::SplitSubmitted { id, .. }
            | Self::PartSubmitted { id, .. }
            | Self::Leased { id, .. }
            | Self::Requeued { id, .. }
            | Self::Completed { id, .. }
            | Self::Assembled { id, .. }
            | Self::Failed { id, .. }
            | Self::Cancelled { id, .. }
            | Self::Rejected { id, .. }
            | Self::Kept { id, .. }
            | Self::Voted { id, .. }
            | Self::Evicted { id } => *id,
        }
    }

    /// The split task whose progress this change is part of.
    pub fn split(&self) -> Option<TaskId> {
        self.part().map(|part| part.split)
    }

    /// For a change of a part: its split task and place.
    pub fn part(&self) -> Option<PartRef> {
        match self {
            Self::PartSubmitted { part, .. } => Some(*part),
            Self::Leased { part, .. }
            | Self::Requeued { part, .. }
            | Self::Completed { part, .. }
            | Self::Failed { part, .. }
            | Self::Cancelled { part, .. }
            | Self::Rejected { part, .. }
            | Self::Kept { part, .. }
            | Self::Voted { part, .. } => *part,
            Self::Submitted { .. }
            | Self::SplitSubmitted { .. }
            | Self::Assembled { .. }
            | Self::Evicted { .. } => None,
        }
    }

    /// How many leases this change may have made available to workers: a
    /// submitted task's (its replicas, for a replicated one), or one for a
    /// lease that ended without settling its task.
    pub fn leases_offered(&self) -> usize {
        let replicas = |check: &Option<TaskCheck>| {
            check
                .as_ref()
                .and_then(TaskCheck::quorum)
                .map_or(1, |q| q.replicas as usize)
        };
        match self {
            Self::Submitted { check, .. } | Self::PartSubmitted { check, .. } => replicas(check),
            Self::Requeued { .. } | Self::Voted { .. } => 1,
            _ => 0,
        }
    }
}

/// The transitions one queue operation made, in order.
#[derive(Debug, Clone, Default)]
pub struct Changes(Vec<Change>);

impl Changes {
    /// No change.
    pub fn none() -> Self {
        Self::default()
    }

    pub(super) fn push(&mut self, change: Change) {
        self.0.push(change);
    }

    /// The changes, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Change> {
        self.0.iter()
    }

    /// Adds `other`'s changes after these.
    pub fn append(&mut self, other: Changes) {
        self.0.extend(other.0);
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many changes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// How many more leases are available after these changes than before
    /// (the long polls to wake): leases offered less leases taken.
    pub fn pending_added(&self) -> usize {
        let added: usize = self.0.iter().map(Change::leases_offered).sum();
        let leased = self
            .0
            .iter()
            .filter(|c| matches!(c, Change::Leased { .. }))
            .count();
        added.saturating_sub(leased)
    }
}

impl<'a> IntoIterator for &'a Changes {
    type Item = &'a Change;
    type IntoIter = std::slice::Iter<'a, Change>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
