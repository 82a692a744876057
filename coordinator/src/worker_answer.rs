//! Reading a worker's answer to `POST /task/N/result`.
//!
//! A result may be a JSON string (Dana workers) or any other JSON value
//! such as an array (JavaScript workers); the latter is kept as its compact
//! text, so that `GET /result/N` always answers `result` as a string.

use serde::Deserialize;
use serde_json::value::RawValue;

/// What a worker posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WorkerAnswer {
    /// A result: the matrix text.
    Result(String),
    /// An error report that marks the task failed.
    Error(String),
}

/// Why an answer body was not read: what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadAnswer(pub String);

#[derive(Deserialize)]
struct AnswerFields<'a> {
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

impl WorkerAnswer {
    /// Reads a result body: `{"result":"TEXT"}`, `{"result":[[...]]}` or
    /// `{"error":"..."}`. `result` wins when both are present.
    ///
    /// # Errors
    ///
    /// [`BadAnswer`] for an empty body, a body that is not a JSON object,
    /// or an object with neither a non-null `result` nor `error`.
    pub(crate) fn read(body: &[u8]) -> Result<Self, BadAnswer> {
        let bad = |text: String| Err(BadAnswer(text));
        if body.iter().all(u8::is_ascii_whitespace) {
            return bad("Result body is empty".to_owned());
        }
        let raw: &RawValue = match serde_json::from_slice(body) {
            Ok(raw) => raw,
            Err(e) => return bad(format!("Result body is not valid JSON: {e}")),
        };
        if !raw.get().starts_with('{') {
            return bad("Result body must be a JSON object with a \"result\" field".to_owned());
        }
        let fields: AnswerFields<'_> = match serde_json::from_str(raw.get()) {
            Ok(fields) => fields,
            Err(e) => return bad(format!("Invalid result body: {e}")),
        };
        if let Some(result) = present(fields.result) {
            return Ok(Self::Result(value_text(result)?));
        }
        if let Some(error) = present(fields.error) {
            return Ok(Self::Error(value_text(error)?));
        }
        bad("Result body must have a \"result\" field (or an \"error\" field)".to_owned())
    }
}

/// The raw text of a field that is present and not `null`.
fn present(value: Option<&RawValue>) -> Option<&str> {
    value.map(RawValue::get).filter(|text| *text != "null")
}

/// A JSON string's content, or any other JSON value's compact text.
fn value_text(raw: &str) -> Result<String, BadAnswer> {
    if raw.starts_with('"') {
        serde_json::from_str::<String>(raw)
            .map_err(|e| BadAnswer(format!("Invalid string in result body: {e}")))
    } else {
        Ok(compact_json(raw))
    }
}

/// Removes the whitespace outside strings from valid JSON text, keeping
/// numbers exactly as written.
fn compact_json(json: &str) -> String {
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
    fn string_result_is_taken_as_is() {
        let answer = WorkerAnswer::read(br#"{"result":"[[19,22],[43,50]]"}"#).unwrap();
        assert_eq!(answer, WorkerAnswer::Result("[[19,22],[43,50]]".to_owned()));
    }

    #[test]
    fn array_result_is_stored_as_compact_text() {
        let answer = WorkerAnswer::read(b"{\"result\": [[19, 22],\n [43, 1e400]]}").unwrap();
        assert_eq!(
            answer,
            WorkerAnswer::Result("[[19,22],[43,1e400]]".to_owned())
        );
    }

    #[test]
    fn error_answer_is_recognised() {
        let answer = WorkerAnswer::read(br#"{"error":"ragged rows"}"#).unwrap();
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
                WorkerAnswer::read(bad).is_err(),
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
