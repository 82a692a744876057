//! Rebuilding the queue from what a store kept.
//!
//! A store hands back every task it holds as a [`RestoredTask`]: its data,
//! check, attempts, and, when finished, how it ended and how long ago.
//! Leases are not kept: a task that was processing is pending again, with
//! its attempts. Finished tasks keep what is left of their keep time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::split_tasks::SplitState;
use super::task::{PartRef, Task, TaskId, TaskStatus};
use super::workers::WorkerId;
use super::{FIRST_PART_ID, IdWindow, TaskQueue};
use crate::check::TaskCheck;
use crate::shared_text::SharedText;

/// A task as a store kept it.
#[derive(Debug, Clone)]
pub(crate) struct RestoredTask {
    /// Its id.
    pub(crate) id: TaskId,
    /// Its data.
    pub(crate) data: SharedText,
    /// What its results are checked against.
    pub(crate) check: Option<TaskCheck>,
    /// Hand-outs counted so far.
    pub(crate) attempts: u32,
    /// What kind of task it is.
    pub(crate) kind: RestoredKind,
    /// How it ended, when it did.
    pub(crate) finished: Option<RestoredFinish>,
}

/// A restored task's kind.
#[derive(Debug, Clone)]
pub(crate) enum RestoredKind {
    /// A task workers compute as it is.
    One,
    /// A split task: its parts' ids (0 for a part no longer kept) and the
    /// results of the parts that are done, in row order.
    Split {
        /// The parts' ids.
        parts: Vec<TaskId>,
        /// The parts' results.
        results: Vec<Option<SharedText>>,
    },
    /// A part of a split task.
    Part(PartRef),
}

/// How a restored task ended.
#[derive(Debug, Clone)]
pub(crate) struct RestoredFinish {
    /// Its outcome.
    pub(crate) outcome: RestoredOutcome,
    /// The worker credited with it.
    pub(crate) worker: Option<WorkerId>,
    /// How long ago it finished.
    pub(crate) age: Duration,
}

/// A restored task's outcome.
#[derive(Debug, Clone)]
pub(crate) enum RestoredOutcome {
    /// Completed with this result.
    Completed(SharedText),
    /// Failed with this error.
    Failed(Arc<str>),
    /// Cancelled by its client.
    Cancelled,
}

impl TaskQueue {
    /// Adds the tasks a store kept, as of `now`, and hands out ids only
    /// inside `ids` from then on (and above every restored id). Pending
    /// tasks queue in the order given: pass client tasks by id, each split
    /// task's parts right after it in row order.
    pub(crate) fn restore(&mut self, tasks: Vec<RestoredTask>, ids: IdWindow, now: Instant) {
        let mut finished = Vec::new();
        for restored in tasks {
            let id = restored.id;
            let mut task = Task::new(restored.data, restored.check);
            task.attempts = restored.attempts;
            match restored.kind {
                RestoredKind::One => {}
                RestoredKind::Split { parts, results } => {
                    task.status = TaskStatus::Processing;
                    task.split = Some(Box::new(SplitState::restored(parts, results)));
                }
                RestoredKind::Part(part) => task.part_of = Some(part),
            }
            if id.0 < FIRST_PART_ID / 2 {
                self.next_id = self.next_id.max(id.0 + 1);
            } else {
                self.next_part_id = self.next_part_id.min(id.0 - 1);
            }
            match restored.finished {
                Some(finish) => {
                    let evict_at = now + self.limits.keep_finished.saturating_sub(finish.age);
                    task.leased_by = finish.worker;
                    task.status = match finish.outcome {
                        RestoredOutcome::Completed(result) => {
                            task.result = Some(result);
                            TaskStatus::Completed
                        }
                        RestoredOutcome::Failed(error) => {
                            task.last_error = Some(error);
                            TaskStatus::Failed
                        }
                        RestoredOutcome::Cancelled => {
                            task.last_error = Some(Arc::from(super::cancel::CANCELLED));
                            task.cancelled = true;
                            TaskStatus::Failed
                        }
                    };
                    task.evict_at = Some(evict_at);
                    finished.push((evict_at, id));
                }
                None if task.split.is_some() => {}
                None => self.pending.push_back(id),
            }
            *self.counters.slot(task.status) += 1;
            self.hold(id, task);
        }
        // The finished deque is kept in deadline order.
        finished.sort_unstable();
        self.finished.extend(finished);
        self.next_id = self.next_id.max(ids.client_below);
        self.next_part_id = self.next_part_id.min(ids.parts_above);
        self.ids = Some(ids);
    }
}
