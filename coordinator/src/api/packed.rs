//! Bodies posted packed (`Content-Type: application/x-packed-int-matrix`,
//! [`kernel::packed`]): a worker's product, or a task's two operands. Each
//! is turned into the JSON body it stands for, `{"result":"TEXT"}` or
//! `{"A":"TEXT","B":"TEXT"}`, before anything else reads it. So the check,
//! the store, every other coordinator, every worker and every client see
//! the contract's text, and only this project's pages, which choose to,
//! ever send the packed form.

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use kernel::packed::{MEDIA_TYPE, PackedError, unpack_task_to_json, unpack_to_text};

use super::error::ApiError;
use crate::Config;
use crate::metrics::Metrics;

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
