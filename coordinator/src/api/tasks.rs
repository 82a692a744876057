//! Task handlers: submit, lease (with optional long poll), post a result,
//! give a task back, read a result. Each one parses the request, calls one
//! use case on [`AppState`], and writes the answer; the rules live in the
//! use cases and the queue.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::body::{ResultQuery, WorkerQuery, parse_wait, task_id_param};
use super::client::Client;
use super::error::ApiError;
use super::pieces_body::PiecesBody;
use super::report::TaskReport;
use crate::queue::{Asker, Lease, TaskStatus};
use crate::state::{AppState, Caller};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskCreated {
    task_id: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Released {
    task_id: u64,
    status: &'static str,
}

fn read_body(state: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        ApiError::from_body_rejection(rejection, state.config().max_body_bytes)
    })
}

/// `POST /task`: stores the body as a new pending task; `{"taskId":N}`.
pub(super) async fn task_create(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<impl Serialize>, ApiError> {
    let body = read_body(&state, body)?;
    let id = state.submit(body).await?;
    Ok(Json(TaskCreated { task_id: id.0 }))
}

/// `GET /task/next?workerId=W[&wait=S][&token=1]`: leases the next pending
/// task as `{"taskId":N,"data":DATA}` (with `token=1`, or when tokens are
/// required, `{"taskId":N,"leaseToken":"T","data":DATA}`), or answers 204
/// when none arrives in time. `HEAD` answers 204 and leases nothing (its
/// body would be thrown away).
pub(super) async fn task_next(
    State(state): State<AppState>,
    method: Method,
    Client(client): Client,
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
    Ok(match state.lease(&asker, wait).await {
        Some(lease) => {
            let token = asker.tokened.then(|| state.lease_token(&lease));
            lease_response(&lease, token.as_deref())
        }
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Writes `{"taskId":N,"data":DATA}` (with `"leaseToken":"T"` before the
/// data when there is a token) with the stored data's pieces as they are,
/// one after another: the operands are never copied into the answer.
fn lease_response(lease: &Lease, token: Option<&str>) -> Response {
    let mut chunks = Vec::with_capacity(lease.data.pieces().len() + 2);
    let head = match token {
        // A token is hex and a dash: it needs no escaping.
        Some(token) => format!(
            "{{\"taskId\":{},\"leaseToken\":\"{token}\",\"data\":",
            lease.id.0
        ),
        None => format!("{{\"taskId\":{},\"data\":", lease.id.0),
    };
    chunks.push(Bytes::from(head));
    chunks.extend(lease.data.pieces().iter().cloned());
    chunks.push(Bytes::from_static(b"}"));
    PiecesBody::json_response(chunks)
}

/// `POST /task/N/result[?workerId=W][&leaseToken=T][&return=minimal]`: a
/// worker's answer for task N; answers the task's report (without its
/// result when `return=minimal`).
pub(super) async fn task_result_submit(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    Client(client): Client,
    query: Result<Query<WorkerQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = task_id_param(id)?;
    let Query(query) = query?;
    let body = read_body(&state, body)?;
    let minimal = query.return_pref.as_deref() == Some("minimal");
    let view = state.answer(id, &caller(client, query), body).await?;
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
    state.release(id, &caller(client, query))?;
    Ok(Json(Released {
        task_id: id.0,
        status: TaskStatus::Pending.as_str(),
    }))
}

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

/// `GET /result/N[?wait=S[&status=T&partsDone=D]]`: the task's status and
/// result (`""` until completed). With `wait`, a task that is not finished
/// is answered once it is no longer in status `T` with `D` parts done (as
/// it was when the request came, when not given), or after `S` seconds.
pub(super) async fn result_get(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<ResultQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let id = task_id_param(id)?;
    let Query(query) = query?;
    let wait = parse_wait(query.wait.as_deref(), state.config().max_wait)?;
    let view = state.view(id, wait, query.known()?).await?;
    Ok(TaskReport::from_view(&view).into_response())
}
