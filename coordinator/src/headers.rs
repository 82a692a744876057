//! The headers every answer carries, and the answer to `OPTIONS`.
//!
//! One middleware wraps the whole router, so API answers, static files,
//! errors (404, 413, ...) and preflight answers all get the CORS headers and
//! the two cross-origin isolation headers the Dana WebAssembly runtime needs
//! (it uses `SharedArrayBuffer`).

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The headers of the contract, in its order.
pub(crate) const CONTRACT_HEADERS: [(HeaderName, &str); 5] = [
    (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
    (
        header::ACCESS_CONTROL_ALLOW_METHODS,
        "GET, POST, PUT, OPTIONS",
    ),
    (header::ACCESS_CONTROL_ALLOW_HEADERS, "Content-Type"),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
    (
        HeaderName::from_static("cross-origin-embedder-policy"),
        "require-corp",
    ),
];

/// Middleware: answers `OPTIONS` on any path with an empty 200, and adds
/// [`CONTRACT_HEADERS`] to every answer.
pub(crate) async fn contract_headers(request: Request, next: Next) -> Response {
    let mut response = if request.method() == Method::OPTIONS {
        (
            StatusCode::OK,
            [(header::CONTENT_LENGTH, HeaderValue::from(0))],
        )
            .into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    for (name, value) in CONTRACT_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
