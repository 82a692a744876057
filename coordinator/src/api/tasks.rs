//! Task handlers: submit, lease (with optional long poll), post a result,
//! give a task back, read a result. Each one translates HTTP to one queue
//! call and back; the rules live in [`crate::queue`].
//!
//! Two steps run outside the queue's lock, since they cost `O(n^2)` for an
//! `n x n` product: planning a submitted task ([`crate::plan`]: reading its
//! matrices, preparing the check, splitting) and checking a result. Both
//! run off the async runtime for large bodies. Assembling a split task's
//! result joins its parts' texts without copying them, so it runs in line.
//! Reports of a task go out through [`super::report`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use cpu_time::ThreadTime;
use serde::{Deserialize, Serialize};

use super::body::{Submission, WorkerAnswer, parse_task_id, task_data, worker_answer};
use super::error::ApiError;
use super::report::TaskReport;
use crate::operands::OperandSpans;
use crate::plan::{self, Plan};
use crate::queue::{
    Outcome, ReadyParent, Rejection, ResultText, TaskCheck, TaskId, TaskStatus, WorkerId,
};
use crate::split;
use crate::state::AppState;
use crate::task_data::{PiecesBody, TaskData};

/// Bodies and results up to this many bytes are planned, checked and
/// assembled on the async runtime; larger ones on the blocking pool.
const INLINE_WORK_BYTES: usize = 64 * 1024;

/// Query of `GET /task/next`, `POST /task/N/result` and `POST /task/N/release`.
#[derive(Debug, Default, Deserialize)]
pub struct WorkerQuery {
    /// The asking worker; missing or empty means `"unknown"`.
    #[serde(rename = "workerId")]
    pub worker_id: Option<String>,
    /// Long poll: seconds to wait for a task (capped by the server).
    pub wait: Option<String>,
    /// `minimal` on `POST /task/N/result`: answer without echoing the
    /// result text back (as HTTP's `Prefer: return=minimal`, which would
    /// need a header the contract's CORS answers do not allow).
    #[serde(rename = "return")]
    pub return_pref: Option<String>,
}

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

/// The `{id}` path segment as a task id; a segment that is not even valid
/// UTF-8 once decoded is just as invalid.
fn task_id_param(id: Result<Path<String>, PathRejection>) -> Result<TaskId, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::InvalidTaskId)?;
    parse_task_id(&id)
}

fn read_body(state: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        ApiError::from_body_rejection(rejection, state.config().max_body_bytes)
    })
}

/// `POST /task`: stores the body as a new pending task; `{"taskId":N}`.
/// A large matrix product is split into parts (see [`crate::plan`]); the
/// client still gets one id.
pub async fn task_create(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<impl Serialize>, ApiError> {
    let body = read_body(&state, body)?;
    let Submission { data, operands } = task_data(&body)?;
    let bytes = data.len();
    let planning = Instant::now();
    let (plan, plan_cpu) = plan_task(&state, data.clone(), operands).await?;
    let (plan_ms, plan_cpu_ms) = (millis(planning.elapsed()), millis(plan_cpu));
    let now = Instant::now();
    let (submitted, parts) = match plan {
        Plan::Plain => (state.queue().submit(data, now), 0),
        Plan::Checked(check) => (state.queue().submit_checked(data, Some(check), now), 0),
        Plan::Split(specs) => {
            let parts = specs.len();
            (state.queue().submit_split(data, specs, now), parts)
        }
    };
    let id = submitted.inspect_err(|e| tracing::warn!(error = %e, "task refused"))?;
    if parts > 0 {
        tracing::info!(
            task = %id,
            bytes,
            parts,
            plan_ms,
            plan_cpu_ms,
            "task submitted, split into parts"
        );
    } else {
        tracing::info!(task = %id, bytes, plan_ms, plan_cpu_ms, "task submitted");
    }
    state.wake_workers(parts.max(1));
    Ok(Json(TaskCreated { task_id: id.0 }))
}

/// `duration` in milliseconds, to a microsecond, for the log.
fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

/// Runs `work` and measures the CPU time this thread spent on it (zero
/// where the platform cannot tell).
fn on_cpu<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let started = ThreadTime::try_now().ok();
    let out = work();
    (out, started.map_or(Duration::ZERO, |t| t.elapsed()))
}

/// Runs [`plan::plan_found`] for task `data`, off the runtime when it is
/// large; with the CPU time it took.
async fn plan_task(
    state: &AppState,
    data: TaskData,
    operands: Option<OperandSpans>,
) -> Result<(Plan, Duration), ApiError> {
    let workers = state.queue().workers_seen();
    let inline = data.len() <= INLINE_WORK_BYTES;
    let state = state.clone();
    let run =
        move || on_cpu(|| plan::plan_found(state.config(), workers, &data, operands.as_ref()));
    if inline {
        return Ok(run());
    }
    tokio::task::spawn_blocking(run)
        .await
        .map_err(|e| ApiError::Internal(format!("planning a task failed: {e}")))
}

/// `GET /task/next?workerId=W[&wait=S]`: leases the next pending task as
/// `{"taskId":N,"data":DATA}`, or answers 204 when none arrives in time.
/// A worker that released a task within [`crate::queue::RELEASE_PAUSE`]
/// gets none until the pause is over.
/// `HEAD` answers 204 and leases nothing (its body would be thrown away).
pub async fn task_next(
    State(state): State<AppState>,
    method: Method,
    query: Result<Query<WorkerQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    if method == Method::HEAD {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let Query(query) = query?;
    let worker = WorkerId::from_param(query.worker_id.as_deref());
    let wait = parse_wait(query.wait.as_deref(), state.config().max_wait)?;
    // tokio's clock, so paused-time tests can run the wait out.
    let deadline = tokio::time::Instant::now() + wait;
    if state.queue().is_benched(&worker, Instant::now()) {
        return Ok(benched_wait(&state, &worker, deadline).await);
    }
    let mut woken = false;
    loop {
        let notified = state.task_available().notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let pause = state.queue().release_pause_left(&worker, Instant::now());
        if let Some(pause) = pause {
            // The worker just gave a task back: this poll may be one its page
            // abandoned. A wake-up it took goes to another worker, and it
            // waits the pause out without taking more.
            if woken {
                state.wake_workers(1);
            }
            let until = (tokio::time::Instant::now() + pause).min(deadline);
            tokio::time::sleep_until(until).await;
            woken = false;
            if until >= deadline || state.is_shutting_down() {
                return Ok(StatusCode::NO_CONTENT.into_response());
            }
            continue;
        }
        if let Some(lease) = state.lease_next(&worker, Instant::now()) {
            return Ok(lease_response(lease.id, &lease.data));
        }
        if tokio::time::Instant::now() >= deadline || state.is_shutting_down() {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        // A timeout ends the wait; the loop then tries once more and answers.
        woken = tokio::time::timeout_at(deadline, notified).await.is_ok();
    }
}

/// How often a benched worker's long poll looks for shutdown.
const BENCHED_POLL_STEP: Duration = Duration::from_secs(1);

/// A benched worker's poll: it is seen (so it stays in `/stats`), gets no
/// task, and waits out its `wait` without waiting on the task signal, so it
/// takes no wake-up meant for a worker that may have the task.
async fn benched_wait(
    state: &AppState,
    worker: &WorkerId,
    deadline: tokio::time::Instant,
) -> Response {
    // Counts as seen; a benched worker is never given a task.
    let _ = state.lease_next(worker, Instant::now());
    while tokio::time::Instant::now() < deadline && !state.is_shutting_down() {
        let step = tokio::time::Instant::now() + BENCHED_POLL_STEP;
        tokio::time::sleep_until(step.min(deadline)).await;
    }
    StatusCode::NO_CONTENT.into_response()
}

fn parse_wait(wait: Option<&str>, max_wait: Duration) -> Result<Duration, ApiError> {
    let Some(text) = wait.filter(|w| !w.is_empty()) else {
        return Ok(Duration::ZERO);
    };
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => {
            Ok(Duration::from_secs_f64(secs.min(max_wait.as_secs_f64())))
        }
        _ => Err(ApiError::BadRequest(format!(
            "Invalid wait: {text:?} is not a number of seconds"
        ))),
    }
}

/// Writes `{"taskId":N,"data":DATA}` with the stored data's pieces as they
/// are, one after another: the operands are never copied into the answer.
fn lease_response(id: TaskId, data: &TaskData) -> Response {
    let mut chunks = Vec::with_capacity(data.pieces().len() + 2);
    chunks.push(Bytes::from(format!("{{\"taskId\":{},\"data\":", id.0)));
    chunks.extend(data.pieces().iter().cloned());
    chunks.push(Bytes::from_static(b"}"));
    PiecesBody::json_response(chunks)
}

/// `POST /task/N/result`: a worker's `{"result":...}` completes task N (a
/// completed task keeps its first result); `{"error":"..."}` fails it,
/// unless the task is checked and its product cannot fail
/// ([`kernel::verify::ProductCheck::product_may_fail`]): then the report is
/// false and is rejected like a wrong result.
pub async fn task_result_submit(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<WorkerQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = task_id_param(id)?;
    let Query(query) = query?;
    let worker = query
        .worker_id
        .as_deref()
        .filter(|w| !w.is_empty())
        .map(|w| WorkerId::from_param(Some(w)));
    let body = read_body(&state, body)?;
    let answer = worker_answer(&body)?;
    let (mut verify_ms, mut verify_cpu_ms) = (None, None);
    let outcome = match answer {
        WorkerAnswer::Result(text) => {
            let text = ResultText::from(text);
            let check = if state.config().verify {
                state.queue().check_for(id)
            } else {
                None
            };
            if let Some(check) = check {
                let verifying = Instant::now();
                let (verdict, cpu) = verify_result(check, text.clone()).await?;
                verify_ms = Some(millis(verifying.elapsed()));
                verify_cpu_ms = Some(millis(cpu));
                if let Err(reason) = verdict {
                    return Err(reject(&state, id, worker.as_ref(), &reason));
                }
            }
            let outcome = state
                .queue()
                .complete(id, text, worker.as_ref(), Instant::now());
            let ready = state.queue().take_ready();
            if !ready.is_empty() {
                assemble_ready(&state, ready);
            }
            outcome
        }
        WorkerAnswer::Error(text) => {
            if let Some(check) = state.config().verify.then(|| state.queue().check_for(id)).flatten()
                && !check.check.product_may_fail()
            {
                let reason = format!(
                    "the task's matrices multiply without overflow, so the error report is false: {text}"
                );
                return Err(reject(&state, id, worker.as_ref(), &reason));
            }
            state
                .queue()
                .fail(id, text.into(), worker.as_ref(), Instant::now())
        }
    }
    .inspect_err(|e| tracing::warn!(task = %id, error = %e, "answer for an unknown task"))?;
    let view = outcome.view();
    state.announce_task(id, view.part_of);
    let by = view
        .leased_by
        .as_ref()
        .map_or(WorkerId::UNKNOWN, WorkerId::as_str);
    match &outcome {
        Outcome::Applied(v) if v.status == TaskStatus::Completed => {
            tracing::info!(task = %id, worker = by, verify_ms, verify_cpu_ms, "task completed");
        }
        Outcome::Applied(v) => {
            let error = v.last_error.as_deref().unwrap_or("");
            tracing::warn!(task = %id, worker = by, error, "task failed");
        }
        Outcome::AlreadyCompleted(_) => {
            tracing::warn!(task = %id, "answer for a completed task ignored: results are immutable");
        }
        Outcome::AlreadyFailed(_) => {
            tracing::warn!(task = %id, "error for a failed task ignored");
        }
    }
    let report = TaskReport::from_view(view);
    if query.return_pref.as_deref() == Some("minimal") {
        return Ok(report.without_result().into_response());
    }
    Ok(report.into_response())
}

/// Checks a result against `check`, off the runtime when it is large;
/// the inner error is why it was rejected. With the CPU time it took.
async fn verify_result(
    check: TaskCheck,
    text: ResultText,
) -> Result<(Result<(), String>, Duration), ApiError> {
    let small = text.len() <= INLINE_WORK_BYTES;
    let run = move || on_cpu(|| plan::verify(&check, &text.to_text()).map_err(|e| e.to_string()));
    if small {
        return Ok(run());
    }
    tokio::task::spawn_blocking(run)
        .await
        .map_err(|e| ApiError::Internal(format!("checking a result failed: {e}")))
}

/// Records a rejected result for task `id` and builds the 422 answer.
fn reject(state: &AppState, id: TaskId, worker: Option<&WorkerId>, reason: &str) -> ApiError {
    let now = Instant::now();
    let rejected = state.queue().reject(id, worker, reason, now);
    state.announce_change(id);
    let by = worker.map_or(WorkerId::UNKNOWN, WorkerId::as_str);
    match rejected {
        Ok(Rejection::Requeued) => {
            tracing::warn!(task = %id, worker = by, reason, "result rejected, task requeued");
            state.wake_workers(1);
        }
        Ok(Rejection::Failed) => {
            tracing::warn!(task = %id, worker = by, reason, "result rejected on the last attempt, task failed");
        }
        Ok(Rejection::Unchanged(status)) => {
            tracing::warn!(task = %id, worker = by, reason, status = status.as_str(), "result rejected");
        }
        Err(e) => return e.into(),
    }
    if let Some(worker) = worker
        && state.queue().is_benched(worker, now)
    {
        tracing::warn!(
            worker = by,
            "worker benched after repeated rejected results"
        );
    }
    ApiError::Rejected(reason.to_owned())
}

/// Assembles the results of split tasks whose parts are all done and
/// completes them.
fn assemble_ready(state: &AppState, ready: Vec<ReadyParent>) {
    for parent in ready {
        let bytes: usize = parent.results.iter().map(|r| r.len()).sum();
        let assembling = Instant::now();
        // Joining shares the parts' texts: no copy, so it runs here.
        let (assembled, cpu) =
            on_cpu(|| split::assemble(&parent.results).map_err(|e| Arc::from(e.to_string())));
        let (assemble_ms, assemble_cpu_ms) = (millis(assembling.elapsed()), millis(cpu));
        match state
            .queue()
            .finish_split(parent.id, assembled, Instant::now())
        {
            Ok(view) if view.status == TaskStatus::Completed => {
                tracing::info!(
                    task = %parent.id,
                    bytes,
                    assemble_ms,
                    assemble_cpu_ms,
                    "split task completed"
                );
            }
            Ok(view) => {
                let error = view.last_error.as_deref().unwrap_or("");
                tracing::warn!(task = %parent.id, error, "split task failed");
            }
            Err(e) => tracing::warn!(task = %parent.id, error = %e, "split task gone"),
        }
    }
}

/// `POST /task/N/release?workerId=W`: worker W gives task N back; it goes to
/// the front of the queue without counting an attempt.
pub async fn task_release(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<WorkerQuery>, QueryRejection>,
) -> Result<Json<impl Serialize>, ApiError> {
    let id = task_id_param(id)?;
    let Query(query) = query?;
    let worker = WorkerId::from_param(query.worker_id.as_deref());
    state.queue().release(id, &worker, Instant::now())?;
    tracing::info!(task = %id, worker = %worker, "task released");
    state.wake_workers(1);
    state.announce_change(id);
    Ok(Json(Released {
        task_id: id.0,
        status: TaskStatus::Pending.as_str(),
    }))
}

/// Query of `GET /result/N`.
#[derive(Debug, Default, Deserialize)]
pub struct ResultQuery {
    /// Long poll: seconds to wait for the task to change (capped by the
    /// server).
    pub wait: Option<String>,
    /// The status the caller knows (default: the task's status when the
    /// request arrives).
    pub status: Option<String>,
    /// The parts done the caller knows, for a split task.
    #[serde(rename = "partsDone")]
    pub parts_done: Option<String>,
}

/// `GET /result/N[?wait=S[&status=T&partsDone=D]]`: the task's status and
/// result (`""` until completed). With `wait`, a task that is not finished
/// is answered once it is no longer in status `T` with `D` parts done (as
/// it was when the request came, when not given), or after `S` seconds.
/// Any change counts: leased, given back, a part done, completed, failed.
pub async fn result_get(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<ResultQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let id = task_id_param(id)?;
    let Query(query) = query?;
    let wait = parse_wait(query.wait.as_deref(), state.config().max_wait)?;
    let mut known_status = match query.status.as_deref() {
        None | Some("") => None,
        Some(text) => Some(TaskStatus::from_wire(text).ok_or_else(|| {
            ApiError::BadRequest(format!("Invalid status: {text:?} is not a task status"))
        })?),
    };
    let mut known_parts = match query.parts_done.as_deref() {
        None | Some("") => None,
        Some(text) => Some(text.parse::<usize>().map_err(|_| {
            ApiError::BadRequest(format!("Invalid partsDone: {text:?} is not a count"))
        })?),
    };
    let deadline = tokio::time::Instant::now() + wait;
    let waiting = state.result_waiters().wait_on(id);
    loop {
        let changed = waiting.signal().notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let view = state.queue().get(id)?;
        let parts_done = view.parts.map(|p| p.done);
        if known_status.is_none() {
            // Nothing said: the task as it is now is what the caller knows.
            known_status = Some(view.status);
            known_parts = parts_done;
        }
        let unchanged = known_status == Some(view.status)
            && known_parts.is_none_or(|done| parts_done == Some(done));
        if view.status.is_finished()
            || !unchanged
            || tokio::time::Instant::now() >= deadline
            || state.is_shutting_down()
        {
            return Ok(TaskReport::from_view(&view).into_response());
        }
        // A timeout ends the wait; the loop then answers what there is.
        let _ = tokio::time::timeout_at(deadline, changed).await;
    }
}
