//! Parsing what clients send: task ids in paths, task data, result bodies.
//!
//! Task data is kept as the submitted bytes when they are JSON (checked
//! once, never re-serialised) and as a JSON string otherwise. A result may be
//! a JSON string (Dana workers) or any other JSON value such as an array
//! (JavaScript workers); the latter is stored as its compact text.

use serde::Deserialize;
use serde_json::value::RawValue;

use axum::body::Bytes;

use super::error::ApiError;
use crate::operands::{self, OperandSpans};
use crate::queue::TaskId;
use crate::task_data::TaskData;

/// Parses a task id from a path segment: only ASCII digits, at most
/// `u64::MAX`, never 0.
///
/// # Errors
///
/// [`ApiError::InvalidTaskId`] otherwise.
pub fn parse_task_id(segment: &str) -> Result<TaskId, ApiError> {
    if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::InvalidTaskId);
    }
    match segment.parse::<u64>() {
        Ok(id) if id > 0 => Ok(TaskId(id)),
        _ => Err(ApiError::InvalidTaskId),
    }
}

/// A `POST /task` body as the JSON text handed to workers: the body itself
/// when it is JSON, the body as a JSON string otherwise.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The task data.
    pub data: TaskData,
    /// Where the matrices `A` and `B` are in it, when it is an object with
    /// both (found while the body was checked as JSON).
    pub operands: Option<OperandSpans>,
}

/// Turns a `POST /task` body into a [`Submission`], reading it as JSON once.
///
/// # Errors
///
/// [`ApiError::BadRequest`] for an empty (or all-whitespace) body.
pub fn task_data(body: &Bytes) -> Result<Submission, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("Task body is empty".to_owned()));
    }
    if let Ok(text) = std::str::from_utf8(body)
        && let Ok(operands) = operands::find(text)
    {
        // The body itself, not a copy.
        return Ok(Submission {
            data: TaskData::from_pieces(vec![body.clone()]),
            operands,
        });
    }
    let text = String::from_utf8_lossy(body);
    let quoted = serde_json::to_string(&*text)
        .map_err(|e| ApiError::Internal(format!("could not quote task data: {e}")))?;
    Ok(Submission {
        data: TaskData::from(quoted),
        operands: None,
    })
}

/// What a worker posted to `POST /task/N/result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerAnswer {
    /// A result: the matrix text.
    Result(String),
    /// An error report that marks the task failed.
    Error(String),
}

#[derive(Deserialize)]
struct AnswerFields<'a> {
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

/// Parses a result body: `{"result":"TEXT"}`, `{"result":[[...]]}` or
/// `{"error":"..."}`. `result` wins when both are present.
///
/// # Errors
///
/// [`ApiError::BadRequest`] for an empty body, a body that is not a JSON
/// object, or an object with neither a non-null `result` nor `error`.
pub fn worker_answer(body: &[u8]) -> Result<WorkerAnswer, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("Result body is empty".to_owned()));
    }
    let raw: &RawValue = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("Result body is not valid JSON: {e}")))?;
    if !raw.get().starts_with('{') {
        return Err(ApiError::BadRequest(
            "Result body must be a JSON object with a \"result\" field".to_owned(),
        ));
    }
    let fields: AnswerFields<'_> = serde_json::from_str(raw.get())
        .map_err(|e| ApiError::BadRequest(format!("Invalid result body: {e}")))?;
    if let Some(result) = present(fields.result) {
        return Ok(WorkerAnswer::Result(value_text(result)?));
    }
    if let Some(error) = present(fields.error) {
        return Ok(WorkerAnswer::Error(value_text(error)?));
    }
    Err(ApiError::BadRequest(
        "Result body must have a \"result\" field (or an \"error\" field)".to_owned(),
    ))
}

/// The raw text of a field that is present and not `null`.
fn present(value: Option<&RawValue>) -> Option<&str> {
    value.map(RawValue::get).filter(|text| *text != "null")
}

/// A JSON string's content, or any other JSON value's compact text.
fn value_text(raw: &str) -> Result<String, ApiError> {
    if raw.starts_with('"') {
        serde_json::from_str::<String>(raw)
            .map_err(|e| ApiError::BadRequest(format!("Invalid string in result body: {e}")))
    } else {
        Ok(compact_json(raw))
    }
}

/// Removes the whitespace outside strings from valid JSON text, keeping
/// numbers exactly as written.
pub fn compact_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
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

    /// `task_data` of a body given as bytes, as text.
    fn data_text(body: &[u8]) -> String {
        task_data(&Bytes::copy_from_slice(body))
            .unwrap()
            .data
            .to_text()
            .into_owned()
    }

    #[test]
    fn json_task_data_is_kept_verbatim() {
        let body = Bytes::from_static(br#"{"A": "[[1,2]]",  "B":[[3]]}"#);
        let submission = task_data(&body).unwrap();
        let data = &submission.data;
        assert_eq!(data.to_text(), r#"{"A": "[[1,2]]",  "B":[[3]]}"#);
        assert_eq!(
            data.pieces(),
            std::slice::from_ref(&body),
            "the body itself"
        );
        let operands = submission.operands.unwrap();
        let text = data.as_str().unwrap();
        assert_eq!(operands.a_json(text), Some(r#""[[1,2]]""#));
        assert_eq!(operands.b_json(text), Some("[[3]]"));
    }

    #[test]
    fn non_json_task_data_becomes_a_string() {
        assert_eq!(data_text(b"hello \"x\""), r#""hello \"x\"""#);
        assert_eq!(data_text(b"{broken"), r#""{broken""#);
        assert_eq!(data_text(b"\xff"), "\"\u{fffd}\"");
    }

    #[test]
    fn empty_task_data_is_rejected() {
        assert!(task_data(&Bytes::new()).is_err());
        assert!(task_data(&Bytes::from_static(b" \n")).is_err());
    }

    #[test]
    fn string_result_is_taken_as_is() {
        let answer = worker_answer(br#"{"result":"[[19,22],[43,50]]"}"#).unwrap();
        assert_eq!(answer, WorkerAnswer::Result("[[19,22],[43,50]]".to_owned()));
    }

    #[test]
    fn array_result_is_stored_as_compact_text() {
        let answer = worker_answer(b"{\"result\": [[19, 22],\n [43, 1e400]]}").unwrap();
        assert_eq!(
            answer,
            WorkerAnswer::Result("[[19,22],[43,1e400]]".to_owned())
        );
    }

    #[test]
    fn error_answer_is_recognised() {
        let answer = worker_answer(br#"{"error":"ragged rows"}"#).unwrap();
        assert_eq!(answer, WorkerAnswer::Error("ragged rows".to_owned()));
    }

    #[test]
    fn malformed_result_bodies_are_rejected() {
        for bad in [
            &b""[..],
            b"[[1]]",
            b"\"text\"",
            b"not json",
            b"{}",
            b"{\"result\":null}",
            b"{\"other\":1}",
            b"{\"result\":\"x\"",
        ] {
            assert!(
                worker_answer(bad).is_err(),
                "{:?} was accepted",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn compacting_keeps_whitespace_inside_strings() {
        assert_eq!(compact_json(r#"[ "a b\" c" , 1 ]"#), r#"["a b\" c",1]"#);
    }
}
