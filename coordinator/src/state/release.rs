//! A worker gives a task back (its tab is closing).

use std::time::Instant;

use super::cost::Cost;
use super::shared::Target;
use super::{AppState, Caller, UseCaseError};
use crate::queue::TaskId;

impl AppState {
    /// `POST /task/N/release`: `caller` gives task `id` back; it goes to the
    /// front of the queue without counting an attempt. Only the holder of
    /// a live lease can (by its token, or without one by its address and
    /// worker id).
    ///
    /// # Errors
    ///
    /// [`UseCaseError::WrongToken`] or [`UseCaseError::TokenRequired`];
    /// [`UseCaseError::Queue`] for an unknown task, or one `caller` does
    /// not hold.
    pub async fn release(&self, id: TaskId, caller: &Caller) -> Result<(), UseCaseError> {
        let poster = self.poster(id, caller)?;
        let (released, changes, _) = self
            .decide_on(Target::Task(id), |queue, changes| {
                queue.release(id, &poster, Instant::now(), changes)
            })
            .await?;
        self.commit(&changes, &Cost::none());
        Ok(released?)
    }
}
