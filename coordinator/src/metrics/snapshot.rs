//! The dashboard's snapshot: the queue's counters, the recent figures and
//! the limits in one JSON object, sent on `GET /events` every second.
//!
//! The page works out rates (tasks and GFLOP/s per second) from the
//! differences between snapshots, so a snapshot carries running totals.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use utoipa::ToSchema;

use super::Metrics;
use crate::config::Config;
use crate::state::StatsReport;

/// One snapshot of the coordinator for the dashboard.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// When it was taken, in milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// Seconds since the coordinator started.
    pub uptime_secs: u64,
    /// Tasks ever submitted (parts included).
    pub submitted_tasks: u64,
    /// Tasks ever completed (parts and split tasks included).
    pub completed_tasks: u64,
    /// Tasks failed.
    pub failed_tasks: u64,
    /// Tasks pending now.
    pub pending_tasks: u64,
    /// Tasks processing now.
    pub processing_tasks: u64,
    /// Times tasks went back to the queue after their lease expired.
    pub requeued_tasks: u64,
    /// Results that failed their check.
    pub rejected_results: u64,
    /// Tasks held now.
    pub held_tasks: u64,
    /// Bytes held now.
    pub held_bytes: u64,
    /// Floating point operations of the checked products completed.
    pub flops_completed: u64,
    /// Tasks completed in the last [`super::LATENCY_WINDOW`].
    pub latency_samples: usize,
    /// Median end-to-end time of those, in milliseconds.
    pub latency_p50_ms: Option<f64>,
    /// 99th percentile end-to-end time of those, in milliseconds.
    pub latency_p99_ms: Option<f64>,
    /// Long polls open now.
    pub long_polls: i64,
    /// Dashboards following `GET /events` now.
    pub event_streams: i64,
    /// Workers seen in the last minute.
    pub workers: Vec<SnapshotWorker>,
    /// The latest failures, rejected results and expired leases, newest
    /// first.
    pub problems: Vec<SnapshotProblem>,
    /// The coordinator's limits.
    pub limits: Limits,
}

/// One worker's line on the dashboard.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotWorker {
    /// The id it gives itself.
    pub worker_id: String,
    /// Tasks it completed.
    pub tasks_completed: u64,
    /// Errors it posted plus leases it let expire.
    pub tasks_failed: u64,
    /// Its results that failed their check.
    pub results_rejected: u64,
    /// Seconds it still gets no tasks after repeated rejections.
    pub benched_secs: Option<u64>,
    /// Seconds since it last asked for a task or posted an answer.
    pub last_seen_secs_ago: u64,
    /// GFLOP/s of checked products it delivered over the last
    /// [`super::WORK_WINDOW`].
    pub gflops: f64,
    /// Its measured speed in GFLOP/s (reading its part's data included),
    /// that split tasks' parts are sized by; absent until measured.
    pub speed_gflops: Option<f64>,
}

/// A failure, rejected result or expired lease on the dashboard.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotProblem {
    /// When, in milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// The task.
    pub task_id: u64,
    /// `failed`, `rejected` or `lease expired`.
    pub kind: &'static str,
    /// The worker involved, when known.
    pub worker_id: Option<String>,
    /// What went wrong.
    pub error: String,
}

/// The limits the coordinator runs with (see [`Config`]).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Seconds a worker holds a task.
    pub lease_secs: u64,
    /// Hand-outs before a task fails.
    pub max_attempts: u32,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Most tasks held.
    pub max_tasks: usize,
    /// Most bytes held.
    pub max_held_bytes: usize,
    /// Seconds a finished task is kept.
    pub keep_finished_secs: u64,
    /// Longest long poll, in seconds.
    pub max_wait_secs: u64,
    /// Most open connections.
    pub max_connections: usize,
    /// Whether results are checked.
    pub verify: bool,
    /// Smallest product split into parts, in floating point operations
    /// (`None`: never split).
    pub split_min_flops: Option<u64>,
    /// Most parts of a split task.
    pub max_parts: usize,
    /// Rejected results in a row that bench a worker.
    pub reject_limit: u32,
    /// Seconds a benched worker gets no tasks.
    pub bench_secs: u64,
}

impl Limits {
    /// The limits of `config`.
    pub fn of(config: &Config) -> Self {
        Self {
            lease_secs: config.lease.as_secs(),
            max_attempts: config.max_attempts,
            max_body_bytes: config.max_body_bytes,
            max_tasks: config.max_tasks,
            max_held_bytes: config.max_held_bytes,
            keep_finished_secs: config.keep_finished.as_secs(),
            max_wait_secs: config.max_wait.as_secs(),
            max_connections: config.max_connections,
            verify: config.verify,
            split_min_flops: config.split_min_flops,
            max_parts: config.max_parts,
            reject_limit: config.reject_limit,
            bench_secs: config.bench_time.as_secs(),
        }
    }
}

impl Snapshot {
    /// The snapshot of `report` (the queue's counters as of `now`) with
    /// `metrics`' recent figures and `config`'s limits.
    pub(crate) fn build(
        report: StatsReport,
        metrics: &Metrics,
        config: &Config,
        now: Instant,
    ) -> Self {
        let (latency, gflops, problems) = metrics.recent(now);
        let stats = report.stats;
        let workers = stats
            .workers
            .into_iter()
            .map(|w| SnapshotWorker {
                gflops: gflops.get(&w.id).copied().unwrap_or(0.0),
                speed_gflops: w.gflops(),
                worker_id: w.id.as_str().to_owned(),
                tasks_completed: w.tasks_completed,
                tasks_failed: w.tasks_failed,
                results_rejected: w.results_rejected,
                benched_secs: w.benched_for.map(|left| left.as_secs().max(1)),
                last_seen_secs_ago: w.last_seen_ago.as_secs(),
            })
            .collect();
        let problems = problems
            .into_iter()
            .map(|p| SnapshotProblem {
                unix_ms: unix_ms(p.at),
                task_id: p.task.0,
                kind: p.kind,
                worker_id: p.worker.map(|w| w.as_str().to_owned()),
                error: p.error,
            })
            .collect();
        let ms = |secs: Option<f64>| secs.map(|s| (s * 1e6).round() / 1e3);
        Self {
            unix_ms: unix_ms(SystemTime::now()),
            uptime_secs: report.uptime.as_secs(),
            submitted_tasks: stats.total_tasks,
            completed_tasks: stats.completed_tasks,
            failed_tasks: stats.failed_tasks,
            pending_tasks: stats.queue_size,
            processing_tasks: stats.active_tasks,
            requeued_tasks: stats.requeued_tasks,
            rejected_results: stats.rejected_results,
            held_tasks: stats.held_tasks,
            held_bytes: stats.held_bytes,
            flops_completed: metrics.flops_completed(),
            latency_samples: latency.samples,
            latency_p50_ms: ms(latency.p50),
            latency_p99_ms: ms(latency.p99),
            long_polls: metrics.long_polls_open(),
            event_streams: metrics.event_streams_open(),
            workers,
            problems,
            limits: Limits::of(config),
        }
    }
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    })
}
