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
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{OpenApi as OpenApiDoc, RefOr};
use utoipa::{OpenApi, PartialSchema, ToSchema};

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
    /// The lease's token, when the worker asked for one (`token=1`) or
    /// tokens are required: send it back with the result or release.
    #[schema(required = false)]
    lease_token: Option<String>,
    /// The task data as it was submitted: the JSON value itself when the
    /// body was JSON, else the body as a JSON string.
    data: serde_json::Value,
    /// For a part of a split task, when the worker asked (`describe=1`):
    /// part `number` of `total` of split task `of`.
    #[schema(required = false)]
    part: Option<PartOf>,
}

/// Where a leased part belongs.
#[derive(Serialize, ToSchema)]
pub(super) struct PartOf {
    /// The split task's id.
    of: u64,
    /// The part's number, from 1.
    number: u64,
    /// Parts in all.
    total: u64,
}

/// `POST /task`: task data that is not JSON, handed to workers as a JSON
/// string. It must hold something besides ASCII whitespace.
pub(super) struct TaskText;

impl PartialSchema for TaskText {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("[^\\t\\n\\f\\r ]"))
            .description(Some("Any text with something besides ASCII whitespace"))
            .into()
    }
}

impl ToSchema for TaskText {}

/// A query value as the server reads it: `schema`, or empty (which the
/// server reads as if the parameter were not there).
fn or_empty(schema: ObjectBuilder) -> RefOr<Schema> {
    let empty = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(0));
    AnyOfBuilder::new().item(schema).item(empty).into()
}

/// `wait`: seconds, capped by `--max-wait-secs`; empty is no wait.
pub(super) struct WaitSecs;

impl PartialSchema for WaitSecs {
    fn schema() -> RefOr<Schema> {
        or_empty(
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .minimum(Some(0.0)),
        )
    }
}

impl ToSchema for WaitSecs {}

/// `status`: the status a waiting client knows; empty is none.
pub(super) struct KnownStatus;

impl PartialSchema for KnownStatus {
    fn schema() -> RefOr<Schema> {
        let statuses = ["pending", "processing", "completed", "failed"];
        or_empty(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(statuses)),
        )
    }
}

impl ToSchema for KnownStatus {}

/// `partsDone`: the parts done a waiting client knows; empty is none.
pub(super) struct KnownParts;

impl PartialSchema for KnownParts {
    fn schema() -> RefOr<Schema> {
        or_empty(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0.0))
                .maximum(Some(f64::from(i32::MAX))),
        )
    }
}

impl ToSchema for KnownParts {}

/// Any JSON value but `null`.
pub(super) struct NotNull;

impl PartialSchema for NotNull {
    fn schema() -> RefOr<Schema> {
        let types = [
            Type::String,
            Type::Number,
            Type::Boolean,
            Type::Array,
            Type::Object,
        ];
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter(types))
            .into()
    }
}

impl ToSchema for NotNull {}

/// `POST /task/N/result`: a worker's answer, an object with a `result`
/// or an `error` that is not `null` (`result` wins when both are there;
/// other fields are ignored).
///
/// A result is the product as Dana matrix text (`"[[19,22],[43,50]]"`) or
/// as a JSON array of rows; any other value is kept as its compact text
/// (and fails the task's check, if it has one). An error report fails the
/// task, unless its check shows the product cannot fail: then the report
/// is rejected with 422.
pub(super) struct WorkerAnswerBody;

impl PartialSchema for WorkerAnswerBody {
    fn schema() -> RefOr<Schema> {
        let with = |field: &str, example: serde_json::Value| {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(field, NotNull::schema())
                .required(field)
                .examples([serde_json::json!({ field: example })])
        };
        AnyOfBuilder::new()
            .item(with("result", "[[19,22],[43,50]]".into()))
            .item(with("error", "Matrix A is ragged".into()))
            .description(Some(
                "An object with a `result` (the product) or an `error` (the task fails), not null",
            ))
            .into()
    }
}

impl ToSchema for WorkerAnswerBody {}

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
