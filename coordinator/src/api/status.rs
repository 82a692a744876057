//! `GET /health` and `GET /stats`.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::{AppState, StatsReport};
use crate::store::StoreStats;

/// `GET /health`.
#[derive(Serialize, ToSchema)]
pub(super) struct Health {
    status: &'static str,
    service: &'static str,
}

/// `GET /health`: `{"status":"ok","service":"coordinator"}`.
#[utoipa::path(
    get,
    path = "/health",
    tag = "status",
    responses(
        (status = 200, description = "The coordinator is up", body = Health),
        (status = 503, description = "The shared Redis the tasks live in does not answer (`--redis`)", body = crate::api::openapi::ErrorBody)
    )
)]
pub(super) async fn health(
    State(state): State<AppState>,
) -> Result<Json<Health>, super::error::ApiError> {
    if !state.store_reachable().await {
        return Err(super::error::ApiError::Unavailable(
            "Redis does not answer; the coordinator reconnects by itself".to_owned(),
        ));
    }
    Ok(Json(Health {
        status: "ok",
        service: "coordinator",
    }))
}

/// `GET /stats`: the contract's four counters, then the extensions.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct StatsBody {
    total_tasks: u64,
    completed_tasks: u64,
    active_tasks: u64,
    queue_size: u64,
    failed_tasks: u64,
    requeued_tasks: u64,
    rejected_results: u64,
    held_tasks: u64,
    held_bytes: u64,
    workers_seen: usize,
    uptime_secs: u64,
    workers: Vec<WorkerLine>,
    store: StoreLine,
    /// Backup copies of parts handed out (a copy for an idle worker of a
    /// part whose holder straggles).
    backups: u64,
    /// Results for tasks already completed, from workers that held them
    /// (a copy that lost, a lease that expired): taken and ignored.
    late_results: u64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct StoreLine {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    synced: bool,
    bytes_on_disk: u64,
    batches: u64,
    records: u64,
    bytes_written: u64,
    write_failures: u64,
    slowest_write_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    failing: Option<String>,
}

impl StoreLine {
    fn of(store: StoreStats) -> Self {
        Self {
            kind: store.kind,
            path: store.path.map(|p| p.display().to_string()),
            synced: store.sync,
            bytes_on_disk: store.bytes_on_disk,
            batches: store.totals.batches,
            records: store.totals.records,
            bytes_written: store.totals.bytes,
            write_failures: store.totals.failures,
            slowest_write_ms: store.totals.slowest.as_secs_f64() * 1e3,
            failing: store.failing,
        }
    }
}

/// One worker seen in the last minute.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct WorkerLine {
    worker_id: String,
    tasks_completed: u64,
    tasks_failed: u64,
    results_rejected: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    benched_secs: Option<u64>,
    last_seen_secs_ago: u64,
    /// Its measured speed, smoothed: billions of flops of its parts' cost
    /// (their flops, and the reading of their data counted at 400 flops a
    /// byte) per second of wall time from the lease of a part to its
    /// accepted result (absent until it has computed one).
    #[serde(skip_serializing_if = "Option::is_none")]
    gflops: Option<f64>,
}

/// `GET /stats`: the contract's four counters, then the extensions (failed,
/// requeued, rejected results, held tasks and bytes, workers seen in the
/// last minute with their rejected results, bench time and measured speed,
/// uptime, backup copies and late results).
#[utoipa::path(
    get,
    path = "/stats",
    tag = "status",
    responses((status = 200, description = "The counters and the workers seen in the last minute", body = StatsBody))
)]
pub(super) async fn stats_get(
    State(state): State<AppState>,
) -> Result<Json<StatsBody>, super::error::ApiError> {
    let StatsReport {
        stats,
        uptime,
        store,
    } = state.stats_now().await?;
    let workers: Vec<WorkerLine> = stats
        .workers
        .into_iter()
        .map(|w| WorkerLine {
            worker_id: w.id.as_str().to_owned(),
            tasks_completed: w.tasks_completed,
            tasks_failed: w.tasks_failed,
            results_rejected: w.results_rejected,
            benched_secs: w.benched_for.map(|left| left.as_secs().max(1)),
            last_seen_secs_ago: w.last_seen_ago.as_secs(),
            gflops: w.gflops(),
        })
        .collect();
    Ok(Json(StatsBody {
        total_tasks: stats.total_tasks,
        completed_tasks: stats.completed_tasks,
        active_tasks: stats.active_tasks,
        queue_size: stats.queue_size,
        failed_tasks: stats.failed_tasks,
        requeued_tasks: stats.requeued_tasks,
        rejected_results: stats.rejected_results,
        held_tasks: stats.held_tasks,
        held_bytes: stats.held_bytes,
        workers_seen: workers.len(),
        uptime_secs: uptime.as_secs(),
        workers,
        store: StoreLine::of(store),
        backups: stats.backups,
        late_results: stats.late_results,
    }))
}
