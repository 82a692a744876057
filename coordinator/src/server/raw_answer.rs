//! An [`ApiError`] written as a whole HTTP/1.1 answer, for requests the
//! server refuses before hyper reads them (a malformed head, a client over
//! its connection cap): the same status, JSON body and headers the router
//! would give, the contract's headers, and `connection: close`.

use axum::http::header;
use axum::response::IntoResponse;

use crate::api::ApiError;
use crate::headers::CONTRACT_HEADERS;

/// The bytes of the answer for `error`.
pub(crate) async fn render(error: ApiError) -> Vec<u8> {
    let (parts, body) = error.into_response().into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let status = parts.status;
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or("Error")
    )
    .into_bytes();
    let mut line = |name: &[u8], value: &[u8]| {
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    };
    for (name, value) in &parts.headers {
        if name != header::CONTENT_LENGTH && name != header::CONNECTION {
            line(name.as_str().as_bytes(), value.as_bytes());
        }
    }
    for (name, value) in CONTRACT_HEADERS {
        if !parts.headers.contains_key(&name) {
            line(name.as_str().as_bytes(), value.as_bytes());
        }
    }
    line(b"content-length", body.len().to_string().as_bytes());
    line(b"connection", b"close");
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn answers_carry_the_json_error_and_the_contract_headers() {
        let bytes = render(ApiError::HeadersTooLarge).await;
        let text = String::from_utf8(bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains("\r\ncontent-type: application/json"));
        assert!(head.contains(&format!("\r\ncontent-length: {}", body.len())));
        assert!(head.contains("\r\nconnection: close"));
        for (name, value) in CONTRACT_HEADERS {
            assert!(head.contains(&format!("\r\n{name}: {value}")), "{name}");
        }
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"], "Request header fields too large");
    }
}
