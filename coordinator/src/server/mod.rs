//! Accepting connections and serving them, so that no client, broken or
//! hostile, can stall the server for others.
//!
//! This replaces `axum::serve`, which sets no timer and accepts without
//! limit. Here:
//!
//! - at most `max_connections` are open at once, fitted to the open-file
//!   limit ([`fd_limit`]); beyond it new clients wait in the kernel's
//!   backlog. One address may hold at most `max_connections_per_client`
//!   (more are answered 429 and closed); trusted proxies are exempt.
//! - a connection idle between requests for `idle` is closed, and once
//!   three quarters of the connections are open, idle ones go after
//!   [`IDLE_TIMEOUT_UNDER_PRESSURE`] and request heads get
//!   [`HEAD_TIMEOUT_UNDER_PRESSURE`], so idle sockets cannot lock others out.
//! - every request head is read before hyper reads it (`head_guard`), so
//!   a malformed request gets the contract's JSON error and headers rather
//!   than hyper's empty answer.
//! - on shutdown the listener closes at once, every connection finishes
//!   the request it serves and closes, and whatever is still open after
//!   `shutdown_grace` is closed, so the process exits in bounded time.
//!
//! The request extensions carry the [`ClientAddr`] (the peer, or behind a
//! trusted proxy the address it forwarded) and the connection's handle.

mod chunked;
mod connection;
pub mod fd_limit;
mod head_check;
mod head_guard;
mod per_client;
mod raw_answer;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

pub(crate) use connection::ConnHandle;
pub use connection::{ConnectionRules, serve_connection};

use crate::api::ApiError;
use crate::client_addr::ClientAddr;
use crate::config::Config;
use crate::forwarded::TrustedProxies;
use per_client::PerClient;

/// How long a client may take to send a request head, from its first byte.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may stay idle while connections run short.
pub const IDLE_TIMEOUT_UNDER_PRESSURE: Duration = Duration::from_secs(1);
/// How long a request head may take while connections run short.
pub const HEAD_TIMEOUT_UNDER_PRESSURE: Duration = Duration::from_secs(2);

/// Pause after an accept error such as running out of file descriptors.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// Most connections over their address's cap being answered at once; more
/// are closed without an answer.
const REFUSING_AT_ONCE: usize = 64;

/// What the accept loop enforces.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Most connections open at once (lowered to fit the open-file limit).
    pub max_connections: usize,
    /// Most connections open at once from one address; 0 is no cap.
    pub max_connections_per_client: usize,
    /// How long a connection may stay idle between requests.
    pub idle: Duration,
    /// Proxies whose `X-Forwarded-For` names the client; they are not
    /// held to the per-address connection cap.
    pub trusted_proxies: TrustedProxies,
    /// Time given to requests in flight once shutdown begins.
    pub shutdown_grace: Duration,
}

impl ServeOptions {
    /// The options `config` asks for.
    pub fn from_config(config: &Config) -> Self {
        Self {
            max_connections: config.max_connections,
            max_connections_per_client: config.edge.max_connections_per_client,
            idle: config.edge.idle,
            trusted_proxies: config.edge.trusted_proxies.clone(),
            shutdown_grace: config.edge.shutdown_grace,
        }
    }
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self::from_config(&Config::default())
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then waits for
/// the open connections to finish, at most `shutdown_grace`.
///
/// # Errors
///
/// None at present: accept errors are logged and retried. The `Result` is
/// kept for errors the listener may report in the future.
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let cap = fd_limit::fit_connections(options.max_connections);
    let high_water = (cap - cap / 4).max(1);
    let low_water = cap / 2;
    let rules = ConnectionRules::new(options.idle, options.trusted_proxies.clone());
    let permits = Arc::new(Semaphore::new(cap));
    let per_client = PerClient::new(options.max_connections_per_client);
    let refusing = Arc::new(Semaphore::new(REFUSING_AT_ONCE));
    // Every connection holds a `done_rx`, so `done_tx.closed()` completes
    // when the last one ends.
    let (done_tx, done_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        if permits.available_permits() == 0 {
            rules.set_pressure(true);
        }
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
        if cap - permits.available_permits() >= high_water {
            rules.set_pressure(true);
        }
        let admitted = if options.trusted_proxies.contains(peer.ip()) {
            per_client.exempt()
        } else {
            match per_client.admit(ClientAddr(peer.ip()).key()) {
                Some(admitted) => admitted,
                None => {
                    tracing::debug!(%peer, "connection over the address's cap refused");
                    refuse(stream, &refusing);
                    continue;
                }
            }
        };
        let (router, rules, permits, done_rx) = (
            router.clone(),
            rules.clone(),
            Arc::clone(&permits),
            done_rx.clone(),
        );
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            serve_connection(stream, peer, router, rules.clone()).await;
            drop(admitted);
            drop(permit);
            if rules.under_pressure() && cap - permits.available_permits() < low_water {
                rules.set_pressure(false);
            }
            drop(done_rx);
        });
    }
    drop(listener);
    rules.stop();
    drop(done_rx);
    tokio::select! {
        () = done_tx.closed() => {}
        () = tokio::time::sleep(options.shutdown_grace) => {
            tracing::warn!(
                grace_secs = options.shutdown_grace.as_secs_f64(),
                "closing the connections still open after the shutdown grace"
            );
            rules.force();
            done_tx.closed().await;
        }
    }
    Ok(())
}

/// Answers a connection over its address's cap with 429 and closes it
/// (closes it without an answer when many are being refused already).
fn refuse(stream: TcpStream, refusing: &Arc<Semaphore>) {
    let Ok(permit) = Arc::clone(refusing).try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let mut stream = stream;
        let answer = raw_answer::render(ApiError::TooManyConnections).await;
        let _ = tokio::time::timeout(connection::ANSWER_TIMEOUT, async {
            stream.write_all(&answer).await?;
            stream.shutdown().await?;
            connection::linger(&mut stream).await;
            Ok::<_, std::io::Error>(())
        })
        .await;
        drop(permit);
    });
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
