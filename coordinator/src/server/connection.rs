//! Serving one connection: hyper's HTTP/1 server behind the
//! [`HeadGuard`], with the client's address and a [`ConnHandle`] on every
//! request, the guard's refusals answered with the contract's JSON error,
//! and the server's signals (drain for shutdown, close now, idle
//! connections to go because connections run short) carried out.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use super::head_guard::HeadGuard;
use super::raw_answer;
use super::{HEAD_TIMEOUT_UNDER_PRESSURE, HEADER_READ_TIMEOUT, IDLE_TIMEOUT_UNDER_PRESSURE};
use crate::api::ApiError;
use crate::client_addr::ClientAddr;
use crate::forwarded::TrustedProxies;

/// Time given to write the answer to a refused request, and to close.
pub(super) const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// After a refusal, how long what the client still sends is read and
/// dropped, so that closing does not reset the connection before the
/// client has read the answer.
const LINGER: Duration = Duration::from_secs(1);
/// Most bytes read and dropped while lingering.
const LINGER_BYTES: usize = 256 * 1024;

/// What every connection of a server follows: timeouts, and the server's
/// signals. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ConnectionRules {
    inner: Arc<Rules>,
}

#[derive(Debug)]
struct Rules {
    idle: Duration,
    trusted_proxies: TrustedProxies,
    pressure: AtomicBool,
    pressure_began: Notify,
    stop: watch::Sender<bool>,
    force: watch::Sender<bool>,
}

impl ConnectionRules {
    /// Rules closing connections idle for `idle` (shorter under pressure),
    /// and believing the `X-Forwarded-For` of `trusted_proxies`.
    pub fn new(idle: Duration, trusted_proxies: TrustedProxies) -> Self {
        Self {
            inner: Arc::new(Rules {
                idle,
                trusted_proxies,
                pressure: AtomicBool::new(false),
                pressure_began: Notify::new(),
                stop: watch::Sender::new(false),
                force: watch::Sender::new(false),
            }),
        }
    }

    /// How long a connection may stay idle now.
    pub(crate) fn idle_timeout(&self) -> Duration {
        if self.inner.pressure.load(Ordering::Relaxed) {
            self.inner.idle.min(IDLE_TIMEOUT_UNDER_PRESSURE)
        } else {
            self.inner.idle
        }
    }

    /// How long a request head may take now.
    pub(crate) fn head_timeout(&self) -> Duration {
        if self.inner.pressure.load(Ordering::Relaxed) {
            HEAD_TIMEOUT_UNDER_PRESSURE
        } else {
            HEADER_READ_TIMEOUT
        }
    }

    /// Says whether connections run short; when it starts, every idle
    /// connection looks at its (now shorter) idle time again.
    pub(crate) fn set_pressure(&self, on: bool) {
        let was = self.inner.pressure.swap(on, Ordering::Relaxed);
        if on && !was {
            self.inner.pressure_began.notify_waiters();
        }
    }

    /// Whether connections run short.
    pub(crate) fn under_pressure(&self) -> bool {
        self.inner.pressure.load(Ordering::Relaxed)
    }

    /// Every connection finishes the request it serves, then closes;
    /// submission bodies still arriving are ended.
    pub(crate) fn stop(&self) {
        self.inner.stop.send_replace(true);
    }

    /// Every connection closes now.
    pub(crate) fn force(&self) {
        self.inner.force.send_replace(true);
    }
}

/// A connection as the request handlers see it (a request extension):
/// whether it drains for shutdown.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnHandle(Arc<ConnShared>);

#[derive(Debug, Default)]
struct ConnShared {
    /// Requests in the handler.
    active: AtomicUsize,
    draining: AtomicBool,
    drain_waker: Mutex<Option<Waker>>,
    refusal: Mutex<Option<ApiError>>,
    /// The connection should end after the request it serves.
    end: Notify,
}

impl ConnHandle {
    /// Whether a request is in the handler.
    pub(crate) fn is_active(&self) -> bool {
        self.0.active.load(Ordering::Relaxed) > 0
    }

    fn begin_request(&self) -> ActiveRequest {
        self.0.active.fetch_add(1, Ordering::Relaxed);
        ActiveRequest(self.clone())
    }

    /// Whether the server is shutting down.
    pub(crate) fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::Relaxed)
    }

    /// Wakes `waker` when the connection starts draining.
    pub(crate) fn wake_on_drain(&self, waker: &Waker) {
        let mut slot = lock(&self.0.drain_waker);
        match &*slot {
            Some(known) if known.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
        drop(slot);
        if self.is_draining() {
            waker.wake_by_ref();
        }
    }

    fn drain(&self) {
        self.0.draining.store(true, Ordering::Relaxed);
        if let Some(waker) = lock(&self.0.drain_waker).take() {
            waker.wake();
        }
    }

    /// Has the connection answer `error` and close, once hyper is done
    /// with what it serves.
    pub(crate) fn refuse(&self, error: ApiError) {
        *lock(&self.0.refusal) = Some(error);
        self.0.end.notify_one();
    }

    /// Has the connection close after the request it serves.
    pub(crate) fn end_after_request(&self) {
        self.0.end.notify_one();
    }

    fn take_refusal(&self) -> Option<ApiError> {
        lock(&self.0.refusal).take()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One request in the handler; counted until dropped.
struct ActiveRequest(ConnHandle);

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.0.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The router as hyper's service for one connection.
#[derive(Clone)]
struct ConnService {
    router: Router,
    peer: SocketAddr,
    conn: ConnHandle,
    rules: ConnectionRules,
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        let proxies = &self.rules.inner.trusted_proxies;
        let client = if proxies.is_empty() {
            self.peer.ip().to_canonical()
        } else {
            proxies.client(self.peer.ip(), request.headers())
        };
        let extensions = request.extensions_mut();
        extensions.insert(ClientAddr(client));
        extensions.insert(self.conn.clone());
        let active = self.conn.begin_request();
        let router = self.router.clone();
        Box::pin(async move {
            let response = router.oneshot(request).await;
            drop(active);
            response
        })
    }
}

enum Event {
    Done(hyper::Result<()>),
    Stop,
    End,
    Force,
    Pressure,
}

/// Serves HTTP/1.1 on `io`, a connection from `peer`, until it closes or
/// `rules` end it. Malformed requests are answered with a JSON error and
/// the contract's headers, and the connection closes.
pub async fn serve_connection<IO>(io: IO, peer: SocketAddr, router: Router, rules: ConnectionRules)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = ConnHandle::default();
    let guard = HeadGuard::new(io, conn.clone(), rules.clone());
    let service = ConnService {
        router,
        peer,
        conn: conn.clone(),
        rules: rules.clone(),
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The guard times request heads and idle connections.
    builder.timer(TokioTimer::new()).header_read_timeout(None);
    let mut connection = builder.serve_connection(TokioIo::new(guard), service);
    let mut stop = rules.inner.stop.subscribe();
    let mut force = rules.inner.force.subscribe();
    let mut ending = false;
    let result = loop {
        let event = {
            let signals = async {
                tokio::select! {
                    _ = stop.wait_for(|stop| *stop), if !ending => Event::Stop,
                    () = conn.0.end.notified(), if !ending => Event::End,
                    () = rules.inner.pressure_began.notified() => Event::Pressure,
                }
            };
            tokio::select! {
                biased;
                result = poll_fn(|cx| connection.poll_without_shutdown(cx)) => Event::Done(result),
                _ = force.wait_for(|force| *force) => Event::Force,
                event = signals => event,
            }
        };
        match event {
            Event::Done(result) => break result,
            Event::Force => return,
            Event::Stop => {
                ending = true;
                conn.drain();
                Pin::new(&mut connection).graceful_shutdown();
            }
            Event::End => {
                ending = true;
                Pin::new(&mut connection).graceful_shutdown();
            }
            Event::Pressure => {}
        }
    };
    if let Err(error) = &result {
        if error.is_parse() || error.is_parse_too_large() || error.is_parse_status() {
            tracing::warn!(%error, "hyper refused a request head the guard let through");
        } else {
            tracing::debug!(%error, "connection ended with an error");
        }
    }
    let mut io = connection.into_parts().io.into_inner().into_inner();
    if let Some(error) = conn.take_refusal() {
        let answer = raw_answer::render(error).await;
        let _ = tokio::time::timeout(ANSWER_TIMEOUT, async {
            io.write_all(&answer).await?;
            io.shutdown().await?;
            linger(&mut io).await;
            Ok::<_, std::io::Error>(())
        })
        .await;
        return;
    }
    let _ = tokio::time::timeout(ANSWER_TIMEOUT, io.shutdown()).await;
}

/// Reads and drops what the client still sends, for [`LINGER`] at most.
pub(super) async fn linger<IO: AsyncRead + Unpin>(io: &mut IO) {
    let mut scratch = [0u8; 4096];
    let mut dropped = 0;
    let _ = tokio::time::timeout(LINGER, async {
        while dropped < LINGER_BYTES {
            match io.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(n) => dropped += n,
            }
        }
    })
    .await;
}
