//! Submitting a task: read the body as JSON once, plan it (checked, or
//! split into parts), queue it.

use std::time::Instant;

use bytes::Bytes;

use super::cost::{Cost, Spent};
use super::{AppState, UseCaseError, run_sized};
use crate::plan::{self, Submission};
use crate::queue::{Changes, TaskId};

impl AppState {
    /// `POST /task`: queues `body` as a new task and returns the id the
    /// client gets. A large matrix product is split into parts (see
    /// [`crate::plan`]); the client still gets one id.
    ///
    /// # Errors
    ///
    /// [`UseCaseError::EmptyTask`] for an empty body;
    /// [`UseCaseError::Queue`] when the queue is full.
    pub async fn submit(&self, body: Bytes) -> Result<TaskId, UseCaseError> {
        let workers_seen = self.queue().workers_seen();
        let state = self.clone();
        let (task, cost) = run_sized(body.len(), move || {
            let (submission, read) = Spent::measure(|| Submission::read(body));
            let submission = submission?;
            let (task, plan) =
                Spent::measure(|| plan::plan(state.config(), workers_seen, submission));
            let cost = Cost {
                read: Some(read),
                plan: Some(plan),
                ..Cost::none()
            };
            Ok::<_, UseCaseError>((task, cost))
        })
        .await??;
        let mut changes = Changes::none();
        let submitted = self.queue().submit(task, Instant::now(), &mut changes);
        self.commit(&changes, &cost);
        submitted.map_err(|refused| {
            tracing::warn!(error = %refused, "task refused");
            refused.into()
        })
    }
}
