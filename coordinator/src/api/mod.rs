//! The HTTP API: the contract's routes and their handlers.
//!
//! Handlers only translate between HTTP and the use cases on
//! [`crate::AppState`]; errors go out through [`ApiError`] as
//! `{"error":"..."}`.

mod body;
mod client;
mod error;
mod pieces_body;
mod report;
mod status;
mod tasks;

use axum::Router;
use axum::routing::{get, post};

pub use error::ApiError;

use crate::state::AppState;

/// The API routes. A known path with another method answers 405 with the
/// methods it takes in `Allow`; an unknown path falls through to the static
/// files (404 when there is no such file).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/task", post(tasks::task_create))
        .route("/task/next", get(tasks::task_next))
        .route("/task/{id}/result", post(tasks::task_result_submit))
        .route("/task/{id}/release", post(tasks::task_release))
        .route("/task/{id}/cancel", post(tasks::task_cancel))
        .route("/result/{id}", get(tasks::result_get))
        .route("/stats", get(status::stats_get))
        .route("/health", get(status::health))
        .method_not_allowed_fallback(method_not_allowed)
}

/// The answer for a known path asked with a method it does not take (axum
/// adds the `Allow` header).
async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
