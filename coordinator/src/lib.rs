//! The coordinator: an HTTP server that serves the Dana coordinator's endpoint
//! contract to main apps and pulling browser workers.
//!
//! Main apps `POST /task` matrix pairs and poll `GET /result/N`; workers pull
//! `GET /task/next`, compute, and `POST /task/N/result`. A task handed to a
//! worker is leased: when no answer comes within the lease it goes back to
//! the front of the queue, and after a number of attempts it fails. Finished
//! tasks are kept for a while and then evicted, and every limit (body size,
//! bytes of bodies being read, open connections, tasks held, bytes held) is
//! a [`Config`] field, so memory stays bounded.
//!
//! # Layout
//!
//! - [`config`]: [`Config`] and the named defaults.
//! - [`queue`]: the task state machine, synchronous, with time passed in.
//! - [`state`]: [`AppState`], the queue behind a lock plus the long-poll
//!   signals ([`result_waiters`] for clients waiting on results).
//! - [`api`]: routes and handlers that translate HTTP to queue calls, and the
//!   JSON [`api::ApiError`].
//! - [`plan`]: how a submitted task is queued: as it is, checked, or split;
//!   [`operands`] finds a body's matrices while checking it as JSON.
//! - [`split`]: splitting a multiplication into row-block parts and
//!   assembling their products, on text.
//! - [`task_data`], [`result_text`]: task data and result texts held as
//!   shared pieces, so splitting and assembling copy no matrix.
//! - [`body_budget`]: bounds the bytes of request bodies read at once.
//! - [`headers`]: CORS and cross-origin isolation headers, `OPTIONS`.
//! - [`static_files`]: the `webserver/` folder, without path traversal.
//! - [`server`]: the accept loop: HTTP/1.1, header-read timeout, connection
//!   cap, graceful shutdown.
//!
//! [`app`] builds the router (used by the binary and the tests); [`serve`]
//! runs it on a listener with the background tick and graceful shutdown.

pub mod api;
pub mod body_budget;
pub mod config;
pub mod headers;
pub mod operands;
pub mod plan;
pub mod queue;
pub mod result_text;
pub mod result_waiters;
pub mod server;
pub mod split;
pub mod state;
pub mod static_files;
pub mod task_data;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use tokio::net::TcpListener;

pub use config::Config;
pub use state::AppState;

use body_budget::BodyBudget;
use static_files::StaticFiles;

/// Builds every route: the API, static files as the fallback, the body
/// limit and budget, and the contract's headers on every answer. `state` should be
/// built from the same `config` ([`AppState::new`]).
pub fn app(config: Config, state: AppState) -> Router {
    let files = Arc::new(StaticFiles::new(config.static_dir.clone()));
    api::routes()
        .fallback(move |request| static_files::serve(Arc::clone(&files), request))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            BodyBudget::new(config.max_inflight_body_bytes, config.max_body_bytes),
            body_budget::limit_body_bytes,
        ))
        .layer(middleware::from_fn(headers::contract_headers))
        .with_state(state)
}

/// Serves the coordinator on `listener` until `shutdown` completes: builds
/// the state, starts the tick that requeues expired leases and evicts
/// finished tasks, logs `listening on http://ADDR`, and on shutdown ends the
/// long polls and lets requests in flight finish.
///
/// # Errors
///
/// An I/O error from the listener.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    log_static_dir(&config.static_dir);
    let state = AppState::new(&config);
    let ticker = tokio::spawn(tick_forever(state.clone()));
    let addr = listener.local_addr()?;
    tracing::info!(
        lease_secs = config.lease.as_secs_f64(),
        max_attempts = config.max_attempts,
        max_body_bytes = config.max_body_bytes,
        max_tasks = config.max_tasks,
        keep_finished_secs = config.keep_finished.as_secs_f64(),
        "listening on http://{addr}"
    );
    let on_shutdown = state.clone();
    let max_connections = config.max_connections;
    let result = server::serve_router(listener, app(config, state), max_connections, async move {
        shutdown.await;
        tracing::info!("shutting down");
        on_shutdown.begin_shutdown();
    })
    .await;
    ticker.abort();
    result
}

async fn tick_forever(state: AppState) {
    let mut interval = tokio::time::interval(config::TICK_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        state.tick(Instant::now());
    }
}

fn log_static_dir(dir: &Path) {
    match std::fs::canonicalize(dir) {
        Ok(absolute) if absolute.is_dir() => {
            tracing::info!("serving static files from {}", absolute.display());
        }
        _ => {
            let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
            tracing::warn!("static folder {} does not exist", shown.display());
        }
    }
}
