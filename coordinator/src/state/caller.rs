//! Who a request comes from, and the lease its token names.
//!
//! The HTTP edge says where a request came from (its address key), the
//! worker id it gave and the lease token it sent, if any; this turns that
//! into the [`Poster`] the queue weighs answers by. A token that is not
//! one this process made for the task, or none when tokens are required
//! (`--require-lease-token`), is refused before the queue is asked, so it
//! costs nothing.

use super::{AppState, UseCaseError};
use crate::queue::{ClientKey, Lease, Poster, TaskId, WorkerId};

/// What a request that answers or gives back a task says of its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The sender's address key.
    pub client: ClientKey,
    /// The worker id it gave, if any.
    pub worker: Option<WorkerId>,
    /// The lease token it sent, if any.
    pub token: Option<String>,
}

impl Caller {
    /// A sender from an unknown address that gave `worker` and no token.
    pub fn anonymous(worker: Option<WorkerId>) -> Self {
        Self {
            client: ClientKey::Unknown,
            worker,
            token: None,
        }
    }
}

impl AppState {
    /// The poster `caller` is for task `id`.
    ///
    /// # Errors
    ///
    /// [`UseCaseError::WrongToken`] for a token this process did not make
    /// for task `id`; [`UseCaseError::TokenRequired`] for none when tokens
    /// are required.
    pub(super) fn poster(&self, id: TaskId, caller: &Caller) -> Result<Poster, UseCaseError> {
        let lease = match caller.token.as_deref().filter(|t| !t.is_empty()) {
            Some(token) => Some(
                self.inner
                    .tokens
                    .read(id, token)
                    .map_err(|_| UseCaseError::WrongToken(id))?,
            ),
            None if self.config().require_lease_token => {
                return Err(UseCaseError::TokenRequired(id));
            }
            None => None,
        };
        Ok(Poster {
            client: caller.client,
            worker: caller.worker.clone(),
            lease,
        })
    }

    /// The token that proves holding `lease`.
    pub fn lease_token(&self, lease: &Lease) -> String {
        self.inner.tokens.issue(lease.id, lease.number)
    }
}
