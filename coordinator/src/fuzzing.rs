//! Entry points for the fuzz targets (`coordinator/fuzz`), compiled only
//! with the `fuzzing` feature: thin wrappers that let a target drive the
//! crate's private readers as the request path does, not an API.
//!
//! - [`operand_spans`]: the one read of a submitted body as JSON that also
//!   finds `A` and `B` (`plan::operands`).
//! - [`plan_body`]: a body read and planned as `POST /task` does.
//! - [`ResultCheck`]: a matrix task's check, applied to a worker's answer
//!   body as `POST /task/N/result` does.

use std::ops::Range;

use bytes::Bytes;

use crate::check::TaskCheck;
use crate::config::Config;
use crate::plan::{self, Submission};
use crate::queue::{Crew, NewTask};
use crate::shared_text::SharedText;
use crate::worker_answer::WorkerAnswer;

/// The spans of `A` and `B` in `data`, as the body scan finds them:
/// `Ok(None)` for JSON that is not an object with both, `Err` for text
/// that is not JSON.
///
/// # Errors
///
/// When `data` is not JSON.
pub fn operand_spans(data: &str) -> Result<Option<(Range<usize>, Range<usize>)>, String> {
    plan::operands::find(data)
        .map(|found| found.map(|spans| (spans.a, spans.b)))
        .map_err(|e| e.to_string())
}

/// What [`plan_body`] made of a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// The task data as workers get it.
    pub data: String,
    /// Whether a product check was prepared.
    pub checked: bool,
    /// The parts' task data, for a split task.
    pub parts: Vec<String>,
}

/// Reads and plans `body` as `POST /task` does, splitting any product into
/// as many parts as `workers` (at least two, when it has the rows).
///
/// # Errors
///
/// The refusal's text (an empty body, a matrix task that cannot be
/// multiplied).
pub fn plan_body(body: &[u8], workers: usize) -> Result<Planned, String> {
    let config = Config {
        split_min_flops: Some(0),
        ..Config::default()
    };
    let submission = Submission::read(Bytes::copy_from_slice(body)).map_err(|e| e.to_string())?;
    let task = plan::plan(&config, &Crew::new(vec![None; workers]), submission)
        .map_err(|e| e.to_string())?;
    Ok(match task {
        NewTask::One { data, check } => Planned {
            data: data.to_string(),
            checked: check.as_ref().is_some_and(TaskCheck::verifies),
            parts: Vec::new(),
        },
        NewTask::Split { data, parts, .. } => Planned {
            data: data.to_string(),
            checked: parts
                .iter()
                .all(|p| p.check.as_ref().is_some_and(TaskCheck::verifies)),
            parts: parts.iter().map(|p| p.data.to_string()).collect(),
        },
    })
}

/// The check of a matrix task, as a worker's answer meets it.
#[derive(Debug, Clone)]
pub struct ResultCheck(TaskCheck);

impl ResultCheck {
    /// The check `POST /task` prepares for task body `body`, unsplit;
    /// `None` when it prepares none.
    pub fn for_task(body: &str) -> Option<Self> {
        let submission = Submission::read(Bytes::copy_from_slice(body.as_bytes())).ok()?;
        let config = Config {
            split_min_flops: None,
            ..Config::default()
        };
        match plan::plan(&config, &Crew::new(vec![None]), submission).ok()? {
            NewTask::One {
                check: Some(check), ..
            } if check.verifies() => Some(Self(check)),
            _ => None,
        }
    }

    /// The most bytes a right answer's result text takes.
    pub fn max_result_bytes(&self) -> Option<usize> {
        self.0.max_result_bytes()
    }

    /// Checks a worker's answer body (`{"result":...}` or `{"error":...}`)
    /// as `POST /task/N/result` does.
    ///
    /// # Errors
    ///
    /// Why the answer is refused: not an answer, a wrong result, a false
    /// error report.
    pub fn verify_answer(&self, body: &[u8]) -> Result<(), String> {
        match WorkerAnswer::read(body).map_err(|e| e.0)? {
            WorkerAnswer::Result(text) => self.0.verify(&SharedText::from(text)).map_err(|e| e.0),
            WorkerAnswer::Error(report) => self.0.verify_error_report(&report).map_err(|e| e.0),
        }
    }
}
