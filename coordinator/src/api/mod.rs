//! The HTTP API: the contract's routes and their handlers.
//!
//! Handlers only translate between HTTP and the use cases on
//! [`crate::AppState`]; errors go out through [`ApiError`] as
//! `{"error":"..."}`.

mod body;
mod client;
mod error;
mod openapi;
mod operands;
mod packed;
mod pieces_body;
mod report;
mod status;
mod tasks;
mod watch;

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::ApiError;
pub(crate) use operands::GZIP_LEVEL;
pub use operands::OPERAND_CACHE_ENTRIES;
pub(crate) use operands::OperandCache;

use crate::state::AppState;

/// The API routes. A known path with another method answers 405 with the
/// methods it takes in `Allow`; an unknown path falls through to the static
/// files (404 when there is no such file).
pub(crate) fn routes() -> Router<AppState> {
    let (router, _description) = documented_routes().split_for_parts();
    router.method_not_allowed_fallback(method_not_allowed)
}

/// Every route with its OpenAPI description, from the handlers'
/// `#[utoipa::path]` annotations: one list, so the description served on
/// `GET /openapi.json` cannot leave a route out.
fn documented_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(tasks::task_create))
        .routes(routes!(tasks::task_next))
        .routes(routes!(tasks::task_result_submit))
        .routes(routes!(tasks::task_release))
        .routes(routes!(tasks::task_cancel))
        .routes(routes!(tasks::result_get))
        .routes(routes!(operands::operand_get))
        .routes(routes!(status::stats_get))
        .routes(routes!(status::health))
        .routes(routes!(watch::metrics_get))
        .routes(routes!(watch::events_get))
        .routes(routes!(openapi::openapi_get))
}

/// The answer for a known path asked with a method it does not take (axum
/// adds the `Allow` header).
async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
