//! The report of one task that `GET /result/N` and `POST /task/N/result`
//! answer: the contract's fields first (`taskId`, `status`, `result`), then
//! the extensions. A large result that needs no JSON escaping is written as
//! the stored text's shared pieces, not copied into the answer.

use axum::Json;
use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::pieces_body::PiecesBody;
use crate::queue::{PartView, TaskStatus, TaskView, WorkerId};
use crate::shared_text::SharedText;

/// Results longer than this that need no escaping are written as pieces.
const PIECES_FROM_BYTES: usize = 64 * 1024;

/// `GET /result/N` and `POST /task/N/result` answer: the contract's fields
/// first, then the extensions.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct TaskReport<'a> {
    /// The task's id.
    task_id: u64,
    /// Where the task is in its life.
    #[schema(value_type = TaskStatusName)]
    status: &'static str,
    /// The result text: `""` until the task is completed. Left out when
    /// the caller asked for `return=minimal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, required = false)]
    result: Option<ReportResult<'a>>,
    /// Why a failed task failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, required = false)]
    error: Option<&'a str>,
    /// The worker that holds it or finished it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, required = false)]
    worker_id: Option<&'a str>,
    /// Hand-outs so far.
    attempts: u32,
    /// Parts done, for a split task.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    parts_done: Option<usize>,
    /// Parts in all, for a split task.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    parts_total: Option<usize>,
    /// A split task's parts, only for a caller that asked (`parts=1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<PartReport<'_>>>, required = false)]
    parts: Option<PartsReport<'a>>,
}

/// A split task's parts as its report lists them:
/// `[{"taskId":N,"status":"...","workerId":"..."},...]`.
#[derive(Clone, Copy)]
struct PartsReport<'a>(&'a [PartView]);

/// One part of a split task in its report: its id, status and worker.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct PartReport<'a> {
    /// The part's own task id.
    task_id: u64,
    /// Where the part is in its life.
    #[schema(value_type = TaskStatusName)]
    status: &'static str,
    /// The worker that holds it or computed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, required = false)]
    worker_id: Option<&'a str>,
}

impl Serialize for PartsReport<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|part| PartReport {
            task_id: part.id.0,
            status: part.status.as_str(),
            worker_id: part.worker.as_ref().map(WorkerId::as_str),
        }))
    }
}

/// A task's status as the wire names it.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[expect(dead_code, reason = "describes `TaskStatus::as_str`; never built")]
pub(super) enum TaskStatusName {
    /// Waiting in the queue.
    Pending,
    /// Leased to a worker, or a split task waiting for its parts.
    Processing,
    /// Finished with a result.
    Completed,
    /// Finished without one.
    Failed,
}

impl<'a> TaskReport<'a> {
    /// The report of the task `view` shows.
    pub(super) fn from_view(view: &'a TaskView) -> Self {
        let worker_id = match view.status {
            TaskStatus::Pending => None,
            _ => view.leased_by.as_ref().map(WorkerId::as_str),
        };
        Self {
            task_id: view.id.0,
            status: view.status.as_str(),
            result: Some(ReportResult(view.result.as_ref())),
            error: view.last_error.as_deref(),
            worker_id,
            attempts: view.attempts,
            parts_done: view.parts.map(|p| p.done),
            parts_total: view.parts.map(|p| p.total),
            parts: None,
        }
    }

    /// The report with a split task's parts listed (`view` is the task
    /// this report was made from).
    #[must_use]
    pub(super) fn with_parts(self, view: &'a TaskView) -> Self {
        Self {
            parts: view.part_list.as_deref().map(PartsReport),
            ..self
        }
    }
}

impl TaskReport<'_> {
    /// The report without `result` (for a caller that asked not to have its
    /// result echoed back).
    #[must_use]
    pub(super) fn without_result(self) -> Self {
        Self {
            result: None,
            ..self
        }
    }
}

impl IntoResponse for TaskReport<'_> {
    /// The report as JSON. A large result that needs no escaping is written
    /// as its shared pieces between the report's other fields, not copied
    /// into the answer (which still has a `Content-Length`).
    fn into_response(self) -> Response {
        pieces_response(self)
    }
}

fn pieces_response(report: TaskReport<'_>) -> Response {
    let plain = match &report.result {
        Some(ReportResult(Some(text)))
            if text.len() > PIECES_FROM_BYTES && text.is_plain_json_string() =>
        {
            Some(*text)
        }
        _ => None,
    };
    let Some(text) = plain else {
        return Json(report).into_response();
    };
    // The report with `"result":""`, cut between the quotes.
    let around = TaskReport {
        result: Some(ReportResult(None)),
        ..report
    };
    let json = match serde_json::to_vec(&around) {
        Ok(json) => Bytes::from(json),
        Err(e) => {
            return ApiError::Internal(format!("could not write a report: {e}")).into_response();
        }
    };
    const FIELD: &[u8] = b"\"result\":\"";
    let Some(at) = memchr::memmem::find(&json, FIELD).map(|at| at + FIELD.len()) else {
        return Json(report).into_response();
    };
    let mut chunks = vec![json.slice(..at)];
    chunks.extend(text.pieces().iter().cloned());
    chunks.push(json.slice(at..));
    PiecesBody::json_response(chunks)
}

/// A report's `result`: the text, or `""` before there is one.
struct ReportResult<'a>(Option<&'a SharedText>);

impl Serialize for ReportResult<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(text) => text.serialize(serializer),
            None => serializer.serialize_str(""),
        }
    }
}
