//! The HTTP API: the contract's routes and their handlers.
//!
//! Handlers only translate between HTTP and [`crate::queue`]; errors go out
//! through [`ApiError`] as `{"error":"..."}`.

mod body;
mod error;
mod report;
mod status;
mod tasks;

use axum::Router;
use axum::routing::{get, post};

pub use body::{WorkerAnswer, compact_json, parse_task_id, task_data, worker_answer};
pub use error::{ApiError, RETRY_AFTER_SECS};
pub use status::{health, stats_get};
pub use tasks::{
    WorkerQuery, result_get, task_create, task_next, task_release, task_result_submit,
};

use crate::state::AppState;

/// The API routes. A known path with another method answers 404, as the
/// contract's "any other API-looking path" row says.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/task", post(task_create))
        .route("/task/next", get(task_next))
        .route("/task/{id}/result", post(task_result_submit))
        .route("/task/{id}/release", post(task_release))
        .route("/result/{id}", get(result_get))
        .route("/stats", get(stats_get))
        .route("/health", get(health))
        .method_not_allowed_fallback(not_found)
}

/// The 404 answer for unknown API paths.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}
