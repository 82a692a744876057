//! Watching the coordinator run: Prometheus metrics and what the dashboard
//! shows.
//!
//! [`Metrics`] follows the same change record as the log and the waiting
//! clients: [`crate::state`] passes every record, with what the use case
//! spent on the task's bytes, to [`Metrics::observe`]. Counters and
//! histograms move from that record; gauges (pending, processing, held,
//! workers seen) are read from the queue's [`crate::Stats`] when scraped,
//! never kept twice. The queue is clock-free, so the times a task spends
//! pending and processing come from timestamps taken here when its changes
//! arrive (`task_times`). Worker ids never become label values (clients
//! name themselves, so their number is unbounded): per-worker figures stay
//! in `/stats` and the dashboard's snapshot.
//!
//! # Layout
//!
//! - `families`: the metric families and the registry that writes them in
//!   the Prometheus text format.
//! - `task_times`: when each unfinished task was submitted and leased.
//! - `recent`: the dashboard's recent figures (end-to-end percentiles,
//!   workers' recent work, the latest failures and rejections).
//! - `http`: request latency by matched route, as a middleware.
//! - `snapshot`: the dashboard's snapshot that `GET /events` sends.

mod families;
mod http;
mod recent;
mod snapshot;
mod task_times;

use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub(crate) use http::TrackRequests;
pub use recent::{LATENCY_WINDOW, Latency, Problem, WORK_WINDOW};
pub use snapshot::{Limits, Snapshot, SnapshotWorker};

use crate::queue::{Change, Changes, RequeueReason, WorkerId};
use crate::state::StatsReport;
use crate::state::cost::Cost;
use families::{Families, LongPollLabel, PackedLabels, SharedWriteLabels};
use recent::Recent;
use task_times::{Kind, TaskTimes};

/// The `Content-Type` of `GET /metrics`: the Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Most dashboards following `GET /events` at once; more are answered 503.
pub const MAX_EVENT_STREAMS: usize = 16;

/// What a long poll waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongPoll {
    /// `GET /task/next?wait=S`: a task to lease.
    Task,
    /// `GET /result/N?wait=S`: a change of task N.
    Result,
}

impl LongPoll {
    fn as_str(self) -> &'static str {
        match self {
            Self::Task => "task",
            Self::Result => "result",
        }
    }
}

/// Counts one open long poll until dropped.
#[derive(Debug)]
pub struct OpenLongPoll(Gauge);

impl Drop for OpenLongPoll {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// One dashboard's hold on an event stream, counted until dropped.
#[derive(Debug)]
pub struct EventStreamPermit {
    _permit: OwnedSemaphorePermit,
    open: Gauge,
}

impl Drop for EventStreamPermit {
    fn drop(&mut self) {
        self.open.dec();
    }
}

/// The coordinator's metrics and the dashboard's recent figures. See the
/// module docs.
#[derive(Debug)]
pub struct Metrics {
    /// Whether counters and histograms are recorded.
    enabled: bool,
    families: Families,
    /// The names of the routes requests matched so far.
    routes: RwLock<Vec<Arc<str>>>,
    tracked: Mutex<Tracked>,
    event_streams: Arc<Semaphore>,
}

#[derive(Debug, Default)]
struct Tracked {
    times: TaskTimes,
    recent: Recent,
}

impl Metrics {
    /// Every family at zero, nothing tracked; with `enabled` false nothing
    /// is recorded either (the gauges still answer).
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            families: Families::new(),
            routes: RwLock::new(Vec::new()),
            tracked: Mutex::new(Tracked::default()),
            event_streams: Arc::new(Semaphore::new(MAX_EVENT_STREAMS)),
        }
    }

    fn tracked(&self) -> MutexGuard<'_, Tracked> {
        self.tracked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Moves the counters and histograms by one change record. Records
    /// must come in the order the queue decided them (a task's completion
    /// after its submission), so callers observe them while they still
    /// hold what ordered them.
    pub(crate) fn observe_changes(&self, changes: &Changes) {
        if !self.enabled || changes.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut tracked = self.tracked();
        for change in changes {
            self.observe_one(&mut tracked, change, now);
        }
    }

    /// Moves the CPU time histograms by what the use case that made
    /// `changes` spent (`cost`).
    pub(crate) fn observe_cost(&self, changes: &Changes, cost: &Cost) {
        if self.enabled {
            self.observe_spent(changes, cost);
        }
    }

    fn observe_one(&self, tracked: &mut Tracked, change: &Change, now: Instant) {
        let f = &self.families;
        let kind_of = |tracked: &Tracked, id, split: &Option<_>| {
            tracked.times.kind(id).unwrap_or(if split.is_some() {
                Kind::Part
            } else {
                Kind::Single
            })
        };
        match change {
            Change::Submitted { id, check, .. } => {
                let flops = check.as_ref().map_or(0, |c| c.flops());
                submitted(f, tracked, *id, Kind::Single, flops, now);
            }
            Change::SplitSubmitted { id, .. } => submitted(f, tracked, *id, Kind::Split, 0, now),
            Change::PartSubmitted { id, check, .. } => {
                let flops = check.as_ref().map_or(0, |c| c.flops());
                submitted(f, tracked, *id, Kind::Part, flops, now);
            }
            Change::Leased { id, .. } => {
                if let Some(waited) = tracked.times.leased(*id, now) {
                    f.time_pending.observe(waited.as_secs_f64());
                }
            }
            Change::Requeued { id, reason, .. } => {
                let at = match reason {
                    RequeueReason::LeaseExpired => 0,
                    RequeueReason::Released => 1,
                    RequeueReason::Rejected => 2,
                };
                f.by.requeued[at].inc();
                if *reason == RequeueReason::LeaseExpired {
                    let error = "no result within the lease; the task went back to the queue";
                    tracked.recent.problem(*id, "lease expired", None, error);
                }
            }
            Change::Completed {
                id, part, worker, ..
            } => {
                let kind = kind_of(tracked, *id, part);
                f.by.completed[kind.index()].inc();
                if let Some(times) = tracked.times.finished(*id) {
                    if let Some(leased) = times.leased {
                        let held = now.saturating_duration_since(leased);
                        f.time_processing.observe(held.as_secs_f64());
                    }
                    f.flops_completed.inc_by(times.flops);
                    if let Some(worker) = worker {
                        tracked.recent.work(worker, times.flops, now);
                    }
                    if kind.is_client_task() {
                        end_to_end(f, tracked, kind, times.submitted, now);
                    }
                }
            }
            Change::Assembled { id, .. } => {
                f.by.completed[Kind::Split.index()].inc();
                if let Some(times) = tracked.times.finished(*id) {
                    end_to_end(f, tracked, Kind::Split, times.submitted, now);
                }
            }
            Change::Failed {
                id,
                part,
                error,
                worker,
            } => {
                let kind = kind_of(tracked, *id, part);
                f.by.failed[kind.index()].inc();
                tracked.times.finished(*id);
                tracked
                    .recent
                    .problem(*id, "failed", worker.as_ref(), error);
            }
            Change::Cancelled { id, part } => {
                let kind = kind_of(tracked, *id, part);
                f.by.cancelled[kind.index()].inc();
                // A cancelled task fails, unless it had failed already.
                if tracked.times.finished(*id).is_some() {
                    f.by.failed[kind.index()].inc();
                }
            }
            Change::Rejected {
                id,
                worker,
                reason,
                benched,
                ..
            } => {
                f.rejected.inc();
                if *benched {
                    f.benched.inc();
                }
                tracked
                    .recent
                    .problem(*id, "rejected", worker.as_ref(), reason);
            }
            // An answer kept for later, or a vote counted: the task's own
            // end, if it comes, is its own change.
            Change::Kept { .. } | Change::Voted { .. } => {}
            Change::Evicted { id } => {
                f.evicted.inc();
                tracked.times.finished(*id);
            }
        }
    }

    fn observe_spent(&self, changes: &Changes, cost: &Cost) {
        let cpu = &self.families.by.cpu;
        let passes = [cost.read, cost.plan, cost.verify];
        for (histogram, spent) in cpu.iter().zip(passes) {
            if let Some(cpu) = spent.and_then(|spent| spent.cpu) {
                histogram.observe(cpu.as_secs_f64());
            }
        }
        if let Some(assembly) = cost.decide.and_then(|spent| spent.cpu)
            && changes
                .iter()
                .any(|change| matches!(change, Change::Assembled { .. }))
        {
            cpu[3].observe(assembly.as_secs_f64());
        }
    }

    /// Whether counters and histograms are recorded (see [`Metrics::new`]).
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Counts a long poll as open until the returned guard is dropped.
    pub fn long_poll(&self, what: LongPoll) -> OpenLongPoll {
        let gauge = self
            .families
            .long_polls
            .get_or_create_owned(&LongPollLabel {
                long_poll: what.as_str(),
            });
        gauge.inc();
        OpenLongPoll(gauge)
    }

    /// Long polls open now, of both kinds.
    pub fn long_polls_open(&self) -> i64 {
        [LongPoll::Task, LongPoll::Result]
            .into_iter()
            .map(|what| {
                self.families
                    .long_polls
                    .get(&LongPollLabel {
                        long_poll: what.as_str(),
                    })
                    .map_or(0, |gauge| gauge.get())
            })
            .sum()
    }

    /// A place for one more dashboard on `GET /events`, or `None` when
    /// [`MAX_EVENT_STREAMS`] are open.
    pub fn open_event_stream(&self) -> Option<EventStreamPermit> {
        let permit = Arc::clone(&self.event_streams).try_acquire_owned().ok()?;
        let open = self.families.event_streams.clone();
        open.inc();
        Some(EventStreamPermit {
            _permit: permit,
            open,
        })
    }

    /// Dashboards following `GET /events` now.
    pub fn event_streams_open(&self) -> i64 {
        self.families.event_streams.get()
    }

    /// Counts a body posted packed to `route` (`task` or `result`), or a
    /// product answered packed (`report`): `packed` bytes went and stood
    /// for `json` bytes of JSON.
    pub(crate) fn packed_body(&self, route: &'static str, packed: usize, json: usize) {
        if !self.enabled {
            return;
        }
        for (form, bytes) in [("packed", packed), ("json", json)] {
            self.families
                .packed_bytes
                .get_or_create(&PackedLabels { route, form })
                .inc_by(bytes as u64);
        }
    }

    /// Counts a decision written to the shared store: what it decided
    /// (`lease`, `task`, `submit`), on what (`copy` or `read`) and how the
    /// write went (`written`, `unchanged`, `behind`, `stale`).
    pub(crate) fn shared_write(
        &self,
        decision: &'static str,
        from: &'static str,
        outcome: &'static str,
    ) {
        if !self.enabled {
            return;
        }
        self.families
            .shared_writes
            .get_or_create(&SharedWriteLabels {
                decision,
                from,
                outcome,
            })
            .inc();
    }

    /// Floating point operations of the checked products completed so far.
    pub fn flops_completed(&self) -> u64 {
        self.families.flops_completed.get()
    }

    /// The shared name of the route the router matched (routes are few:
    /// each name is made once and kept).
    fn route_label(&self, route: &str) -> Arc<str> {
        let names = self.routes.read().unwrap_or_else(|p| p.into_inner());
        if let Some(name) = names.iter().find(|name| &***name == route) {
            return Arc::clone(name);
        }
        drop(names);
        let mut names = self.routes.write().unwrap_or_else(|p| p.into_inner());
        let name: Arc<str> = Arc::from(route);
        names.push(Arc::clone(&name));
        name
    }

    /// Records one answered request (see `http`).
    fn request(&self, route: Arc<str>, method: &'static str, status: u16, took: Duration) {
        let labels = families::RouteLabels {
            route: families::RouteName(route),
            method,
            status,
        };
        self.families
            .requests
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// Every family in the Prometheus text format, the gauges set from
    /// `report` (the queue's counters as of now) and `result_waiters`
    /// (tasks clients are long-polling).
    ///
    /// # Errors
    ///
    /// A formatting error from the encoder (it writes to a `String`, so
    /// none is expected).
    pub fn encode(
        &self,
        report: &StatsReport,
        result_waiters: usize,
    ) -> Result<String, std::fmt::Error> {
        let f = &self.families;
        let stats = &report.stats;
        let gauge = |gauge: &Gauge, value: u64| {
            gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
        };
        gauge(&f.pending, stats.queue_size);
        gauge(&f.processing, stats.active_tasks);
        gauge(&f.held_tasks, stats.held_tasks);
        gauge(&f.held_bytes, stats.held_bytes);
        gauge(&f.store_bytes, report.store.bytes_on_disk);
        gauge(&f.store_write_failures, report.store.totals.failures);
        gauge(&f.workers_seen, stats.workers.len() as u64);
        gauge(&f.result_waiters, result_waiters as u64);
        gauge(&f.uptime, report.uptime.as_secs());
        let mut text = String::with_capacity(16 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut text, &f.registry)?;
        Ok(text)
    }

    /// The recent figures the dashboard shows, as of `now`: end-to-end
    /// percentiles, each worker's recent GFLOP/s and the latest problems.
    pub(crate) fn recent(
        &self,
        now: Instant,
    ) -> (
        Latency,
        std::collections::HashMap<WorkerId, f64>,
        Vec<Problem>,
    ) {
        let mut tracked = self.tracked();
        let latency = tracked.recent.latency(now);
        let gflops = tracked.recent.gflops(now);
        (latency, gflops, tracked.recent.problems())
    }
}

fn submitted(
    f: &Families,
    tracked: &mut Tracked,
    id: crate::queue::TaskId,
    kind: Kind,
    flops: u64,
    now: Instant,
) {
    f.by.submitted[kind.index()].inc();
    tracked.times.submitted(id, kind, flops, now);
}

fn end_to_end(f: &Families, tracked: &mut Tracked, kind: Kind, since: Instant, now: Instant) {
    let secs = now.saturating_duration_since(since).as_secs_f64();
    f.by.end_to_end[kind.index().min(1)].observe(secs);
    tracked.recent.completed(now, secs);
}

#[cfg(test)]
mod tests;
