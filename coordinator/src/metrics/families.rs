//! The Prometheus metric families the coordinator exports, and the
//! registry that writes them out in the Prometheus text format.
//!
//! Label values come from small fixed sets (a task's kind, a requeue's
//! reason, a CPU pass, a route of the router, a method, a status code),
//! never from what clients name themselves, so the number of series stays
//! bounded.

use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// `kind`: a task as clients submit it (`single`), a split task (`split`)
/// or one of its parts (`part`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct KindLabel {
    pub(super) kind: &'static str,
}

/// `reason`: why a task went back to the queue.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ReasonLabel {
    pub(super) reason: &'static str,
}

/// `pass`: which pass over a task's bytes took the CPU time.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct PassLabel {
    pub(super) pass: &'static str,
}

/// `long_poll`: what a long poll waits for (`task` or `result`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct LongPollLabel {
    pub(super) long_poll: &'static str,
}

/// `route` (`task` or `result` posted, `report` answered) and `form` of the
/// bytes of packed bodies: as they went (`packed`) or as the JSON they
/// stood for (`json`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct PackedLabels {
    pub(super) route: &'static str,
    pub(super) form: &'static str,
}

/// A decision written to a shared store: what it decided (`decision`:
/// `lease`, `task` for one named task, `submit`), what it was decided on
/// (`from`: what this coordinator wrote last, its `copy`, or a `read`)
/// and how the write went (`outcome`: `written`, `unchanged`, `behind`,
/// `stale`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct SharedWriteLabels {
    pub(super) decision: &'static str,
    pub(super) from: &'static str,
    pub(super) outcome: &'static str,
}

/// A route as the router matched it, shared (see [`super::Metrics`]'s
/// route names).
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub(super) struct RouteName(pub(super) Arc<str>);

impl EncodeLabelValue for RouteName {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, &self.0)
    }
}

/// A request's route as the router matched it (`/task/{id}/result`, not
/// the path asked for), its method and its answer's status.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RouteLabels {
    pub(super) route: RouteName,
    pub(super) method: &'static str,
    pub(super) status: u16,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric family, registered in [`Families::registry`].
#[derive(Debug)]
pub(super) struct Families {
    pub(super) registry: Registry,
    pub(super) submitted: Family<KindLabel, Counter>,
    pub(super) completed: Family<KindLabel, Counter>,
    pub(super) failed: Family<KindLabel, Counter>,
    pub(super) cancelled: Family<KindLabel, Counter>,
    pub(super) requeued: Family<ReasonLabel, Counter>,
    pub(super) rejected: Counter,
    pub(super) benched: Counter,
    pub(super) evicted: Counter,
    pub(super) flops_completed: Counter,
    pub(super) packed_bytes: Family<PackedLabels, Counter>,
    pub(super) shared_writes: Family<SharedWriteLabels, Counter>,
    pub(super) pending: Gauge,
    pub(super) processing: Gauge,
    pub(super) held_tasks: Gauge,
    pub(super) held_bytes: Gauge,
    pub(super) store_bytes: Gauge,
    pub(super) store_write_failures: Gauge,
    pub(super) workers_seen: Gauge,
    pub(super) result_waiters: Gauge,
    pub(super) long_polls: Family<LongPollLabel, Gauge>,
    pub(super) event_streams: Gauge,
    pub(super) uptime: Gauge,
    pub(super) time_pending: Histogram,
    pub(super) time_processing: Histogram,
    pub(super) end_to_end: HistogramFamily<KindLabel>,
    pub(super) cpu: HistogramFamily<PassLabel>,
    pub(super) requests: HistogramFamily<RouteLabels>,
    /// The series the change record moves, fetched once so that a change
    /// costs an atomic add, not a lookup.
    pub(super) by: Series,
}

/// The labelled series the change record moves, by label value.
#[derive(Debug)]
pub(super) struct Series {
    /// By kind: single, split, part.
    pub(super) submitted: [Counter; 3],
    pub(super) completed: [Counter; 3],
    pub(super) failed: [Counter; 3],
    pub(super) cancelled: [Counter; 3],
    /// By reason: lease expired, released, rejected.
    pub(super) requeued: [Counter; 3],
    /// By kind: single, split (parts are no client tasks).
    pub(super) end_to_end: [Histogram; 2],
    /// By pass: read, plan, verify, assemble.
    pub(super) cpu: [Histogram; 4],
}

/// The `kind` label values, in [`Series`] order.
pub(super) const KINDS: [&str; 3] = ["single", "split", "part"];
/// The `reason` label values, in [`Series`] order.
pub(super) const REASONS: [&str; 3] = ["lease_expired", "released", "rejected"];
/// The `pass` label values, in [`Series`] order.
pub(super) const PASSES: [&str; 4] = ["read", "plan", "verify", "assemble"];

impl Series {
    fn of(
        submitted: &Family<KindLabel, Counter>,
        completed: &Family<KindLabel, Counter>,
        failed: &Family<KindLabel, Counter>,
        cancelled: &Family<KindLabel, Counter>,
        requeued: &Family<ReasonLabel, Counter>,
        end_to_end: &HistogramFamily<KindLabel>,
        cpu: &HistogramFamily<PassLabel>,
    ) -> Self {
        let kind = |family: &Family<KindLabel, Counter>| {
            KINDS.map(|kind| family.get_or_create_owned(&KindLabel { kind }))
        };
        Self {
            submitted: kind(submitted),
            completed: kind(completed),
            failed: kind(failed),
            cancelled: kind(cancelled),
            requeued: REASONS.map(|reason| requeued.get_or_create_owned(&ReasonLabel { reason })),
            end_to_end: [KINDS[0], KINDS[1]]
                .map(|kind| end_to_end.get_or_create_owned(&KindLabel { kind })),
            cpu: PASSES.map(|pass| cpu.get_or_create_owned(&PassLabel { pass })),
        }
    }
}

/// Buckets of task times: 1 ms to about 2.5 minutes.
fn task_time_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.5, 14))
}

/// Buckets of CPU time per pass: 10 µs to about 2.6 s.
fn cpu_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.000_01, 4.0, 10))
}

/// Buckets of request latency: 100 µs to about 53 s (long polls wait up to
/// `--max-wait-secs`).
fn request_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.000_1, 3.0, 13))
}

impl Families {
    /// Every family, registered under the `coordinator_` prefix.
    pub(super) fn new() -> Self {
        let (submitted, completed, failed, cancelled) = (
            Family::default(),
            Family::default(),
            Family::default(),
            Family::default(),
        );
        let requeued = Family::default();
        let end_to_end = Family::new_with_constructor(task_time_buckets as fn() -> Histogram);
        let cpu = Family::new_with_constructor(cpu_buckets as fn() -> Histogram);
        let by = Series::of(
            &submitted,
            &completed,
            &failed,
            &cancelled,
            &requeued,
            &end_to_end,
            &cpu,
        );
        let mut families = Self {
            registry: Registry::with_prefix("coordinator"),
            submitted,
            completed,
            failed,
            cancelled,
            requeued,
            rejected: Counter::default(),
            benched: Counter::default(),
            evicted: Counter::default(),
            flops_completed: Counter::default(),
            packed_bytes: Family::default(),
            shared_writes: Family::default(),
            pending: Gauge::default(),
            processing: Gauge::default(),
            held_tasks: Gauge::default(),
            held_bytes: Gauge::default(),
            store_bytes: Gauge::default(),
            store_write_failures: Gauge::default(),
            workers_seen: Gauge::default(),
            result_waiters: Gauge::default(),
            long_polls: Family::default(),
            event_streams: Gauge::default(),
            uptime: Gauge::default(),
            time_pending: task_time_buckets(),
            time_processing: task_time_buckets(),
            end_to_end,
            cpu,
            requests: Family::new_with_constructor(request_buckets),
            by,
        };
        families.register();
        families
    }

    fn register(&mut self) {
        let r = &mut self.registry;
        r.register(
            "tasks_submitted",
            "Tasks accepted, by kind (single, split, part)",
            self.submitted.clone(),
        );
        r.register(
            "tasks_completed",
            "Tasks completed, by kind (a split task when its parts are assembled)",
            self.completed.clone(),
        );
        r.register(
            "tasks_failed",
            "Tasks failed (error reports, attempts used up, cancellations), by kind",
            self.failed.clone(),
        );
        r.register(
            "tasks_cancelled",
            "Tasks cancelled by their client, by kind",
            self.cancelled.clone(),
        );
        r.register(
            "tasks_requeued",
            "Times a task went back to the queue, by reason (lease_expired, released, rejected)",
            self.requeued.clone(),
        );
        r.register(
            "results_rejected",
            "Results and error reports that failed their task's check",
            self.rejected.clone(),
        );
        r.register(
            "workers_benched",
            "Times a worker was benched after repeated rejected results",
            self.benched.clone(),
        );
        r.register(
            "tasks_evicted",
            "Finished tasks dropped after their keep time",
            self.evicted.clone(),
        );
        r.register(
            "flops_completed",
            "Floating point operations (2 m k n) of the checked products completed by workers",
            self.flops_completed.clone(),
        );
        r.register_with_unit(
            "packed_body",
            "Bytes of bodies packed, as they went (form=packed) and as the JSON they stood for (form=json), by route (task and result: posted; report: a product answered packed)",
            Unit::Bytes,
            self.packed_bytes.clone(),
        );
        r.register(
            "shared_writes",
            "Decisions written to the shared store (Redis), by what they decided (lease, task, submit), what they were decided on (this coordinator's copy or a read) and how the write went (written; unchanged: nothing to write; behind: a lease on a copy found other tasks first; stale: another coordinator changed the tasks first)",
            self.shared_writes.clone(),
        );
        r.register(
            "tasks_pending",
            "Tasks waiting in the queue",
            self.pending.clone(),
        );
        r.register(
            "tasks_processing",
            "Tasks leased to workers (and split tasks waiting for their parts)",
            self.processing.clone(),
        );
        r.register(
            "tasks_held",
            "Tasks held in any state",
            self.held_tasks.clone(),
        );
        r.register_with_unit(
            "held",
            "Bytes of task data, results and errors held",
            Unit::Bytes,
            self.held_bytes.clone(),
        );
        r.register_with_unit(
            "store",
            "Bytes the data directory takes on disk (0 in memory)",
            Unit::Bytes,
            self.store_bytes.clone(),
        );
        r.register(
            "store_write_failures",
            "Store writes that failed (a full disk, say) since start",
            self.store_write_failures.clone(),
        );
        r.register(
            "workers_seen",
            "Workers seen in the last minute",
            self.workers_seen.clone(),
        );
        r.register(
            "result_waiters",
            "Tasks that clients are long-polling for a result",
            self.result_waiters.clone(),
        );
        r.register(
            "long_polls_open",
            "Requests held open waiting, by what they wait for (task, result)",
            self.long_polls.clone(),
        );
        r.register(
            "event_streams_open",
            "Dashboards following GET /events",
            self.event_streams.clone(),
        );
        r.register_with_unit(
            "uptime",
            "Time since the coordinator started",
            Unit::Seconds,
            self.uptime.clone(),
        );
        r.register_with_unit(
            "task_pending",
            "Time from a task's submission to its first lease",
            Unit::Seconds,
            self.time_pending.clone(),
        );
        r.register_with_unit(
            "task_processing",
            "Time from a task's last lease to the result that completed it",
            Unit::Seconds,
            self.time_processing.clone(),
        );
        r.register_with_unit(
            "task_end_to_end",
            "Time from a client's submission to its task's completion, by kind (single, split)",
            Unit::Seconds,
            self.end_to_end.clone(),
        );
        r.register_with_unit(
            "cpu",
            "CPU time the coordinator spent on a task's bytes, by pass (read, plan, verify, assemble), for passes over 64 KiB or more",
            Unit::Seconds,
            self.cpu.clone(),
        );
        r.register_with_unit(
            "http_request_duration",
            "Time to answer a request, by matched route, method and status",
            Unit::Seconds,
            self.requests.clone(),
        );
    }
}
