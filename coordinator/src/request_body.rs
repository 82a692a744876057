//! Reading request bodies without letting a client stall the server: the
//! middleware refuses a declared `Content-Length` over the limit before a
//! byte of the body is read (so hyper never sends `100 Continue` for it),
//! refuses submissions once shutdown has begun, and wraps every other body
//! in a [`MeteredBody`] that
//!
//! - takes room in the [`BodyBudget`] for each frame as it arrives (in
//!   total and for the client's address), waiting for room at most
//!   `body_budget_wait` (then 503);
//! - holds the body to a least average rate after a grace time: a body
//!   that has received `r` bytes must have done so within `grace +
//!   r / min_rate` of its head (else 408), so a client that sends one byte
//!   and stops is cut off after the grace time;
//! - ends a submission's body when the connection drains for shutdown
//!   (503), so a stalled upload cannot hold the process.
//!
//! The handler sees a body error and answers something; the middleware
//! then answers with the reason the body was stopped instead. The budget
//! taken is given back once the answer is ready.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::api::ApiError;
use crate::body_budget::{BodyBudget, Claim};
use crate::client_addr::ClientAddr;
use crate::server::ConnHandle;
use crate::state::AppState;

/// Why a body was stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BodyStop {
    /// It arrived slower than the least rate (bytes per second).
    #[error("request body arrived slower than {0} bytes/s")]
    TooSlow(u64),
    /// It waited longer than allowed (seconds) for room in the budget.
    #[error("no room for the request body within {0} s")]
    NoRoom(u64),
    /// The server is shutting down and takes no new submissions.
    #[error("the server is shutting down")]
    ShuttingDown,
}

impl BodyStop {
    /// The answer for a request whose body was stopped.
    pub(crate) fn to_api_error(self) -> ApiError {
        match self {
            Self::TooSlow(rate) => ApiError::BodyTooSlow(rate),
            Self::NoRoom(_) => {
                ApiError::Unavailable("Too many uploads in progress; try again later".to_owned())
            }
            Self::ShuttingDown => shutting_down(),
        }
    }
}

fn shutting_down() -> ApiError {
    ApiError::Unavailable("The server is shutting down; submit elsewhere or later".to_owned())
}

/// The middleware's settings.
#[derive(Debug, Clone)]
pub(crate) struct BodyLimits {
    /// Bytes of bodies being received at once.
    pub(crate) budget: BodyBudget,
    /// Largest body accepted.
    pub(crate) max_body_bytes: usize,
    /// How bodies are timed.
    pub(crate) pace: Pace,
    /// Whether shutdown has begun.
    pub(crate) state: AppState,
}

/// How long a body may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    /// Least average rate after the grace time, bytes per second (at
    /// least 1).
    pub(crate) min_bytes_per_sec: u64,
    /// Time every body gets before its rate counts.
    pub(crate) grace: Duration,
    /// How long a frame may wait for room in the budget.
    pub(crate) budget_wait: Duration,
}

impl Pace {
    /// When a body that has received `received` bytes since `started`
    /// must have received more.
    fn deadline(&self, started: Instant, received: u64) -> Instant {
        let rate = u128::from(self.min_bytes_per_sec.max(1));
        let nanos = u128::from(received) * 1_000_000_000 / rate;
        let earned = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        started + self.grace + earned
    }
}

/// What a request's body and its middleware share.
#[derive(Debug)]
struct Upload {
    claim: Claim,
    stopped: OnceLock<BodyStop>,
}

/// The declared `Content-Length`, when there is one that reads as a number.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Middleware: see the module docs.
pub(crate) async fn meter_bodies(
    State(limits): State<BodyLimits>,
    request: Request,
    next: Next,
) -> Response {
    let declared = declared_length(request.headers());
    if declared.is_some_and(|length| length > limits.max_body_bytes as u64) {
        return ApiError::PayloadTooLarge(limits.max_body_bytes).into_response();
    }
    let submission = request.method() == Method::POST && request.uri().path() == "/task";
    if submission && limits.state.is_shutting_down() {
        return shutting_down().into_response();
    }
    let has_body = match declared {
        Some(length) => length > 0,
        None => request.headers().contains_key(header::TRANSFER_ENCODING),
    };
    if !has_body {
        return next.run(request).await;
    }
    let client = ClientAddr::of(request.extensions()).key();
    let conn = request.extensions().get::<ConnHandle>().cloned();
    let upload = Arc::new(Upload {
        claim: limits.budget.claim(client),
        stopped: OnceLock::new(),
    });
    let (parts, body) = request.into_parts();
    let body = MeteredBody {
        inner: body,
        upload: Arc::clone(&upload),
        held: None,
        room: None,
        room_deadline: None,
        pace: limits.pace,
        started: Instant::now(),
        received: 0,
        timer: None,
        drain: if submission { conn } else { None },
        ended: false,
        client,
    };
    let response = next.run(Request::from_parts(parts, Body::new(body))).await;
    match upload.stopped.get() {
        Some(stop) => stop.to_api_error().into_response(),
        None => response,
    }
}

/// A request body that takes budget for each frame and keeps to its pace
/// (see the module docs).
struct MeteredBody {
    inner: Body,
    upload: Arc<Upload>,
    /// A data frame received but not yet given out: waiting for room.
    held: Option<Bytes>,
    /// Resolves when budget is given back.
    room: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// When the held frame stops waiting for room.
    room_deadline: Option<Instant>,
    pace: Pace,
    started: Instant,
    received: u64,
    /// Armed at or before the next deadline; re-armed when it fires early.
    timer: Option<Pin<Box<Sleep>>>,
    /// The connection, for a body that ends when it drains.
    drain: Option<ConnHandle>,
    ended: bool,
    client: IpAddr,
}

impl MeteredBody {
    fn stop(&mut self, stop: BodyStop) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let _ = self.upload.stopped.set(stop);
        self.ended = true;
        self.held = None;
        tracing::debug!(client = %self.client, %stop, "request body stopped");
        Poll::Ready(Some(Err(axum::Error::new(stop))))
    }

    /// Polls the timer for `deadline`; `Ready` when the deadline has
    /// passed. An earlier timer that fires is re-armed for `deadline`.
    fn poll_deadline(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        loop {
            if Instant::now() >= deadline {
                return Poll::Ready(());
            }
            let timer = self
                .timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            if timer.deadline() > deadline {
                timer.as_mut().reset(deadline);
            }
            ready!(timer.as_mut().poll(cx));
            timer.as_mut().reset(deadline);
        }
    }

    /// The held frame, when there is room for it now.
    fn try_give(&mut self) -> Option<Bytes> {
        let length = self.held.as_ref()?.len();
        if !self.upload.claim.try_take(length) {
            return None;
        }
        self.room = None;
        self.room_deadline = None;
        self.held.take()
    }

    /// Gives out the held frame once there is room for it.
    fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<Result<Bytes, BodyStop>> {
        loop {
            if let Some(data) = self.try_give() {
                return Poll::Ready(Ok(data));
            }
            let wait = self.pace.budget_wait;
            let deadline = *self
                .room_deadline
                .get_or_insert_with(|| Instant::now() + wait);
            if self.poll_deadline(cx, deadline).is_ready() {
                return Poll::Ready(Err(BodyStop::NoRoom(wait.as_secs())));
            }
            if let Some(room) = &mut self.room {
                ready!(room.as_mut().poll(cx));
                self.room = None;
                continue;
            }
            // Listen first, then look again: bytes given back in between
            // are not missed.
            let budget = self.upload.claim.budget().clone();
            let mut room: Pin<Box<dyn Future<Output = ()> + Send>> =
                Box::pin(async move { budget.freed().await });
            if room.as_mut().poll(cx).is_ready() {
                continue;
            }
            self.room = Some(room);
            if let Some(data) = self.try_give() {
                return Poll::Ready(Ok(data));
            }
            return Poll::Pending;
        }
    }
}

impl http_body::Body for MeteredBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        if let Some(conn) = &this.drain
            && conn.is_draining()
        {
            return this.stop(BodyStop::ShuttingDown);
        }
        if this.held.is_some() {
            return match ready!(this.poll_room(cx)) {
                Ok(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                Err(stop) => this.stop(stop),
            };
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => {
                    this.received += data.len() as u64;
                    this.held = Some(data);
                    match ready!(this.poll_room(cx)) {
                        Ok(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                        Err(stop) => this.stop(stop),
                    }
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            Poll::Ready(None) => {
                this.ended = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error))),
            Poll::Pending => {
                let deadline = this.pace.deadline(this.started, this.received);
                if this.poll_deadline(cx, deadline).is_ready() {
                    return this.stop(BodyStop::TooSlow(this.pace.min_bytes_per_sec));
                }
                if let Some(conn) = &this.drain {
                    conn.wake_on_drain(cx.waker());
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || (self.held.is_none() && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.inner.size_hint();
        if let Some(held) = &self.held {
            let held = held.len() as u64;
            hint.set_lower(hint.lower() + held);
            if let Some(upper) = hint.upper() {
                hint.set_upper(upper + held);
            }
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_earns_time_as_it_arrives() {
        let pace = Pace {
            min_bytes_per_sec: 1000,
            grace: Duration::from_secs(10),
            budget_wait: Duration::from_secs(5),
        };
        let start = Instant::now();
        assert_eq!(pace.deadline(start, 0), start + Duration::from_secs(10));
        assert_eq!(
            pace.deadline(start, 2500),
            start + Duration::from_millis(12_500)
        );
    }

    #[test]
    fn declared_lengths_are_read_from_the_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(declared_length(&headers), None);
        headers.insert(
            header::CONTENT_LENGTH,
            axum::http::HeaderValue::from_static("67108865"),
        );
        assert_eq!(declared_length(&headers), Some(67_108_865));
    }
}
