//! Taking tasks back: a client cancels its task, or a submission whose
//! records could not be stored is withdrawn.

use std::sync::Arc;
use std::time::Instant;

use super::change::{Change, Changes};
use super::task::{TaskId, TaskStatus, TaskView};
use super::{QueueError, TaskQueue};

/// The error of a task its client cancelled.
pub(super) const CANCELLED: &str = "Task cancelled";

impl TaskQueue {
    /// Cancels task `id` for its client: it fails with [`CANCELLED`] for good
    /// (a late result does not complete it), and so do the parts of a split
    /// task that are not finished, so no worker is handed them. Cancelling a
    /// part cancels its split task; cancelling a cancelled task changes
    /// nothing. Returns the task as it is afterwards.
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] or [`QueueError::Expired`] for an unknown id;
    /// [`QueueError::AlreadyCompleted`] for a completed task.
    pub(crate) fn cancel(
        &mut self,
        id: TaskId,
        now: Instant,
        changes: &mut Changes,
    ) -> Result<TaskView, QueueError> {
        let task = self.tasks.get(&id).ok_or_else(|| self.missing(id))?;
        if let Some(split) = task.split_id() {
            return self.cancel(split, now, changes);
        }
        if task.status == TaskStatus::Completed {
            return Err(QueueError::AlreadyCompleted(id));
        }
        let parts = task
            .split
            .as_ref()
            .map(|state| state.parts().to_vec())
            .unwrap_or_default();
        self.cancel_one(id, now, changes);
        for part in parts {
            self.cancel_one(part, now, changes);
        }
        self.get(id)
    }

    /// Cancels task `id` unless it is completed or cancelled already.
    fn cancel_one(&mut self, id: TaskId, now: Instant, changes: &mut Changes) {
        let Some(task) = self.tasks.get(&id) else {
            return;
        };
        if task.status == TaskStatus::Completed || task.cancelled {
            return;
        }
        let part = task.part_of;
        self.settle(
            id,
            TaskStatus::Failed,
            None,
            Some(Arc::from(CANCELLED)),
            None,
            now,
        );
        if let Some(task) = self.tasks.get_mut(&id) {
            task.cancelled = true;
        }
        changes.push(Change::Cancelled { id, part });
    }

    /// Removes task `id`, just submitted, and its parts: the store could
    /// not keep it, so its client was told it was not accepted. Nothing of
    /// it stays (a worker holding it is told it is gone when it answers).
    pub(crate) fn withdraw(&mut self, id: TaskId, changes: &mut Changes) {
        let parts = self
            .tasks
            .get(&id)
            .and_then(|task| task.split.as_ref())
            .map(|state| state.parts().to_vec())
            .unwrap_or_default();
        for task_id in std::iter::once(id).chain(parts) {
            if let Some(task) = self.drop_task(task_id) {
                *self.counters.slot(task.status) -= 1;
                self.counters.submitted -= 1;
                changes.push(Change::Evicted { id: task_id });
            }
        }
    }
}
