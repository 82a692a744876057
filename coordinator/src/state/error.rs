//! What the use cases refuse, in the domain's words; the HTTP edge maps
//! each to a status code.

use crate::plan::{BadTask, EmptyTask};
use crate::queue::{QueueError, TaskId};
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
    /// A matrix task whose matrices cannot be multiplied (shapes, ragged
    /// rows, values that are not numbers).
    #[error(transparent)]
    BadTask(#[from] BadTask),
    /// A lease token this process did not make for the task.
    #[error("Wrong lease token for task {0}")]
    WrongToken(TaskId),
    /// No lease token where tokens are required.
    #[error("A lease token is required to answer or give back task {0}")]
    TokenRequired(TaskId),
    /// A result larger than the task's product can be.
    #[error(
        "Result of {bytes} bytes is larger than the product of task {id} can be ({limit} bytes)"
    )]
    ResultTooLarge {
        /// The task.
        id: TaskId,
        /// The answer's bytes.
        bytes: usize,
        /// The most a right answer takes.
        limit: usize,
    },
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
    /// The server is too busy to take this request now; try again later.
    #[error("{0}")]
    Busy(String),
    /// Something failed inside the server.
    #[error("Internal server error")]
    Internal(String),
}
