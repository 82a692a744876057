//! A worker gives a task back (its tab is closing).

use std::time::Instant;

use super::cost::Cost;
use super::{AppState, UseCaseError};
use crate::queue::{TaskId, WorkerId};

impl AppState {
    /// `POST /task/N/release`: `worker` gives task `id` back; it goes to the
    /// front of the queue without counting an attempt.
    ///
    /// # Errors
    ///
    /// [`UseCaseError::Queue`] for an unknown task, or one `worker` does not
    /// hold.
    pub fn release(&self, id: TaskId, worker: &WorkerId) -> Result<(), UseCaseError> {
        let (released, changes, _) =
            self.decide(|queue, changes| queue.release(id, worker, Instant::now(), changes));
        self.commit(&changes, &Cost::none());
        Ok(released?)
    }
}
