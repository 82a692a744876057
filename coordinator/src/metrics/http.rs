//! Request latency by route: a tower layer around every route of the
//! router, labelled with the route the router matched (`/result/{id}`,
//! never the path asked for, so the labels stay few). Requests no route
//! matched (static files, unknown paths) share the route `static`.
//!
//! A plain service with its own future (no boxing, no cloning of the inner
//! service per request), since it runs on every request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::response::Response;
use tower::{Layer, Service};

use super::Metrics;

/// The `route` label of requests no route matched.
pub(super) const UNMATCHED: &str = "static";

/// Layer: times every request until its answer's head is ready and
/// records it by matched route, method and status.
#[derive(Debug, Clone)]
pub(crate) struct TrackRequests {
    metrics: Arc<Metrics>,
}

impl TrackRequests {
    /// Records into `metrics`.
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for TrackRequests {
    type Service = Tracked<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Tracked {
            inner,
            metrics: Arc::clone(&self.metrics),
        }
    }
}

/// A service whose requests are timed (see [`TrackRequests`]).
#[derive(Debug, Clone)]
pub(crate) struct Tracked<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> Service<Request> for Tracked<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let route = self.metrics.route_label(
            request
                .extensions()
                .get::<MatchedPath>()
                .map_or(UNMATCHED, MatchedPath::as_str),
        );
        let method = method_label(request.method());
        TrackedFuture {
            started,
            route,
            method,
            metrics: Arc::clone(&self.metrics),
            inner: self.inner.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's future, timed.
    pub(crate) struct TrackedFuture<F> {
        #[pin]
        inner: F,
        started: Instant,
        route: Arc<str>,
        method: &'static str,
        metrics: Arc<Metrics>,
    }
}

impl<F, E> Future for TrackedFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = std::task::ready!(this.inner.poll(cx));
        if let Ok(response) = &output {
            this.metrics.request(
                Arc::clone(this.route),
                this.method,
                response.status().as_u16(),
                this.started.elapsed(),
            );
        }
        Poll::Ready(output)
    }
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
