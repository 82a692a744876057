//! The one error type every handler returns: a status and `{"error":"..."}`.
//!
//! Extractor rejections (bad path, bad query, body over the limit) are turned
//! into the same shape, so no answer from the API is plain text. Server
//! faults (5xx) hide their details from the client and log them.

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::queue::QueueError;
use crate::state::UseCaseError;

/// Seconds a client is told to wait before retrying a full queue.
pub(super) const RETRY_AFTER_SECS: u64 = 5;

/// An error answer from the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The path's task id is not a positive integer.
    #[error("Invalid task ID")]
    InvalidTaskId,
    /// The request body or query is not what the endpoint expects.
    #[error("{0}")]
    BadRequest(String),
    /// No such route or file.
    #[error("Not found")]
    NotFound,
    /// No operand with that content address is held (any more).
    #[error("Operand not found")]
    OperandNotFound,
    /// The route exists, with other methods (listed in the `Allow` header).
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// The request body is over the limit.
    #[error("Request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// The request body was sent in a `Content-Encoding` the server does
    /// not take; `accepted` lists those it takes (also in
    /// `Accept-Encoding`).
    #[error("Content-Encoding {sent:?} is not accepted; send the body as {accepted}")]
    UnsupportedEncoding {
        /// The coding the client sent.
        sent: String,
        /// The codings taken, as `Accept-Encoding` writes them.
        accepted: &'static str,
    },
    /// The request body did not arrive in the allowed time (seconds).
    #[error("Request body not received within {0} s")]
    RequestTimeout(u64),
    /// The request body arrived slower than the least rate allowed
    /// (bytes per second, after a grace time).
    #[error("Request body arrived slower than {0} bytes/s")]
    BodyTooSlow(u64),
    /// The request head did not arrive in the allowed time (seconds).
    #[error("Request head not received within {0} s")]
    HeadTimeout(u64),
    /// The request head is larger than the server reads (or has too many
    /// header lines).
    #[error("Request header fields too large")]
    HeadersTooLarge,
    /// The request target is longer than the server reads.
    #[error("Request target too long")]
    UriTooLong,
    /// The client's address has as many connections open as it may.
    #[error("Too many connections from this address")]
    TooManyConnections,
    /// The client sent more requests than its rate allows; it may retry
    /// after the seconds given (also in `Retry-After`).
    #[error("Too many requests from this address; retry after {0} s")]
    TooManyRequests(u64),
    /// A worker's result failed verification; the task went back to the
    /// queue.
    #[error("Result rejected: {0}")]
    Rejected(String),
    /// The request conflicts with who holds the task (a wrong or missing
    /// lease token).
    #[error("{0}")]
    Conflict(String),
    /// A result larger than the task's product can be.
    #[error("{0}")]
    ResultTooLarge(String),
    /// A queue operation was refused.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The server cannot take the request now (its store cannot write);
    /// the client should try again after `Retry-After`.
    #[error("{0}")]
    Unavailable(String),
    /// Something failed inside the server; the details are only logged.
    #[error("Internal server error")]
    Internal(String),
}

impl ApiError {
    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidTaskId | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound | Self::OperandNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_)
            | Self::ResultTooLarge(_)
            | Self::Queue(QueueError::ResultTooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::UnsupportedEncoding { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RequestTimeout(_) | Self::BodyTooSlow(_) | Self::HeadTimeout(_) => {
                StatusCode::REQUEST_TIMEOUT
            }
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::TooManyRequests(_) | Self::TooManyConnections => StatusCode::TOO_MANY_REQUESTS,
            Self::Queue(QueueError::NotFound | QueueError::Expired) => StatusCode::NOT_FOUND,
            Self::Queue(
                QueueError::Full(_)
                | QueueError::FullBytes(_)
                | QueueError::PartIdsExhausted
                | QueueError::IdsNotReserved,
            ) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Queue(
                QueueError::NotLeasedBy(_)
                | QueueError::SplitTask(_)
                | QueueError::AlreadyCompleted(_),
            ) => StatusCode::CONFLICT,
            Self::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Maps a body extractor's rejection, keeping 413 for an oversized body.
    pub fn from_body_rejection(rejection: BytesRejection, limit: usize) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::PayloadTooLarge(limit)
        } else {
            Self::BadRequest(format!(
                "Could not read the request body: {}",
                rejection.body_text()
            ))
        }
    }
}

impl From<UseCaseError> for ApiError {
    fn from(error: UseCaseError) -> Self {
        match error {
            UseCaseError::Queue(e) => Self::Queue(e),
            UseCaseError::EmptyTask(e) => Self::BadRequest(e.to_string()),
            UseCaseError::BadTask(e) => Self::BadRequest(e.to_string()),
            e @ (UseCaseError::WrongToken(_) | UseCaseError::TokenRequired(_)) => {
                Self::Conflict(e.to_string())
            }
            e @ UseCaseError::ResultTooLarge { .. } => Self::ResultTooLarge(e.to_string()),
            UseCaseError::BadAnswer(text) => Self::BadRequest(text),
            UseCaseError::Rejected(reason) => Self::Rejected(reason),
            UseCaseError::Store(e) => Self::Unavailable(format!(
                "Could not store the request; try again later ({e})"
            )),
            UseCaseError::Busy(reason) => Self::Unavailable(reason),
            UseCaseError::Internal(detail) => Self::Internal(detail),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::BadRequest(format!("Invalid query: {}", rejection.body_text()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let status = self.status();
        let body = serde_json::json!({ "error": self.to_string() }).to_string();
        let mut response = (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        if let Self::UnsupportedEncoding { accepted, .. } = &self {
            response
                .headers_mut()
                .insert(header::ACCEPT_ENCODING, HeaderValue::from_static(accepted));
        }
        if let Self::TooManyConnections = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(1));
        }
        if let Self::TooManyRequests(secs) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}
