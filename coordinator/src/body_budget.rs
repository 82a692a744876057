//! A budget for request bodies being read at once, so memory stays bounded
//! however many clients upload at the same time.
//!
//! Each request body is buffered whole (up to the body limit) before a
//! handler sees it. This middleware first takes as many bytes from a shared
//! budget as the body can hold (its `Content-Length`, or the body limit when
//! the length is not declared) and gives them back when the answer is
//! ready, by which time the body has been stored or dropped. A request that
//! does not fit waits for others to finish. Requests without a body take
//! nothing. So that a client who stops sending cannot hold its share
//! forever, a request with a body must be answered within
//! [`BODY_TIMEOUT_BASE`] plus one second per [`BODY_MIN_BYTES_PER_SEC`] of
//! its claim (408 otherwise). Bytes kept afterwards (task data, results) are
//! bounded by the queue's own limits.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::api::ApiError;

/// Time every request with a body gets, whatever its size.
pub const BODY_TIMEOUT_BASE: Duration = Duration::from_secs(60);
/// The slowest upload rate allowed beyond [`BODY_TIMEOUT_BASE`]: 1 MiB/s.
pub const BODY_MIN_BYTES_PER_SEC: usize = 1024 * 1024;

/// The shared budget and the body limit it is measured against.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
    total: usize,
    max_body_bytes: usize,
}

impl BodyBudget {
    /// A budget of `total` bytes for bodies of at most `max_body_bytes`
    /// each; `total` is raised to `max_body_bytes` so every body fits. Both
    /// are capped at `u32::MAX` bytes (the semaphore's unit).
    pub fn new(total: usize, max_body_bytes: usize) -> Self {
        let cap = u32::MAX as usize;
        let max_body_bytes = max_body_bytes.min(cap);
        let total = total.max(max_body_bytes).min(cap);
        Self {
            bytes: Arc::new(Semaphore::new(total)),
            total,
            max_body_bytes,
        }
    }

    /// Bytes of the budget not taken right now.
    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }

    /// The whole budget.
    pub fn total(&self) -> usize {
        self.total
    }

    /// How many bytes a request may buffer: its declared length (within the
    /// body limit), the body limit when it declares none, 0 without a body.
    fn claim(&self, request: &Request) -> usize {
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        match declared {
            Some(length) => {
                usize::try_from(length).map_or(self.max_body_bytes, |l| l.min(self.max_body_bytes))
            }
            None if request.headers().contains_key(header::TRANSFER_ENCODING) => {
                self.max_body_bytes
            }
            None => 0,
        }
    }
}

/// Middleware: holds the request's share of the budget until its answer is
/// ready.
pub async fn limit_body_bytes(
    State(budget): State<BodyBudget>,
    request: Request,
    next: Next,
) -> Response {
    let claim = budget.claim(&request);
    if claim == 0 {
        return next.run(request).await;
    }
    let Ok(claim) = u32::try_from(claim) else {
        return ApiError::PayloadTooLarge(budget.max_body_bytes).into_response();
    };
    let Ok(_permit) = Arc::clone(&budget.bytes).acquire_many_owned(claim).await else {
        return ApiError::Internal("body budget closed".to_owned()).into_response();
    };
    let allowed = body_timeout(claim as usize);
    match tokio::time::timeout(allowed, next.run(request)).await {
        Ok(response) => response,
        Err(_elapsed) => ApiError::RequestTimeout(allowed.as_secs()).into_response(),
    }
}

/// How long a request claiming `bytes` may take.
pub fn body_timeout(bytes: usize) -> Duration {
    BODY_TIMEOUT_BASE + Duration::from_secs((bytes / BODY_MIN_BYTES_PER_SEC) as u64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::body::Body;

    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().method("POST").uri("/task");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn claim_is_the_declared_length_within_the_body_limit() {
        let budget = BodyBudget::new(1000, 100);
        assert_eq!(budget.claim(&request(&[("content-length", "42")])), 42);
        assert_eq!(budget.claim(&request(&[("content-length", "5000")])), 100);
        assert_eq!(
            budget.claim(&request(&[("transfer-encoding", "chunked")])),
            100
        );
        assert_eq!(budget.claim(&request(&[])), 0);
    }

    #[test]
    fn budget_always_fits_one_largest_body() {
        let budget = BodyBudget::new(10, 100);
        assert_eq!(budget.total(), 100);
        assert_eq!(budget.available(), 100);
    }

    #[test]
    fn larger_claims_get_more_time() {
        assert_eq!(body_timeout(0), BODY_TIMEOUT_BASE);
        let eight_mib = 8 * BODY_MIN_BYTES_PER_SEC;
        assert_eq!(
            body_timeout(eight_mib),
            BODY_TIMEOUT_BASE + Duration::from_secs(8)
        );
    }
}
