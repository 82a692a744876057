//! What `dana/coordinator/Coordinator.dn` does, call by call, in Rust.
//!
//! Each method mirrors the Dana function of the same name: it builds the request bytes the
//! component's `HTTPRequest` call writes, hands them to a transport (which returns `None` where
//! Dana's `HTTPRequest` returns null: the coordinator could not be reached), reads the answer as
//! the component does, and returns the same value (task id 0, a null product, a failure status)
//! with the same `lastError()` text. The texts are kept as the Dana source writes them
//! (`$name` interpolates a variable), and `dana_wire.rs` checks that they are the source's own.
//!
//! Dana's `JSONParser` returns null, or a tree without the fields, for a malformed document
//! (its exceptions reach the component as default values); the component checks every field it
//! reads for its JSON type and value, so a document this module's parser rejects leads to the
//! same outcome as one Dana's parser reads partly.

use super::{
    DanaAnswer, JsonElement, JsonKind, json_from_string_fields, parse_document, request_bytes,
};

/// Task states as the coordinator writes them (the interface's `STATUS_*`).
pub(crate) const STATUS_PENDING: &str = "pending";
/// See [`STATUS_PENDING`].
pub(crate) const STATUS_PROCESSING: &str = "processing";
/// See [`STATUS_PENDING`].
pub(crate) const STATUS_COMPLETED: &str = "completed";
/// See [`STATUS_PENDING`].
pub(crate) const STATUS_FAILED: &str = "failed";
/// Failure status: no answer.
pub(crate) const STATUS_UNREACHABLE: &str = "unreachable";
/// Failure status: 404, the coordinator does not know the task.
pub(crate) const STATUS_UNKNOWN: &str = "unknown";
/// Failure status: any other answer that is not what was asked for, or a refused argument.
pub(crate) const STATUS_ERROR: &str = "error";

/// `lastError()` after `setCoordinatorUrl` with an empty URL.
pub(crate) const URL_EMPTY: &str = "coordinator URL is empty";
/// `lastError()` when `HTTPRequest` returned null.
pub(crate) const UNREACHABLE: &str = "coordinator at $baseUrl could not be reached";
/// `lastError()` for a 404 about a task.
pub(crate) const NOT_FOUND: &str = "task $taskId not found at $baseUrl: $error";
/// `lastError()` for another code about a task.
pub(crate) const ANSWERED_HTTP: &str =
    "coordinator at $baseUrl answered HTTP $code for task $taskId: $error";
/// `lastError()` for an empty matrix (nothing is sent).
pub(crate) const MATRIX_EMPTY: &str = "matrix $name is empty";
/// `lastError()` for matrix text the encoder would write as invalid JSON (nothing is sent).
pub(crate) const MATRIX_CHARACTERS: &str =
    "matrix $name must not contain quotes, backslashes or control characters";
/// `lastError()` for a submission answered with another code than 200.
pub(crate) const REFUSED: &str = "coordinator at $baseUrl refused the task: HTTP $code $error";
/// `lastError()` for a 200 submission answer without a valid task id.
pub(crate) const NO_TASK_ID: &str =
    "coordinator at $baseUrl answered without a valid taskId: $answer";
/// `lastError()` for a completed task whose answer has no product.
pub(crate) const NO_RESULT: &str =
    "coordinator at $baseUrl answered task $taskId completed without its result: $body";
/// `lastError()` for a failed task.
pub(crate) const TASK_FAILED: &str = "task $taskId failed: $error";
/// `lastError()` for a 200 result answer without a known status.
pub(crate) const NO_STATUS: &str =
    "coordinator at $baseUrl answered without a valid status for task $taskId: $body";
/// `lastError()` when `waitForResult`'s time is up.
pub(crate) const TIMED_OUT: &str =
    "task $taskId not completed after waiting $waited ms (last status: $state)";
/// Every `lastError()` text of the component.
pub(crate) const FAILURE_TEXTS: &[&str] = &[
    URL_EMPTY,
    UNREACHABLE,
    NOT_FOUND,
    ANSWERED_HTTP,
    MATRIX_EMPTY,
    MATRIX_CHARACTERS,
    REFUSED,
    NO_TASK_ID,
    NO_RESULT,
    TASK_FAILED,
    NO_STATUS,
    TIMED_OUT,
];
/// What the component writes for the code of an answer whose status line had none.
pub(crate) const NO_STATUS_CODE: &str = "(no status code)";
/// What the component writes for the error text of an empty answer.
pub(crate) const EMPTY_ANSWER: &str = "(empty answer)";

/// Fills the `$name` interpolations of a Dana string with `values`.
///
/// # Panics
/// When the template names a variable `values` does not give: the templates are fixtures.
pub(crate) fn interpolate(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..end];
        let value = values
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{template:?} interpolates ${name}, which is not given"))
            .1;
        out.push_str(value);
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Poll timing of `waitForResult`, read from the Dana interface's constants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PollPlan {
    /// `POLL_FIRST_MS`.
    pub(crate) first_ms: i64,
    /// `POLL_MAX_MS`.
    pub(crate) max_ms: i64,
}

/// The component's `ResultState`: a task state, or a failure status, and the product.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ResultState {
    status: String,
    result: Option<String>,
}

/// One `coordinator.Coordinator` object: its URL, its `lastError()`, and how its requests
/// reach a server.
pub(crate) struct DanaCoordinator<T> {
    base_url: String,
    failure: Option<String>,
    poll: PollPlan,
    transport: T,
}

/// The component's `parseAnswer`: `None` for an empty body or a malformed one.
fn parse_answer(content: &str) -> Option<JsonElement> {
    if content.is_empty() {
        return None;
    }
    parse_document(content).ok()
}

/// The component's `fieldOfType` on a parsed answer.
fn field_of_kind(doc: Option<&JsonElement>, name: &str, kind: JsonKind) -> Option<String> {
    doc?.field_of_kind(name, kind).map(str::to_owned)
}

/// The component's `errorText`: the `error` string, else the raw body.
fn error_text(content: &str) -> String {
    if content.is_empty() {
        return EMPTY_ANSWER.to_owned();
    }
    field_of_kind(parse_answer(content).as_ref(), "error", JsonKind::String)
        .unwrap_or_else(|| content.to_owned())
}

/// The component's `codeOf`.
fn code_of(answer: &DanaAnswer) -> &str {
    if answer.response_code.is_empty() {
        NO_STATUS_CODE
    } else {
        &answer.response_code
    }
}

/// The component's `matrixTextOk` test (what it records is left to the caller).
fn matrix_text_problem(text: &str) -> Option<&'static str> {
    if text.is_empty() {
        return Some(MATRIX_EMPTY);
    }
    text.chars()
        .any(|c| c == '"' || c == '\\' || c < ' ')
        .then_some(MATRIX_CHARACTERS)
}

impl<T: FnMut(&[u8]) -> Option<DanaAnswer>> DanaCoordinator<T> {
    /// A new object with the interface's default URL `base_url` and poll timing `poll`, whose
    /// requests go through `transport`.
    pub(crate) fn new(base_url: &str, poll: PollPlan, transport: T) -> Self {
        Self {
            base_url: base_url.to_owned(),
            failure: None,
            poll,
            transport,
        }
    }

    fn fail(&mut self, status: &str, reason: String) -> String {
        self.failure = Some(reason);
        status.to_owned()
    }

    fn with_url<'a>(&'a self, values: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut all = vec![("baseUrl", self.base_url.as_str())];
        all.extend_from_slice(values);
        all
    }

    fn unreachable(&mut self) -> String {
        let text = interpolate(UNREACHABLE, &self.with_url(&[]));
        self.fail(STATUS_UNREACHABLE, text)
    }

    /// `answerFailure`: why an answer about `task_id` is not a success, as a failure status.
    fn answer_failure(&mut self, answer: Option<&DanaAnswer>, task_id: i64) -> String {
        let Some(answer) = answer else {
            return self.unreachable();
        };
        let code = code_of(answer).to_owned();
        let error = error_text(&answer.text());
        let id = task_id.to_string();
        if code == "404" {
            let text = interpolate(
                NOT_FOUND,
                &self.with_url(&[("taskId", &id), ("error", &error)]),
            );
            return self.fail(STATUS_UNKNOWN, text);
        }
        let text = interpolate(
            ANSWERED_HTTP,
            &self.with_url(&[("code", &code), ("taskId", &id), ("error", &error)]),
        );
        self.fail(STATUS_ERROR, text)
    }

    /// `setCoordinatorUrl`.
    pub(crate) fn set_coordinator_url(&mut self, url: &str) -> bool {
        self.failure = None;
        let trimmed = url.trim().trim_end_matches('/');
        if trimmed.is_empty() {
            self.fail(STATUS_ERROR, URL_EMPTY.to_owned());
            return false;
        }
        self.base_url = trimmed.to_owned();
        true
    }

    /// `getCoordinatorUrl`.
    pub(crate) fn coordinator_url(&self) -> &str {
        &self.base_url
    }

    /// `lastError`.
    pub(crate) fn last_error(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// `submitTask`: the task id, or 0.
    pub(crate) fn submit_task(&mut self, a: &str, b: &str) -> i64 {
        self.failure = None;
        for (name, text) in [("A", a), ("B", b)] {
            if let Some(problem) = matrix_text_problem(text) {
                self.fail(STATUS_ERROR, interpolate(problem, &[("name", name)]));
                return 0;
            }
        }
        let body = json_from_string_fields(&[("A", a), ("B", b)]);
        let request = request_bytes(
            "POST",
            &format!("{}/task", self.base_url),
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        let Some(r) = (self.transport)(&request) else {
            self.unreachable();
            return 0;
        };
        let answer = r.text();
        if r.response_code != "200" {
            let code = code_of(&r).to_owned();
            let error = error_text(&answer);
            let text = interpolate(
                REFUSED,
                &self.with_url(&[("code", &code), ("error", &error)]),
            );
            self.fail(STATUS_ERROR, text);
            return 0;
        }
        let id = field_of_kind(parse_answer(&answer).as_ref(), "taskId", JsonKind::Number);
        let task_id = id
            .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()))
            .and_then(|id| id.parse::<i64>().ok())
            .unwrap_or(0);
        if task_id <= 0 {
            let text = interpolate(NO_TASK_ID, &self.with_url(&[("answer", &answer)]));
            self.fail(STATUS_ERROR, text);
            return 0;
        }
        task_id
    }

    /// `fetchResult`: one `GET /result/N`.
    fn fetch_result(&mut self, task_id: i64) -> ResultState {
        let request = request_bytes(
            "GET",
            &format!("{}/result/{task_id}", self.base_url),
            &[],
            b"",
        );
        let r = (self.transport)(&request);
        let state = |status: &str, result: Option<String>| ResultState {
            status: status.to_owned(),
            result,
        };
        match &r {
            Some(answer) if answer.response_code == "204" => return state(STATUS_PENDING, None),
            Some(answer) if answer.response_code == "200" => {}
            _ => {
                let status = self.answer_failure(r.as_ref(), task_id);
                return state(&status, None);
            }
        }
        let body = r.as_ref().map(DanaAnswer::text).unwrap_or_default();
        let doc = parse_answer(&body);
        let id = task_id.to_string();
        let status = field_of_kind(doc.as_ref(), "status", JsonKind::String);
        match status.as_deref() {
            Some(s @ (STATUS_PENDING | STATUS_PROCESSING)) => state(s, None),
            Some(STATUS_COMPLETED) => {
                match field_of_kind(doc.as_ref(), "result", JsonKind::String) {
                    Some(product) if !product.is_empty() => state(STATUS_COMPLETED, Some(product)),
                    _ => {
                        let text = interpolate(
                            NO_RESULT,
                            &self.with_url(&[("taskId", &id), ("body", &body)]),
                        );
                        let status = self.fail(STATUS_ERROR, text);
                        state(&status, None)
                    }
                }
            }
            Some(STATUS_FAILED) => {
                let error =
                    field_of_kind(doc.as_ref(), "error", JsonKind::String).unwrap_or_default();
                let text = interpolate(TASK_FAILED, &[("taskId", &id), ("error", &error)]);
                let status = self.fail(STATUS_FAILED, text);
                state(&status, None)
            }
            _ => {
                let text = interpolate(
                    NO_STATUS,
                    &self.with_url(&[("taskId", &id), ("body", &body)]),
                );
                let status = self.fail(STATUS_ERROR, text);
                state(&status, None)
            }
        }
    }

    /// `waitForResult`: `sleep` stands for `timer.sleep(ms)` (tests pass a closure that records
    /// the pause and moves the task on, so nothing really sleeps).
    pub(crate) fn wait_for_result(
        &mut self,
        task_id: i64,
        timeout_ms: i64,
        mut sleep: impl FnMut(i64),
    ) -> Option<String> {
        self.failure = None;
        let mut pause = self.poll.first_ms;
        let mut waited = 0;
        loop {
            let rs = self.fetch_result(task_id);
            if rs.status == STATUS_COMPLETED {
                return rs.result;
            }
            if rs.status != STATUS_PENDING && rs.status != STATUS_PROCESSING {
                return None;
            }
            if timeout_ms > 0 {
                if waited >= timeout_ms {
                    let (id, waited) = (task_id.to_string(), waited.to_string());
                    let text = interpolate(
                        TIMED_OUT,
                        &[("taskId", &id), ("waited", &waited), ("state", &rs.status)],
                    );
                    self.fail(STATUS_ERROR, text);
                    return None;
                }
                if waited + pause > timeout_ms {
                    pause = timeout_ms - waited;
                }
            }
            sleep(pause);
            waited += pause;
            pause = (pause * 2).min(self.poll.max_ms);
        }
    }

    /// `status`: a task state or a failure status.
    pub(crate) fn status(&mut self, task_id: i64) -> String {
        self.failure = None;
        self.fetch_result(task_id).status
    }

    /// `cancel`: true when the coordinator answered 200.
    pub(crate) fn cancel(&mut self, task_id: i64) -> bool {
        self.failure = None;
        let request = request_bytes(
            "POST",
            &format!("{}/task/{task_id}/cancel", self.base_url),
            &[],
            b"",
        );
        let r = (self.transport)(&request);
        match &r {
            Some(answer) if answer.response_code == "200" => true,
            _ => {
                self.answer_failure(r.as_ref(), task_id);
                false
            }
        }
    }

    /// `tryResult`: the product when completed, else `None`.
    pub(crate) fn try_result(&mut self, task_id: i64) -> Option<String> {
        self.failure = None;
        let rs = self.fetch_result(task_id);
        if rs.status == STATUS_COMPLETED {
            rs.result
        } else {
            None
        }
    }
}
