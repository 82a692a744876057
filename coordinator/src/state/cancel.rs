//! A client cancels its task.

use std::time::Instant;

use super::cost::Cost;
use super::{AppState, UseCaseError};
use crate::queue::{Changes, TaskId, TaskView};

impl AppState {
    /// `POST /task/N/cancel`: task `id` (and, for a split task, its parts
    /// not finished yet) fails with "Task cancelled" for good: no worker is
    /// handed it any more, and a late result does not complete it. Returns
    /// the task as it is afterwards.
    ///
    /// # Errors
    ///
    /// [`UseCaseError::Queue`] for an unknown or completed task.
    pub fn cancel(&self, id: TaskId) -> Result<TaskView, UseCaseError> {
        let mut changes = Changes::none();
        let cancelled = self.queue().cancel(id, Instant::now(), &mut changes);
        self.commit(&changes, &Cost::none());
        Ok(cancelled?)
    }
}
