//! A client cancels its task.

use std::time::Instant;

use super::cost::Cost;
use super::shared::Target;
use super::{AppState, UseCaseError};
use crate::queue::{TaskId, TaskView};

impl AppState {
    /// `POST /task/N/cancel`: task `id` (and, for a split task, its parts
    /// not finished yet) fails with "Task cancelled" for good: no worker is
    /// handed it any more, and a late result does not complete it. Returns
    /// the task as it is afterwards.
    ///
    /// # Errors
    ///
    /// [`UseCaseError::Queue`] for an unknown or completed task;
    /// [`UseCaseError::Store`] when the cancel could not be stored.
    pub async fn cancel(&self, id: TaskId) -> Result<TaskView, UseCaseError> {
        let (cancelled, changes, ticket) = self
            .decide_on(Target::Task(id), |queue, changes| {
                queue.cancel(id, Instant::now(), changes)
            })
            .await?;
        let view = cancelled?;
        let ticket = if changes.is_empty() {
            self.inner.store.durable(id)
        } else {
            ticket
        };
        ticket.durable().await?;
        self.commit(&changes, &Cost::none());
        Ok(view)
    }
}
