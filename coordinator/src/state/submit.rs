//! Submitting a task: read the body as JSON once, plan it (checked, or
//! split into parts), queue it.

use std::time::Instant;

use bytes::Bytes;

use super::cost::{Cost, Spent};
use super::shared::Target;
use super::{AppState, UseCaseError, run_sized};
use crate::plan::{self, Submission};
use crate::queue::TaskId;

impl AppState {
    /// `POST /task`: queues `body` as a new task and returns the id the
    /// client gets. A large matrix product is split into parts (see
    /// [`crate::plan`]); the client still gets one id.
    ///
    /// A small body is copied out of the connection's read buffer first
    /// ([`own_small`]), so that holding it does not hold the whole buffer.
    ///
    /// # Errors
    ///
    /// [`UseCaseError::EmptyTask`] for an empty body;
    /// [`UseCaseError::BadTask`] for matrices that cannot be multiplied;
    /// [`UseCaseError::Queue`] when the queue is full.
    pub async fn submit(&self, body: Bytes) -> Result<TaskId, UseCaseError> {
        let body = own_small(body);
        let crew = self.queue().crew(Instant::now());
        let state = self.clone();
        let (task, cost) = run_sized(body.len(), move || {
            let bytes = body.len();
            let (submission, read) = Spent::measure(bytes, || Submission::read(body));
            let submission = submission?;
            let (task, plan) =
                Spent::measure(bytes, || plan::plan(state.config(), &crew, submission));
            let task = task?;
            let cost = Cost {
                read: Some(read),
                plan: Some(plan),
                ..Cost::none()
            };
            Ok::<_, UseCaseError>((task, cost))
        })
        .await??;
        self.reserve_ids(task.parts()).await?;
        let parts = task.parts();
        let (submitted, changes, ticket) = self
            .decide_on(Target::New { parts }, |queue, changes| {
                queue.submit(task.clone(), Instant::now(), changes)
            })
            .await?;
        self.remember_checks(&changes);
        let id = submitted.map_err(|refused| {
            tracing::warn!(error = %refused, "task refused");
            refused
        });
        if let Err(error) = ticket.durable().await {
            // Not on disk, so not accepted: the task goes, its records with it.
            if let Ok(id) = id {
                let (_, withdrawn, _) = self.decide(|queue, changes| queue.withdraw(id, changes));
                self.commit(&withdrawn, &Cost::none());
            }
            return Err(error.into());
        }
        self.commit(&changes, &cost);
        Ok(id?)
    }

    /// Reserves task ids on disk when the reserved ones run short, before a
    /// task with `parts` parts takes some.
    async fn reserve_ids(&self, parts: usize) -> Result<(), UseCaseError> {
        if !self.inner.store.reserves_ids() {
            return Ok(());
        }
        let Some(window) = self.queue().ids_to_reserve(parts) else {
            return Ok(());
        };
        self.inner.store.reserve(window).durable().await?;
        self.queue().reserve_ids(window);
        Ok(())
    }
}

/// Bodies up to this many bytes are copied before they are kept.
pub(crate) const COPY_BELOW_BYTES: usize = 1024 * 1024;

/// `body` in an allocation of its own when it is small: a body read from
/// the connection can be a slice of the connection's read buffer (8 KiB
/// and more), which stays alive as long as any slice of it does, so a
/// 42-byte task would keep kilobytes. A large body is kept as it is: it
/// was gathered from several reads into one buffer of its own size.
pub(crate) fn own_small(body: Bytes) -> Bytes {
    if body.len() <= COPY_BELOW_BYTES {
        Bytes::copy_from_slice(&body)
    } else {
        body
    }
}
