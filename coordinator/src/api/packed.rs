//! Bodies posted packed (`Content-Type: application/x-packed-int-matrix`,
//! [`kernel::packed`]): a worker's product, or a task's two operands. Each
//! is turned into the JSON body it stands for, `{"result":"TEXT"}` or
//! `{"A":"TEXT","B":"TEXT"}`, before anything else reads it. So the check,
//! the store, every other coordinator, every worker and every client see
//! the contract's text, and only this project's pages, which choose to,
//! ever send the packed form.
//!
//! The other way, a client that lists the media type in `Accept` gets a
//! completed integer product packed from `GET /result/N` ([`report`]): the
//! body is the product, the rest of the report is JSON in the header
//! `X-Task-Report`. Any other answer, and every answer to a client that
//! does not ask, is the contract's JSON.

use axum::body::Bytes;
use axum::http::header::{ACCEPT, ACCESS_CONTROL_EXPOSE_HEADERS, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use kernel::packed::{MEDIA_TYPE, PackedError, pack_text, unpack_task_to_json, unpack_to_text};

use super::body::header_lists;
use super::error::ApiError;
use super::report::TaskReport;
use crate::Config;
use crate::metrics::Metrics;
use crate::queue::{TaskStatus, TaskView};

/// The header of a packed report that holds the rest of the report.
pub(super) const REPORT_HEADER: &str = "x-task-report";

/// The most bytes of `X-Task-Report`: a proxy holds an answer's whole head
/// in one buffer, 4 KiB by default in nginx. A report whose parts list
/// would pass this is answered as JSON.
const MAX_REPORT_HEADER_BYTES: usize = 2048;

/// Products up to this many bytes of text are packed on the async
/// runtime; larger ones on the blocking pool.
const INLINE_PACK_BYTES: usize = 64 * 1024;

/// Bytes of the answer body around the product: `{"result":"` and `"}`.
const WRAPPER: &[u8; 13] = b"{\"result\":\"\"}";

/// What a packed body stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    /// A worker's product: `{"result":"TEXT"}`.
    Answer,
    /// A task's operands, A then B: `{"A":"TEXT","B":"TEXT"}`.
    Task,
}

/// `body` as the route reads it: as it is, or, when the request says it is
/// packed, the JSON body it stands for, held to `--max-body-bytes` like
/// any body (a packed body whose text would be over it is refused with
/// 413 before that text is made).
///
/// # Errors
///
/// [`ApiError::PayloadTooLarge`] for a text over the limit;
/// [`ApiError::BadRequest`] for bytes that are not what `form` packs, or
/// with `--plain-wire`, which takes no packed bodies.
pub(super) fn read(
    config: &Config,
    metrics: &Metrics,
    headers: &HeaderMap,
    body: Bytes,
    form: Form,
) -> Result<Bytes, ApiError> {
    if !is_packed(headers) {
        return Ok(body);
    }
    if config.edge.plain_wire {
        return Err(ApiError::BadRequest(
            "Packed bodies are not taken with --plain-wire: post JSON".to_owned(),
        ));
    }
    let max = config.max_body_bytes;
    let unpacked = match form {
        Form::Answer => unpack_to_text(&body, max.saturating_sub(WRAPPER.len())).map(|text| {
            let mut answer = Vec::with_capacity(text.len() + WRAPPER.len());
            answer.extend_from_slice(&WRAPPER[..11]);
            answer.extend_from_slice(&text);
            answer.extend_from_slice(&WRAPPER[11..]);
            answer
        }),
        Form::Task => unpack_task_to_json(&body, max),
    };
    let json = unpacked.map(Bytes::from).map_err(|error| match error {
        PackedError::TooLarge(_) => ApiError::PayloadTooLarge(max),
        other => ApiError::BadRequest(format!("Packed body: {other}")),
    })?;
    metrics.packed_body(form.route(), body.len(), json.len());
    Ok(json)
}

impl Form {
    /// The route's name in metrics.
    fn route(self) -> &'static str {
        match self {
            Self::Answer => "result",
            Self::Task => "task",
        }
    }
}

/// `GET /result/N`'s answer with the product packed, for a client that
/// asked for it (`Accept`): only a completed task whose result is an
/// integer matrix as the kernel writes it, whose report (with its parts
/// when `with_parts`) fits in [`MAX_REPORT_HEADER_BYTES`] of ASCII, and
/// never with `--plain-wire`. `None` when the contract's JSON answer is the
/// one to send.
pub(super) async fn report(
    config: &Config,
    metrics: &Metrics,
    headers: &HeaderMap,
    view: &TaskView,
    with_parts: bool,
) -> Option<Response> {
    if config.edge.plain_wire || view.status != TaskStatus::Completed || !accepts_packed(headers) {
        return None;
    }
    let mut rest = TaskReport::from_view(view).without_result();
    if with_parts {
        rest = rest.with_parts(view);
    }
    let rest = serde_json::to_string(&rest).ok()?;
    // A header carries ASCII only (a worker id may not be).
    if !rest.is_ascii() || rest.len() > MAX_REPORT_HEADER_BYTES {
        return None;
    }
    let rest = HeaderValue::from_str(&rest).ok()?;
    let text = view.result.clone()?;
    let text_len = text.len();
    let pack = move || pack_text(text.pieces().iter().map(|piece| &piece[..]), text_len);
    let packed = if text_len <= INLINE_PACK_BYTES {
        pack()
    } else {
        tokio::task::spawn_blocking(pack).await.ok()?
    }?;
    // The JSON answer: the same fields with `"result":"TEXT",` among them.
    let json_len = rest.len() + text_len + r#""result":"","#.len();
    metrics.packed_body("report", packed.len(), json_len);
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE)),
        (HeaderName::from_static(REPORT_HEADER), rest),
        (
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(REPORT_HEADER),
        ),
        (VARY, HeaderValue::from_static("Accept")),
    ];
    Some((headers, Bytes::from(packed)).into_response())
}

/// Whether the request's `Accept` lists the packed media type (with a
/// quality above zero).
fn accepts_packed(headers: &HeaderMap) -> bool {
    header_lists(headers, &ACCEPT, MEDIA_TYPE)
}

/// Whether the request says its body is packed.
fn is_packed(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(MEDIA_TYPE))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::http::HeaderValue;
    use kernel::Matrix;
    use kernel::packed::pack_i64;

    use super::*;

    fn packed_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
        headers
    }

    fn limited(max_body_bytes: usize) -> Config {
        Config {
            max_body_bytes,
            ..Config::default()
        }
    }

    #[test]
    fn the_media_type_is_read_without_its_parameters_or_case() {
        let mut headers = HeaderMap::new();
        assert!(!is_packed(&headers));
        for (value, packed) in [
            ("application/x-packed-int-matrix", true),
            ("Application/X-Packed-Int-Matrix; v=1", true),
            ("application/json", false),
            ("application/x-packed-int-matrix-2", false),
        ] {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(is_packed(&headers), packed, "{value}");
        }
    }

    #[test]
    fn a_packed_product_becomes_the_text_answer() {
        let packed = Bytes::from(pack_i64(&Matrix::new(2, 2, vec![19, 22, 43, -50]).unwrap()));
        let read = |max, body: &Bytes| {
            read(
                &limited(max),
                &Metrics::new(true),
                &packed_headers(),
                body.clone(),
                Form::Answer,
            )
        };
        let body = read(1000, &packed).unwrap();
        assert_eq!(&body[..], b"{\"result\":\"[[19,22],[43,-50]]\"}");
        // The limit counts the whole answer body.
        assert!(read(body.len(), &packed).is_ok());
        assert!(matches!(
            read(body.len() - 1, &packed),
            Err(ApiError::PayloadTooLarge(_))
        ));
        assert!(matches!(
            read(1000, &Bytes::from_static(b"[[1]]")),
            Err(ApiError::BadRequest(message)) if message.contains("XIM1")
        ));
        // Without the media type, the body is read as it is.
        let plain = read_plain(&packed);
        assert_eq!(plain, packed);
    }

    fn read_plain(body: &Bytes) -> Bytes {
        read(
            &limited(1000),
            &Metrics::new(true),
            &HeaderMap::new(),
            body.clone(),
            Form::Answer,
        )
        .unwrap()
    }

    #[test]
    fn packed_operands_become_the_task_body() {
        let mut bytes = pack_i64(&Matrix::new(1, 2, vec![1, 2]).unwrap());
        bytes.extend_from_slice(&pack_i64(&Matrix::new(2, 1, vec![3, -4]).unwrap()));
        let body = read(
            &limited(1000),
            &Metrics::new(true),
            &packed_headers(),
            Bytes::from(bytes),
            Form::Task,
        )
        .unwrap();
        assert_eq!(&body[..], br#"{"A":"[[1,2]]","B":"[[3],[-4]]"}"#);
    }

    #[test]
    fn accept_is_read_by_media_range_and_quality() {
        let mut headers = HeaderMap::new();
        assert!(!accepts_packed(&headers));
        for (value, packed) in [
            ("application/x-packed-int-matrix", true),
            (
                "application/json, Application/X-Packed-Int-Matrix;q=0.9",
                true,
            ),
            ("application/x-packed-int-matrix;q=0", false),
            (
                "application/x-packed-int-matrix; q=0.0, application/json",
                false,
            ),
            ("*/*", false),
            ("application/json", false),
            ("application/x-packed-int-matrix-2", false),
        ] {
            headers.insert(ACCEPT, HeaderValue::from_static(value));
            assert_eq!(accepts_packed(&headers), packed, "{value}");
        }
    }

    #[test]
    fn plain_wire_takes_no_packed_body() {
        let mut config = limited(1000);
        config.edge.plain_wire = true;
        let packed = Bytes::from(pack_i64(&Matrix::new(1, 1, vec![1]).unwrap()));
        assert!(matches!(
            read(&config, &Metrics::new(true), &packed_headers(), packed, Form::Answer),
            Err(ApiError::BadRequest(message)) if message.contains("--plain-wire")
        ));
    }
}
