//! Task handlers: submit, lease (with optional long poll), post a result,
//! give a task back, read a result. Each one parses the request, calls one
//! use case on [`AppState`], and writes the answer; the rules live in the
//! use cases and the queue.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use super::body::{ResultQuery, WorkerQuery, parse_wait, task_id_param};
use super::client::Client;
use super::error::ApiError;
use super::openapi::{
    ErrorBody, KnownParts, KnownStatus, LeasedTask, TaskText, WaitSecs, WorkerAnswerBody,
};
use super::operands::{Coding, OperandCache, part_b_operand, reference};
use super::packed::{self, Form};
use super::pieces_body::PiecesBody;
use super::report::TaskReport;
use crate::queue::{Asker, Lease, TaskStatus};
use crate::state::{AppState, Caller};

/// `POST /task`: the new task's id.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct TaskCreated {
    task_id: u64,
}

/// `POST /task/N/release`: the task given back.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Released {
    task_id: u64,
    /// Always `pending`.
    status: &'static str,
}

fn read_body(state: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        ApiError::from_body_rejection(rejection, state.config().max_body_bytes)
    })
}

#[utoipa::path(
    post,
    path = "/task",
    tag = "tasks",
    request_body(
        description = "The task data, normally `{\"A\":\"[[1,2],[3,4]]\",\"B\":\"[[5,6],[7,8]]\"}`; any non-empty body is accepted and handed to workers as it is. This project's pages may post integer operands packed instead (`Content-Type: application/x-packed-int-matrix`, A then B, see the README's \"packed products\"): they are stored as the `{\"A\":\"TEXT\",\"B\":\"TEXT\"}` they stand for",
        content((serde_json::Value = "application/json"), (TaskText = "text/plain"))
    ),
    responses(
        (status = 200, description = "The task is queued (pending), or split into parts", body = TaskCreated),
        (status = 400, description = "Invalid task ID, or a query or body that is not what the route expects", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is over `--max-body-bytes`", body = ErrorBody),
        (status = 503, description = "The queue is full (`--max-tasks`, `--max-held-bytes`); try again after `Retry-After` seconds", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait before trying again")))
    )
)]
/// `POST /task`: stores the body as a new pending task; `{"taskId":N}`.
pub(super) async fn task_create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<impl Serialize>, ApiError> {
    let body = packed::read(
        state.config(),
        state.metrics(),
        &headers,
        read_body(&state, body)?,
        Form::Task,
    )?;
    let id = state.submit(body).await?;
    Ok(Json(TaskCreated { task_id: id.0 }))
}

#[utoipa::path(
    get,
    path = "/task/next",
    tag = "tasks",
    params(
        ("workerId" = Option<String>, Query, description = "The worker; missing or empty counts as `unknown`"),
        ("wait" = inline(Option<WaitSecs>), Query, description = "Long poll: seconds to wait for a task (capped by `--max-wait-secs`); none answers at once"),
        ("token" = Option<String>, Query, description = "`1`: the lease answer carries a `leaseToken` to send back with the result or release"),
        ("describe" = Option<String>, Query, description = "`1`: a part's lease says which split task it belongs to (`part`)"),
        ("operands" = Option<String>, Query, description = "`ref`: a part's `B` is written as `{\"operand\":\"HASH\",\"bytes\":N}`, to fetch from `GET /operand/HASH` (once for every part of the task)")
    ),
    responses(
        (status = 200, description = "A task, now processing and leased to the worker", body = LeasedTask),
        (status = 204, description = "No task pending (within the wait)"),
        (status = 400, description = "Invalid task ID, or a query or body that is not what the route expects", body = ErrorBody)
    )
)]
/// `GET /task/next?workerId=W[&wait=S][&token=1]`: leases the next pending
/// task as `{"taskId":N,"data":DATA}` (with `token=1`, or when tokens are
/// required, `{"taskId":N,"leaseToken":"T","data":DATA}`), or answers 204
/// when none arrives in time. `HEAD` answers 204 and leases nothing (its
/// body would be thrown away).
pub(super) async fn task_next(
    State(state): State<AppState>,
    Extension(operands): Extension<Arc<OperandCache>>,
    method: Method,
    Client(client): Client,
    headers: HeaderMap,
    query: Result<Query<WorkerQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    if method == Method::HEAD {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let Query(query) = query?;
    let wait = parse_wait(query.wait.as_deref(), state.config().max_wait)?;
    let asker = Asker {
        client,
        worker: query.worker(),
        tokened: query.wants_token() || state.config().require_lease_token,
    };
    let refs = query.wants_operand_refs() && !state.config().edge.plain_wire;
    Ok(match state.try_lease(&asker, wait).await? {
        Some(lease) => {
            let token = asker.tokened.then(|| state.lease_token(&lease));
            let mut chunks = lease.data.pieces().to_vec();
            if refs
                && lease.part.is_some()
                && let Some((at, operand)) = part_b_operand(&lease.data)
            {
                let address = operands.address(operand).await;
                if let Some(coding) = Coding::accepted(&headers) {
                    operands.prepare(&address, coding, operand);
                }
                chunks[at] = reference(&address, operand.len());
            }
            lease_response(&lease, chunks, token.as_deref(), query.wants_description())
        }
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Writes `{"taskId":N,"data":DATA}` (with `"leaseToken":"T"` before the
/// data when there is a token) with the data's pieces (`data`: the stored
/// pieces, or those with a reference in place of a shared operand) as
/// they are, one after another: the operands are never copied into the
/// answer. With `describe`, a part's lease ends with where it belongs,
/// `"part":{"of":S,"number":K,"total":T}` (part K of T of split task S,
/// counting from 1), after the data so that readers find the id first.
fn lease_response(
    lease: &Lease,
    data: Vec<Bytes>,
    token: Option<&str>,
    describe: bool,
) -> Response {
    let mut chunks = Vec::with_capacity(data.len() + 2);
    let head = match token {
        // A token is hex and a dash: it needs no escaping.
        Some(token) => format!(
            "{{\"taskId\":{},\"leaseToken\":\"{token}\",\"data\":",
            lease.id.0
        ),
        None => format!("{{\"taskId\":{},\"data\":", lease.id.0),
    };
    chunks.push(Bytes::from(head));
    chunks.extend(data);
    match lease.part.filter(|_| describe) {
        Some(part) => chunks.push(Bytes::from(format!(
            ",\"part\":{{\"of\":{},\"number\":{},\"total\":{}}}}}",
            part.split.0,
            part.index + 1,
            part.total
        ))),
        None => chunks.push(Bytes::from_static(b"}")),
    }
    PiecesBody::json_response(chunks)
}

#[utoipa::path(
    post,
    path = "/task/{id}/result",
    tag = "tasks",
    params(
        ("id" = u64, Path, minimum = 1, description = "The task id: a positive integer"),
        ("workerId" = Option<String>, Query, description = "The worker; missing or empty counts as `unknown`"),
        ("leaseToken" = Option<String>, Query, description = "The token of the lease this answer is for (from `GET /task/next?token=1`); a wrong one is refused with 409"),
        ("return" = Option<String>, Query, description = "`minimal`: answer without echoing `result` back")
    ),
    request_body(content = WorkerAnswerBody, description = "The worker's result, or its error report. This project's worker pages may post an integer product packed instead (`Content-Type: application/x-packed-int-matrix`, see the README's \"packed products\"): it is read as the `{\"result\":\"TEXT\"}` it stands for, held to the same body limit"),
    responses(
        (status = 200, description = "The task's report after the answer (a completed task keeps its first result)", body = TaskReport<'_>),
        (status = 400, description = "Invalid task ID, or a query or body that is not what the route expects", body = ErrorBody),
        (status = 404, description = "`Task not found`, or `Task result expired` after the keep time", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 409, description = "The task is in a state that forbids this (another worker holds it, a wrong lease token, it is split into parts, it is completed)", body = ErrorBody),
        (status = 413, description = "The body is over `--max-body-bytes`", body = ErrorBody),
        (status = 422, description = "`Result rejected: ...`: the result (or error report) failed the task's check; the task went back to the queue", body = ErrorBody)
    )
)]
/// `POST /task/N/result[?workerId=W][&leaseToken=T][&return=minimal]`: a
/// worker's answer for task N; answers the task's report (without its
/// result when `return=minimal`).
pub(super) async fn task_result_submit(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    Client(client): Client,
    query: Result<Query<WorkerQuery>, QueryRejection>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let id = task_id_param(id)?;
    let Query(query) = query?;
    let minimal = query.return_pref.as_deref() == Some("minimal");
    let caller = caller(client, query);
    // While the body arrives, the lease is marked: no backup copy of a part
    // whose holder is about to finish.
    let _arriving = state.answer_arriving(id, &caller);
    let body = Bytes::from_request(request, &state).await;
    let body = packed::read(
        state.config(),
        state.metrics(),
        &headers,
        read_body(&state, body)?,
        Form::Answer,
    )?;
    let view = state.answer(id, &caller, body).await?;
    let report = TaskReport::from_view(&view);
    if minimal {
        return Ok(report.without_result().into_response());
    }
    Ok(report.into_response())
}

/// Who sent an answer or a give-back.
fn caller(client: crate::queue::ClientKey, query: WorkerQuery) -> Caller {
    Caller {
        client,
        worker: query.named_worker(),
        token: query.lease_token,
    }
}

#[utoipa::path(
    post,
    path = "/task/{id}/release",
    tag = "tasks",
    params(("id" = u64, Path, minimum = 1, description = "The task id: a positive integer"), ("workerId" = Option<String>, Query, description = "The worker; missing or empty counts as `unknown`"), ("leaseToken" = Option<String>, Query, description = "The token of the lease given back; a wrong one is refused with 409")),
    responses(
        (status = 200, description = "The task is pending again, at the front of the queue", body = Released),
        (status = 400, description = "Invalid task ID, or a query or body that is not what the route expects", body = ErrorBody),
        (status = 404, description = "`Task not found`, or `Task result expired` after the keep time", body = ErrorBody),
        (status = 409, description = "The task is in a state that forbids this (another worker holds it, a wrong lease token, it is split into parts, it is completed)", body = ErrorBody)
    )
)]
/// `POST /task/N/release?workerId=W[&leaseToken=T]`: worker W gives task N
/// back; it goes to the front of the queue without counting an attempt.
pub(super) async fn task_release(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    Client(client): Client,
    query: Result<Query<WorkerQuery>, QueryRejection>,
) -> Result<Json<impl Serialize>, ApiError> {
    let id = task_id_param(id)?;
    let Query(query) = query?;
    state.release(id, &caller(client, query)).await?;
    Ok(Json(Released {
        task_id: id.0,
        status: TaskStatus::Pending.as_str(),
    }))
}

#[utoipa::path(
    post,
    path = "/task/{id}/cancel",
    tag = "tasks",
    params(("id" = u64, Path, minimum = 1, description = "The task id: a positive integer")),
    responses(
        (status = 200, description = "The task's report: failed with `Task cancelled`", body = TaskReport<'_>),
        (status = 400, description = "Invalid task ID, or a query or body that is not what the route expects", body = ErrorBody),
        (status = 404, description = "`Task not found`, or `Task result expired` after the keep time", body = ErrorBody),
        (status = 409, description = "The task is in a state that forbids this (another worker holds it, a wrong lease token, it is split into parts, it is completed)", body = ErrorBody)
    )
)]
/// `POST /task/N/cancel`: the client cancels task N (and the parts of a
/// split task); answers the task's report, now `failed` with the error
/// "Task cancelled".
pub(super) async fn task_cancel(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = task_id_param(id)?;
    let view = state.cancel(id).await?;
    Ok(TaskReport::from_view(&view).into_response())
}

#[utoipa::path(
    get,
    path = "/result/{id}",
    tag = "tasks",
    params(
        ("id" = u64, Path, minimum = 1, description = "The task id: a positive integer"),
        ("wait" = inline(Option<WaitSecs>), Query, description = "Long poll: seconds to wait for the task to change (capped by `--max-wait-secs`)"),
        ("status" = inline(Option<KnownStatus>), Query, description = "The status the caller knows (default: the task's status when the request arrives)"),
        ("partsDone" = inline(Option<KnownParts>), Query, description = "The parts done the caller knows, for a split task"),
        ("parts" = Option<String>, Query, description = "`1`: a split task's report lists its parts (any other value is ignored)")
    ),
    responses(
        (status = 200, description = "The task's status and result (`\"\"` until completed). A client whose `Accept` lists `application/x-packed-int-matrix` gets a completed integer product packed instead (see the README's \"packed products\"): that media type, the product as the body, and the rest of the report as JSON in the header `X-Task-Report`", body = TaskReport<'_>),
        (status = 400, description = "Invalid task ID, or a query or body that is not what the route expects", body = ErrorBody),
        (status = 404, description = "`Task not found`, or `Task result expired` after the keep time", body = ErrorBody)
    )
)]
/// `GET /result/N[?wait=S[&status=T&partsDone=D]][&parts=1]`: the task's
/// status and result (`""` until completed). With `wait`, a task that is
/// not finished is answered once it is no longer in status `T` with `D`
/// parts done (as it was when the request came, when not given), or after
/// `S` seconds. With `parts=1`, a split task's report lists its parts. A
/// client that accepts the packed media type gets a completed integer
/// product packed ([`packed::report`]).
pub(super) async fn result_get(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<ResultQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = task_id_param(id)?;
    let Query(query) = query?;
    let wait = parse_wait(query.wait.as_deref(), state.config().max_wait)?;
    let view = state.view(id, wait, query.known()?).await?;
    let (config, metrics) = (state.config(), state.metrics());
    let wants_parts = query.wants_parts();
    if let Some(packed) = packed::report(config, metrics, &headers, &view, wants_parts).await {
        return Ok(packed);
    }
    let report = TaskReport::from_view(&view);
    if wants_parts {
        return Ok(report.with_parts(&view).into_response());
    }
    Ok(report.into_response())
}
