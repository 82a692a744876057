//! Accepting connections: HTTP/1.1 with a header-read timeout, a cap on open
//! connections, and graceful shutdown.
//!
//! This replaces `axum::serve`, which sets no timer (so a client that never
//! finishes its headers holds its connection forever) and accepts without
//! limit. Here each connection is served by hyper's HTTP/1 server with
//! [`HEADER_READ_TIMEOUT`] (which also closes keep-alive connections idle
//! that long), and at most `max_connections` are open at once: beyond that
//! the accept loop waits and new clients queue in the kernel's backlog.
//! On shutdown the listener closes, every connection finishes the request it
//! is serving and closes, and the future completes when all are gone.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// How long a client may take to send a request's headers, and how long a
/// keep-alive connection may stay idle.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Pause after an accept error such as running out of file descriptors.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` until `shutdown` completes, then waits for
/// the open connections to finish.
///
/// # Errors
///
/// None at present: accept errors are logged and retried. The `Result` is
/// kept for errors the listener may report in the future.
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    max_connections: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(max_connections.max(1)));
    // Dropping `stop_tx` tells every connection to shut down gracefully;
    // every connection holds a `done_rx`, so `done_tx.closed()` completes
    // when the last one ends.
    let (stop_tx, stop_rx) = watch::channel(());
    let (done_tx, done_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    if !is_connection_error(&error) {
                        tracing::error!(%error, "accept failed");
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (router, stop_rx, done_rx) = (router.clone(), stop_rx.clone(), done_rx.clone());
        tokio::spawn(async move {
            serve_connection(stream, peer, router, stop_rx).await;
            drop(permit);
            drop(done_rx);
        });
    }
    drop(listener);
    drop(stop_tx);
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    mut stop: watch::Receiver<()>,
) {
    let _ = stream.set_nodelay(true);
    // Every request carries its connection's peer address.
    let service = TowerToHyperService::new(router.map_request(
        move |mut request: Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        },
    ));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            changed = stop.changed(), if !stopping => {
                // Err means the server is shutting down.
                if changed.is_err() {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Errors of one incoming connection, not of the listener.
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
