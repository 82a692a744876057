//! `GET /metrics` (Prometheus text format) and `GET /events` (the
//! dashboard's snapshots as server-sent events).

use std::convert::Infallible;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};

use super::error::ApiError;
use super::openapi::ErrorBody;
use crate::metrics;
use crate::state::AppState;

/// `GET /metrics`: every metric in the Prometheus text format (0.0.4).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "watch",
    responses((status = 200, description = "Every metric in the Prometheus text format 0.0.4", body = String, content_type = "text/plain"))
)]
pub(super) async fn metrics_get(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state.metrics_text()?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(metrics::CONTENT_TYPE),
        )],
        text,
    )
        .into_response())
}

/// `GET /events`: a `snapshot` event with the dashboard's snapshot now and
/// every second after; 503 when too many dashboards follow already.
#[utoipa::path(
    get,
    path = "/events",
    tag = "watch",
    responses(
        (status = 200, description = "Server-sent events, one `snapshot` event a second, each a JSON `Snapshot`, until the client goes away", body = String, content_type = "text/event-stream"),
        (status = 503, description = "Too many dashboards follow already; try again after `Retry-After` seconds", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait before trying again")))
    )
)]
pub(super) async fn events_get(
    State(state): State<AppState>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let snapshots = state.snapshots()?;
    Ok(Sse::new(snapshots.map(|snapshot| {
        Ok(
            match Event::default().event("snapshot").json_data(&snapshot) {
                Ok(event) => event,
                Err(e) => Event::default().event("error").data(e.to_string()),
            },
        )
    })))
}
