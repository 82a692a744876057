//! Request latency by route: a middleware around every route of the
//! router, labelled with the route the router matched (`/result/{id}`,
//! never the path asked for, so the labels stay few). Requests no route
//! matched (static files, unknown paths) share the route `static`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use super::Metrics;

/// The `route` label of requests no route matched.
const UNMATCHED: &str = "static";

/// Middleware: times the request until its answer's head is ready and
/// records it by matched route, method and status.
pub(crate) async fn track_requests(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let method = method_label(request.method());
    let response = next.run(request).await;
    metrics.request(route, method, response.status().as_u16(), started.elapsed());
    response
}

/// The method as a label: the standard ones by name, anything else
/// `other` (clients can send any token as a method).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}
