//! What the use cases refuse, in the domain's words; the HTTP edge maps
//! each to a status code.

use crate::plan::EmptyTask;
use crate::queue::QueueError;
use crate::store::StoreError;

/// Why a use case refused a request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UseCaseError {
    /// The queue refused (unknown task, full, not the holder, ...).
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// A submission with nothing in it.
    #[error(transparent)]
    EmptyTask(#[from] EmptyTask),
    /// A worker's answer is not `{"result":...}` or `{"error":...}`.
    #[error("{0}")]
    BadAnswer(String),
    /// A worker's result (or error report) failed the task's check; the
    /// task went back to the queue.
    #[error("Result rejected: {0}")]
    Rejected(String),
    /// The store could not keep what the request would have changed (a
    /// full disk, say); nothing was acknowledged.
    #[error("The task state could not be stored: {0}")]
    Store(#[from] StoreError),
    /// Something failed inside the server.
    #[error("Internal server error")]
    Internal(String),
}
