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
//! The request path runs top to bottom; each layer only calls the one
//! below it.
//!
//! - HTTP edge: [`server`] (the accept loop and each connection: request
//!   heads checked before hyper reads them, idle and head timeouts,
//!   connection caps in total and per address, bounded shutdown),
//!   `headers` (CORS and cross-origin isolation on every answer,
//!   `OPTIONS`), [`body_budget`] (bytes of request bodies being received,
//!   in total and per address), `request_body` (bodies refused, metered
//!   and timed as they arrive), `request_decoding` (gzip request bodies
//!   inflated as they arrive, held to the body limit), `rate_limit`
//!   (requests per second per
//!   address), [`forwarded`] (the client behind a trusted proxy),
//!   `static_files` (the
//!   `webserver/` folder, without path traversal), and `api` (routes and
//!   handlers that parse a request, call one use case, and write the
//!   answer, errors as `{"error":"..."}`; a split task's shared operand
//!   by content address for workers that ask). Answers are compressed
//!   for clients that send `Accept-Encoding` (tower-http's
//!   `CompressionLayer`), unless `--plain-wire`. [`client_addr`] names the
//!   client a request comes from ([`ClientAddr`], a request extension),
//!   for limits that key on it.
//! - Use cases: [`state`], where [`AppState`] is the only door to the task
//!   state: submit, lease, answer, release, view, stats, tick. It passes
//!   each change record on to the log and the waiting clients.
//! - Rules: `queue`, the task state machine, synchronous, with time passed
//!   in; every operation returns the [`Changes`] it made.
//! - Keeping: `store`, where the change records go: nowhere (in memory
//!   only) or a data directory, synced before a request is acknowledged,
//!   and read back at start.
//! - What the rules work on: `plan` (a submitted body read as JSON once and
//!   turned into a task, checked, or split into parts), `check` (how a
//!   result is checked, opaque to the queue), `shared_text` (task data and
//!   results as shared pieces of bytes) and `worker_answer` (a worker's
//!   answer body).
//! - Watching it run: [`metrics`] (Prometheus counters, gauges and
//!   histograms that follow the change record, request latency by route,
//!   the dashboard's snapshot); `api` serves them on `GET /metrics`,
//!   `GET /events` and the OpenAPI description on `GET /openapi.json`.
//! - [`config`]: [`Config`] and the named defaults.
//!
//! [`app`] builds the router (used by the binary and the tests); [`serve`]
//! runs it on a listener with the background tick and graceful shutdown.

mod api;
pub mod body_budget;
mod check;
pub mod client_addr;
pub mod config;
pub mod forwarded;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod headers;
mod id_map;
pub mod metrics;
mod plan;
mod queue;
mod rate_limit;
mod request_body;
mod request_decoding;
pub mod server;
mod shared_text;
pub mod state;
mod static_files;
mod store;
mod worker_answer;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::{Extension, Router};
use tokio::net::TcpListener;

pub use api::{ApiError, OPERAND_CACHE_ENTRIES};
pub use check::{MAX_ELEMENT_TEXT_BYTES, Quorum};
pub use client_addr::ClientAddr;
pub use config::Config;
pub use queue::{
    Asker, Change, Changes, ClientKey, Lease, PRESSURE_KEEP_FLOOR, PartPlace, PartRef, PartView,
    PartsProgress, QueueError, RELEASE_PAUSE, RequeueReason, Stats, TASK_OVERHEAD_BYTES, TaskId,
    TaskStatus, TaskView, WORKER_SEEN_WINDOW, WorkerId, WorkerStats,
};
pub use shared_text::SharedText;
pub use state::{AppState, Caller, KnownState, StatsReport, UseCaseError};
pub use store::{StoreError, StoreStats, SyncPolicy, Totals};

use api::GZIP_LEVEL;
use body_budget::BodyBudget;
use kernel::packed::MEDIA_TYPE;
use rate_limit::RateLimit;
use request_body::{BodyLimits, Pace};
use request_decoding::Decoding;
use static_files::StaticFiles;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::compression::{CompressionLayer, CompressionLevel};

/// Builds every route: the API, static files as the fallback, the body
/// limit, budget and pace, the rate limit per address (when configured),
/// and the contract's headers on every answer. `state` should be built
/// from the same `config` ([`AppState::new`]).
pub fn app(config: Config, state: AppState) -> Router {
    let files = Arc::new(StaticFiles::new(config.static_dir.clone()));
    let metrics = Arc::clone(state.metrics());
    let edge = &config.edge;
    let bodies = BodyLimits {
        budget: BodyBudget::new(
            config.max_inflight_body_bytes.max(config.max_body_bytes),
            // One client can always have one largest body in flight.
            edge.max_inflight_body_bytes_per_client
                .max(config.max_body_bytes),
        ),
        max_body_bytes: config.max_body_bytes,
        pace: Pace {
            min_bytes_per_sec: edge.body_min_bytes_per_sec.max(1),
            grace: edge.body_grace,
            budget_wait: edge.body_budget_wait,
        },
        state: state.clone(),
    };
    let mut router =
        api::routes().fallback(move |request| static_files::serve(Arc::clone(&files), request));
    if metrics.is_enabled() {
        router = router.layer(metrics::TrackRequests::new(metrics));
    }
    let decoding = Decoding {
        max_body_bytes: config.max_body_bytes,
        enabled: !edge.plain_wire,
    };
    router = router
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(Extension(Arc::new(api::OperandCache::default())))
        .layer(middleware::from_fn_with_state(
            decoding,
            request_decoding::decode_bodies,
        ))
        .layer(middleware::from_fn_with_state(
            bodies,
            request_body::meter_bodies,
        ));
    if let Some(limit) = RateLimit::new(edge.rate_limit_per_sec, edge.rate_limit_burst) {
        router = router.layer(middleware::from_fn_with_state(
            limit,
            rate_limit::limit_rate,
        ));
    }
    if !edge.plain_wire {
        // Only for clients that ask (`Accept-Encoding`). zstd (at its
        // default level) when it is offered, as browsers do: it writes
        // 28 MB of matrix text in about 0.25 s, to 39%. Else gzip at
        // [`GZIP_LEVEL`], 3: twice as fast as level 4 for 1% more.
        // An answer the inner layer compressed is left as it is. A packed
        // product is not compressed: it is compact already. gzip took only
        // 6% more off an n = 2048 product (12.4 MB to 11.6 MB), for about
        // 0.2 s of a core per read, paid again by every client and longer
        // than the bytes it saves take on links of 1 Gbit/s.
        let worth_it = || DefaultPredicate::new().and(NotForContentType::const_new(MEDIA_TYPE));
        router = router
            .layer(CompressionLayer::new().no_gzip().compress_when(worth_it()))
            .layer(
                CompressionLayer::new()
                    .no_zstd()
                    .quality(CompressionLevel::Precise(GZIP_LEVEL as i32))
                    .compress_when(worth_it()),
            );
    }
    router
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
/// An I/O error from the listener, or the data directory that cannot be
/// opened (in use, of another format version, unreadable).
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    log_static_dir(&config.static_dir);
    let state = AppState::connect(&config)
        .await
        .map_err(std::io::Error::other)?;
    log_store(&config);
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
    let closing = state.clone();
    let (config_for_app, state) = (config.clone(), state);
    let options = server::ServeOptions::from_config(&config);
    let result = server::serve_router(listener, app(config_for_app, state), options, async move {
        shutdown.await;
        tracing::info!("shutting down");
        on_shutdown.begin_shutdown();
    })
    .await;
    ticker.abort();
    closing.close();
    result
}

fn log_store(config: &Config) {
    if config.redis.is_some() {
        return; // said when connecting: what Redis keeps
    }
    match (&config.data_dir, config.sync) {
        (None, _) => {
            tracing::warn!("in memory only: tasks and results are lost when the process stops")
        }
        (Some(dir), SyncPolicy::Always) => {
            tracing::info!(data_dir = %dir.display(), "durable: writes are synced before they are acknowledged");
        }
        (Some(dir), SyncPolicy::Never) => tracing::warn!(
            data_dir = %dir.display(),
            "--fsync=false: writes are acknowledged before they are synced; a machine crash can lose the last ones"
        ),
    }
}

async fn tick_forever(state: AppState) {
    let mut interval = tokio::time::interval(config::TICK_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        state.housekeep(Instant::now()).await;
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
