//! `GET /openapi.json`: the OpenAPI 3.1 description of every route,
//! generated from the handlers' annotations as the router is built
//! ([`super::documented_routes`]), so a route cannot be served without
//! being described. The schemas of the answers are the types the handlers
//! write; the ones below describe bodies that are written as pieces
//! (a lease, a worker's answer) or errors.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{OpenApi, ToSchema};

/// The description's fixed parts: what every answer shares.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "xdana coordinator",
        description = "Hands matrix-multiplication tasks to pulling browser workers over the Dana \
coordinator's HTTP contract, with optional extensions (long polls, release, cancel, \
`return=minimal`, verified results, split tasks, metrics, dashboard events).\n\n\
Every answer carries the CORS and cross-origin isolation headers of the contract, and every \
error is a JSON body `{\"error\":\"...\"}`. `OPTIONS` on any path answers 200 with an empty \
body. A path below asked with a method it does not take answers **405** with the methods it \
takes in `Allow`. A `GET` of any other path is a static file from the `webserver/` folder \
(404 when there is none).",
        license(name = "MIT OR Apache-2.0")
    ),
    tags(
        (name = "tasks", description = "The contract's task routes and their extensions"),
        (name = "status", description = "Health and statistics"),
        (name = "watch", description = "Metrics, dashboard events and this description")
    )
)]
pub(super) struct ApiDoc;

/// An error answer.
#[derive(Serialize, ToSchema)]
pub(super) struct ErrorBody {
    /// What was wrong.
    error: String,
}

/// `GET /task/next`: the leased task.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct LeasedTask {
    /// The task's id.
    task_id: u64,
    /// The task data as it was submitted: the JSON value itself when the
    /// body was JSON, else the body as a JSON string.
    data: serde_json::Value,
}

/// `POST /task/N/result`: a worker's answer.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "describes a body that `worker_answer` reads; never built"
)]
pub(super) enum WorkerAnswerBody {
    /// A result: the product as Dana matrix text (or a JSON array of rows,
    /// kept as its compact text).
    Result {
        /// The product.
        result: ResultValue,
    },
    /// An error report: the task fails (unless its check shows the product
    /// cannot fail; then the report is rejected with 422).
    Error {
        /// What went wrong.
        error: String,
    },
}

/// A result as a worker may post it.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "describes a body that `worker_answer` reads; never built"
)]
pub(super) enum ResultValue {
    /// Dana matrix text, `[[19,22],[43,50]]`.
    Text(String),
    /// A JSON array of rows.
    Rows(Vec<Vec<f64>>),
}

/// `GET /openapi.json`: this description.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "watch",
    responses((status = 200, description = "The OpenAPI 3.1 description of every route", body = Object))
)]
pub(super) async fn openapi_get() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        spec().clone(),
    )
        .into_response()
}

/// The description, built once from the routes.
pub(super) fn description() -> OpenApiDoc {
    super::documented_routes().split_for_parts().1
}

fn spec() -> &'static Bytes {
    static SPEC: OnceLock<Bytes> = OnceLock::new();
    SPEC.get_or_init(|| {
        let json = serde_json::to_vec(&description())
            .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}").into_bytes());
        Bytes::from(json)
    })
}
