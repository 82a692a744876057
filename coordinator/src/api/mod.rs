//! The HTTP API: the contract's routes and their handlers.
//!
//! Handlers only translate between HTTP and the use cases on
//! [`crate::AppState`]; errors go out through [`ApiError`] as
//! `{"error":"..."}`.

mod body;
mod error;
mod pieces_body;
mod report;
mod status;
mod tasks;

use axum::Router;
use axum::routing::{get, post};

pub use error::ApiError;

use crate::state::AppState;

/// The API routes. A known path with another method answers 404, as the
/// contract's "any other API-looking path" row says.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/task", post(tasks::task_create))
        .route("/task/next", get(tasks::task_next))
        .route("/task/{id}/result", post(tasks::task_result_submit))
        .route("/task/{id}/release", post(tasks::task_release))
        .route("/result/{id}", get(tasks::result_get))
        .route("/stats", get(status::stats_get))
        .route("/health", get(status::health))
        .method_not_allowed_fallback(not_found)
}

/// The 404 answer for unknown API paths.
async fn not_found() -> ApiError {
    ApiError::NotFound
}
