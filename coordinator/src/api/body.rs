//! Reading what clients put in paths and queries: task ids, worker ids,
//! lease tokens, long-poll waits, and the status a waiting client knows.

use std::time::Duration;

use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::{HeaderMap, HeaderName};
use serde::Deserialize;

use super::error::ApiError;
use crate::queue::{TaskId, TaskStatus, WorkerId};
use crate::state::KnownState;

/// Parses a task id from a path segment: only ASCII digits, at most
/// `u64::MAX`, never 0.
///
/// # Errors
///
/// [`ApiError::InvalidTaskId`] otherwise.
pub(super) fn parse_task_id(segment: &str) -> Result<TaskId, ApiError> {
    if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::InvalidTaskId);
    }
    match segment.parse::<u64>() {
        Ok(id) if id > 0 => Ok(TaskId(id)),
        _ => Err(ApiError::InvalidTaskId),
    }
}

/// The `{id}` path segment as a task id; a segment that is not even valid
/// UTF-8 once decoded is just as invalid.
pub(super) fn task_id_param(id: Result<Path<String>, PathRejection>) -> Result<TaskId, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::InvalidTaskId)?;
    parse_task_id(&id)
}

/// Query of `GET /task/next`, `POST /task/N/result` and `POST /task/N/release`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct WorkerQuery {
    /// The asking worker; missing or empty means `"unknown"`.
    #[serde(rename = "workerId")]
    pub(super) worker_id: Option<String>,
    /// Long poll: seconds to wait for a task (capped by the server).
    pub(super) wait: Option<String>,
    /// `minimal` on `POST /task/N/result`: answer without echoing the
    /// result text back (as HTTP's `Prefer: return=minimal`, which would
    /// need a header the contract's CORS answers do not allow).
    #[serde(rename = "return")]
    pub(super) return_pref: Option<String>,
    /// `1` on `GET /task/next`: a part's lease also says which split task it
    /// belongs to (`"part":{...}`). Dana workers never ask, and get the
    /// contract's bytes.
    pub(super) describe: Option<String>,
    /// `ref` on `GET /task/next`: a part's `B` is written as a reference
    /// to `GET /operand/HASH` (see `operands.rs`). Dana workers never ask,
    /// and get the contract's bytes.
    pub(super) operands: Option<String>,
    /// `1` on `GET /task/next`: the lease answer carries a `leaseToken`.
    pub(super) token: Option<String>,
    /// The lease token, on `POST /task/N/result` and `POST /task/N/release`.
    #[serde(rename = "leaseToken")]
    pub(super) lease_token: Option<String>,
}

impl WorkerQuery {
    /// The worker, `"unknown"` when it said nothing.
    pub(super) fn worker(&self) -> WorkerId {
        WorkerId::from_param(self.worker_id.as_deref())
    }

    /// Whether the caller asked for a part's place in its lease (`describe=1`).
    pub(super) fn wants_description(&self) -> bool {
        self.describe.as_deref() == Some("1")
    }

    /// Whether it asked for shared operands by reference (`operands=ref`).
    pub(super) fn wants_operand_refs(&self) -> bool {
        self.operands.as_deref() == Some("ref")
    }

    /// Whether it asked for a lease token (`token=1`).
    pub(super) fn wants_token(&self) -> bool {
        matches!(self.token.as_deref(), Some("1" | "true"))
    }

    /// The worker, when it said who it is.
    pub(super) fn named_worker(&self) -> Option<WorkerId> {
        self.worker_id
            .as_deref()
            .filter(|w| !w.is_empty())
            .map(|w| WorkerId::from_param(Some(w)))
    }
}

/// Query of `GET /result/N`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ResultQuery {
    /// Long poll: seconds to wait for the task to change (capped by the
    /// server).
    pub(super) wait: Option<String>,
    /// The status the caller knows (default: the task's status when the
    /// request arrives).
    pub(super) status: Option<String>,
    /// The parts done the caller knows, for a split task.
    #[serde(rename = "partsDone")]
    pub(super) parts_done: Option<String>,
    /// `1`: a split task's report also lists its parts (`"parts":[...]`).
    pub(super) parts: Option<String>,
}

impl ResultQuery {
    /// Whether the caller asked for a split task's parts (`parts=1`).
    pub(super) fn wants_parts(&self) -> bool {
        self.parts.as_deref() == Some("1")
    }

    /// What the caller says it knows of the task.
    pub(super) fn known(&self) -> Result<KnownState, ApiError> {
        let status = match self.status.as_deref() {
            None | Some("") => None,
            Some(text) => Some(TaskStatus::from_wire(text).ok_or_else(|| {
                ApiError::BadRequest(format!("Invalid status: {text:?} is not a task status"))
            })?),
        };
        let parts_done = match self.parts_done.as_deref() {
            None | Some("") => None,
            // Part ids are 32-bit, so no task has more than `i32::MAX` parts.
            Some(text) => Some(
                text.parse::<u32>()
                    .ok()
                    .filter(|&done| i32::try_from(done).is_ok())
                    .map(|done| done as usize)
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!("Invalid partsDone: {text:?} is not a count"))
                    })?,
            ),
        };
        Ok(KnownState { status, parts_done })
    }
}

/// A long poll's `wait` parameter: seconds, capped at `max_wait`; none or
/// empty is no wait.
pub(super) fn parse_wait(wait: Option<&str>, max_wait: Duration) -> Result<Duration, ApiError> {
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

/// Whether the comma-separated header `name` (`Accept`, `Accept-Encoding`)
/// lists `token`, case aside, with a quality above zero (`;q=0` refuses
/// it). Wildcards do not count: only a client that names the form gets it.
pub(super) fn header_lists(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            let mut params = item.split(';');
            let listed = params.next().unwrap_or_default().trim();
            let refused = params.any(|param| {
                param
                    .trim()
                    .strip_prefix("q=")
                    .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
            });
            listed.eq_ignore_ascii_case(token) && !refused
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn task_ids_must_be_positive_integers() {
        assert_eq!(parse_task_id("1").unwrap(), TaskId(1));
        assert_eq!(
            parse_task_id("18446744073709551615").unwrap(),
            TaskId(u64::MAX)
        );
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            "abc",
            "1.5",
            " 1",
            "99999999999999999999",
            "000",
        ] {
            assert!(parse_task_id(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn waits_are_capped_seconds() {
        let max = Duration::from_secs(30);
        assert_eq!(parse_wait(None, max).unwrap(), Duration::ZERO);
        assert_eq!(parse_wait(Some(""), max).unwrap(), Duration::ZERO);
        assert_eq!(
            parse_wait(Some("1.5"), max).unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(parse_wait(Some("900"), max).unwrap(), max);
        for bad in ["-1", "NaN", "inf", "x"] {
            assert!(parse_wait(Some(bad), max).is_err(), "{bad}");
        }
    }
}
