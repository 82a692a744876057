//! What the queue knows of workers: when each was last seen, what it
//! finished, how fast it computes (`speed`), its rejected results and
//! bench time, and its pause after giving a task back.
//!
//! Workers name themselves (`workerId`), and a hostile client can give
//! itself a fresh id for every request, so a worker is tracked by its id
//! *and* its address ([`ClientKey`]), and what must hold against such a
//! client is counted per address: the leases its workers hold (at most
//! [`RejectPolicy::max_leases_per_client`]) and its rejected results
//! ("strikes"). An address with [`RejectPolicy::limit`] strikes is on
//! probation until the strikes are forgiven, one per accepted verified
//! result of the address or per `bench_time / limit`: its unproven workers
//! (ids without a verified result) hold one lease at a time between them,
//! so a liar minting ids wastes at most one lease at a time while a new
//! honest page there still gets its turn; its proven workers, honest pages
//! behind the same address as a liar, keep working as before. Every table is bounded
//! ([`MAX_TRACKED_WORKERS`], [`MAX_WORKERS_PER_CLIENT`],
//! [`MAX_TRACKED_CLIENTS`]) and forgets what was not seen within
//! [`WORKER_SEEN_WINDOW`] (benched workers and addresses with leases or
//! strikes are kept).
//!
//! On a shared store a decision may not land (another coordinator changed
//! its tasks first): what it did to these tables is recorded while it is
//! decided and taken back then (`undo`).

mod undo;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::ClientKey;
use super::speed::{Crew, Speed};
use undo::Step;
pub(crate) use undo::WorkerUndo;

/// How long a worker counts as "seen recently" in [`super::Stats`].
pub const WORKER_SEEN_WINDOW: Duration = Duration::from_secs(60);

/// At most this many workers are tracked; workers not seen within
/// [`WORKER_SEEN_WINDOW`] are forgotten on [`super::TaskQueue::tick`].
pub(super) const MAX_TRACKED_WORKERS: usize = 16_384;

/// After a worker gives a task back ([`super::TaskQueue::release`]) it is
/// given no task for this long. A worker that releases is going away (its
/// tab is closing, or it was stopped), and a long poll it opened before may
/// still be waiting here after the page abandoned it: without the pause, the
/// task it just gave back would go straight to that dead poll and sit there
/// for a whole lease.
pub const RELEASE_PAUSE: Duration = Duration::from_secs(2);

/// Worker ids longer than this many bytes are cut to it.
pub(super) const MAX_WORKER_ID_BYTES: usize = 128;

/// Default number of rejected results in a row after which a worker is
/// benched.
pub(crate) const DEFAULT_REJECT_LIMIT: u32 = 3;

/// Default time a benched worker gets no tasks: five minutes.
pub(crate) const DEFAULT_BENCH_TIME: Duration = Duration::from_secs(300);

/// The id a worker gives itself (`workerId` query parameter).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkerId(Arc<str>);

impl WorkerId {
    /// The id used when a worker sends none or an empty one.
    pub const UNKNOWN: &'static str = "unknown";

    /// Builds a worker id from what the client sent: missing or empty gives
    /// `"unknown"`, longer than [`MAX_WORKER_ID_BYTES`] is cut.
    pub fn from_param(param: Option<&str>) -> Self {
        let raw = param.unwrap_or("");
        if raw.is_empty() {
            return Self(Arc::from(Self::UNKNOWN));
        }
        let mut end = raw.len().min(MAX_WORKER_ID_BYTES);
        while !raw.is_char_boundary(end) {
            end -= 1;
        }
        Self(Arc::from(&raw[..end]))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// When the queue holds workers and addresses back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RejectPolicy {
    /// Rejected results in a row (no accepted result in between) that bench
    /// a worker; also the rejections an address may have outstanding before
    /// its unproven workers get no tasks.
    pub limit: u32,
    /// How long a benched worker gets no tasks; an address's rejections
    /// are forgiven one per `bench_time / limit`.
    pub bench_time: Duration,
    /// Most leases the workers of one address hold at once.
    pub max_leases_per_client: usize,
}

impl Default for RejectPolicy {
    fn default() -> Self {
        Self {
            limit: DEFAULT_REJECT_LIMIT,
            bench_time: DEFAULT_BENCH_TIME,
            max_leases_per_client: DEFAULT_MAX_LEASES_PER_CLIENT,
        }
    }
}

/// Default most leases the workers of one address hold at once.
pub(crate) const DEFAULT_MAX_LEASES_PER_CLIENT: usize = 256;

/// At most this many addresses are tracked; beyond it new ones share one
/// record (and so one lease cap).
pub(super) const MAX_TRACKED_CLIENTS: usize = 65_536;

/// At most this many worker ids of one address are tracked; the others
/// count as unproven workers of that address.
pub(super) const MAX_WORKERS_PER_CLIENT: usize = 64;

/// Why a worker gets no task now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HeldBack {
    /// Benched: its own results were rejected repeatedly.
    Benched,
    /// It gave a task back this long ago less than [`RELEASE_PAUSE`]; this
    /// is what is left of the pause.
    Paused(Duration),
    /// Its address holds [`RejectPolicy::max_leases_per_client`] leases, or
    /// it is unproven, its address is on probation and another unproven
    /// worker there holds the one lease they may hold.
    LeaseCap,
}

/// One worker's line in [`super::Stats::workers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerStats {
    /// The worker's id.
    pub id: WorkerId,
    /// Results it posted that completed a task.
    pub tasks_completed: u64,
    /// Errors it posted plus leases it let expire.
    pub tasks_failed: u64,
    /// Results it posted that failed verification.
    pub results_rejected: u64,
    /// How long it still gets no tasks after repeated rejections.
    pub benched_for: Option<Duration>,
    /// Time since it last asked for a task or posted an answer.
    pub last_seen_ago: Duration,
    /// Its measured speed, smoothed, in floating-point operations per
    /// second of wall time from lease to accepted result.
    pub flops_per_sec: Option<u64>,
}

impl WorkerStats {
    /// Its measured speed in GFLOP/s, to two decimals, as `/stats` and the
    /// dashboard show it.
    pub fn gflops(&self) -> Option<f64> {
        self.flops_per_sec
            .map(|flops| (flops as f64 / 1e7).round() / 100.0)
    }
}

#[derive(Debug, Clone)]
struct WorkerRecord {
    tasks_completed: u64,
    tasks_failed: u64,
    last_seen: Instant,
    results_rejected: u64,
    /// Rejections since its last accepted result.
    rejections_in_a_row: u32,
    benched_until: Option<Instant>,
    /// When it last gave a task back ([`RELEASE_PAUSE`]).
    released_at: Option<Instant>,
    /// Whether a result of it was verified right: it keeps working when
    /// its address is held back for another worker's wrong results.
    proven: bool,
    /// Its measured speed.
    speed: Option<Speed>,
}

impl WorkerRecord {
    fn new(now: Instant) -> Self {
        Self {
            tasks_completed: 0,
            tasks_failed: 0,
            last_seen: now,
            results_rejected: 0,
            rejections_in_a_row: 0,
            benched_until: None,
            released_at: None,
            proven: false,
            speed: None,
        }
    }
}

/// What the queue knows of one address.
#[derive(Debug)]
struct ClientRecord {
    /// Leases its workers hold now.
    leases: usize,
    /// Of those, leases its unproven workers took on probation.
    probation_leases: usize,
    /// Rejected results not yet forgiven.
    strikes: u32,
    /// When the last strike was counted or forgiven.
    strikes_at: Instant,
    last_seen: Instant,
    /// Worker records of this address.
    workers: usize,
}

impl ClientRecord {
    fn new(now: Instant) -> Self {
        Self {
            leases: 0,
            probation_leases: 0,
            strikes: 0,
            strikes_at: now,
            last_seen: now,
            workers: 0,
        }
    }

    /// Forgives one strike per `step` since the last change.
    fn forgive(&mut self, now: Instant, step: Duration) {
        if self.strikes == 0 || step.is_zero() {
            self.strikes_at = now;
            return;
        }
        let steps = now.saturating_duration_since(self.strikes_at).as_nanos() / step.as_nanos();
        let forgiven = steps.min(u128::from(self.strikes)) as u32;
        self.strikes -= forgiven;
        self.strikes_at += step * forgiven;
    }
}

/// The workers and addresses seen recently and what they did.
#[derive(Debug, Default)]
pub(super) struct Workers {
    records: HashMap<(ClientKey, WorkerId), WorkerRecord>,
    clients: HashMap<ClientKey, ClientRecord>,
    policy: RejectPolicy,
    /// What the decision being made changed, while one is recorded
    /// ([`Workers::record_changes`]).
    journal: Option<Vec<Step>>,
}

impl Workers {
    pub(super) fn new(policy: RejectPolicy) -> Self {
        Self {
            records: HashMap::new(),
            clients: HashMap::new(),
            policy,
            journal: None,
        }
    }

    /// Records what changes from now on in what a decision may take back
    /// (counts, benches, speeds; not when workers were seen), until
    /// [`Workers::recorded`].
    pub(super) fn record_changes(&mut self) {
        self.journal = Some(Vec::new());
    }

    /// What changed since [`Workers::record_changes`]; recording stops.
    pub(super) fn recorded(&mut self) -> WorkerUndo {
        WorkerUndo::new(self.journal.take().unwrap_or_default())
    }

    /// Changes the record of `worker` of `client` with `change`, recorded
    /// when a decision is ([`Workers::record_changes`]); `None` when the
    /// worker is not tracked.
    fn change_worker<R>(
        &mut self,
        client: ClientKey,
        worker: &WorkerId,
        change: impl FnOnce(&mut WorkerRecord) -> R,
    ) -> Option<R> {
        let key = (self.resolve(client), worker.clone());
        let record = self.records.get_mut(&key)?;
        let before = self.journal.is_some().then(|| record.clone());
        let out = change(record);
        if let (Some(journal), Some(before)) = (self.journal.as_mut(), before) {
            journal.push(Step::worker(key, before, record.clone()));
        }
        Some(out)
    }

    /// Changes the counts of address `client` (as tracked: resolve it
    /// first) with `change`, recorded as [`Workers::change_worker`] is.
    fn change_client(&mut self, client: ClientKey, change: impl FnOnce(&mut ClientRecord)) {
        let Some(record) = self.clients.get_mut(&client) else {
            return;
        };
        let before = record.counts();
        change(record);
        if let Some(journal) = self.journal.as_mut() {
            journal.push(Step::client(client, before, record.counts()));
        }
    }

    /// The key `client` is tracked under: itself, or the shared record of
    /// addresses beyond [`MAX_TRACKED_CLIENTS`].
    pub(super) fn resolve(&self, client: ClientKey) -> ClientKey {
        if self.clients.len() < MAX_TRACKED_CLIENTS || self.clients.contains_key(&client) {
            client
        } else {
            ClientKey::Unknown
        }
    }

    /// Notes that `worker` of `client` was seen at `now` (tracked while
    /// there is room).
    pub(super) fn touch(&mut self, client: ClientKey, worker: &WorkerId, now: Instant) {
        let client = self.resolve(client);
        let record = self
            .clients
            .entry(client)
            .or_insert_with(|| ClientRecord::new(now));
        record.last_seen = now;
        let key = (client, worker.clone());
        if let Some(record) = self.records.get_mut(&key) {
            record.last_seen = now;
        } else if self.records.len() < MAX_TRACKED_WORKERS
            && record.workers < MAX_WORKERS_PER_CLIENT
        {
            record.workers += 1;
            self.records.insert(key, WorkerRecord::new(now));
        }
    }

    fn record(&self, client: ClientKey, worker: &WorkerId) -> Option<&WorkerRecord> {
        self.records.get(&(self.resolve(client), worker.clone()))
    }

    /// Whether `worker` of `client` may take a task at `now`: `Ok(true)`
    /// for a lease on its address's probation, `Ok(false)` for any other;
    /// why not otherwise.
    pub(super) fn may_lease(
        &mut self,
        client: ClientKey,
        worker: &WorkerId,
        now: Instant,
    ) -> Result<bool, HeldBack> {
        if self.is_benched(client, worker, now) {
            return Err(HeldBack::Benched);
        }
        if let Some(left) = self.release_pause_left(client, worker, now) {
            return Err(HeldBack::Paused(left));
        }
        let step = self.forgive_step();
        let (limit, cap) = (self.policy.limit, self.policy.max_leases_per_client);
        let proven = self.record(client, worker).is_some_and(|r| r.proven);
        let Some(record) = self.clients.get_mut(&self.resolve(client)) else {
            return Ok(false);
        };
        record.forgive(now, step);
        if record.leases >= cap {
            return Err(HeldBack::LeaseCap);
        }
        let probation = record.strikes >= limit && !proven;
        if probation && record.probation_leases > 0 {
            return Err(HeldBack::LeaseCap);
        }
        Ok(probation)
    }

    /// Counts a lease handed to `client` (on its probation or not).
    pub(super) fn lease_started(&mut self, client: ClientKey, probation: bool) {
        self.change_client(client, |record| {
            record.leases += 1;
            record.probation_leases += usize::from(probation);
        });
    }

    /// Counts a lease of `client` that ended.
    pub(super) fn lease_ended(&mut self, client: ClientKey, probation: bool) {
        self.change_client(client, |record| {
            record.leases = record.leases.saturating_sub(1);
            if probation {
                record.probation_leases = record.probation_leases.saturating_sub(1);
            }
        });
    }

    /// Credits `worker` of `client` with a completed task: its rejections
    /// in a row end. A `verified` result also proves the worker and
    /// forgives one of its address's strikes.
    pub(super) fn credit_completed(
        &mut self,
        client: ClientKey,
        worker: &WorkerId,
        verified: bool,
        now: Instant,
    ) {
        self.touch(client, worker, now);
        self.change_worker(client, worker, |record| {
            record.tasks_completed += 1;
            record.rejections_in_a_row = 0;
            record.proven |= verified;
        });
        if verified {
            self.change_client(self.resolve(client), |record| {
                record.strikes = record.strikes.saturating_sub(1);
            });
        }
    }

    /// Counts a task `worker` of `client` failed (an error it posted, a
    /// lease it let expire). `seen` tells whether this is news from the
    /// worker itself.
    pub(super) fn count_failed(
        &mut self,
        client: ClientKey,
        worker: &WorkerId,
        seen: Option<Instant>,
    ) {
        if let Some(now) = seen {
            self.touch(client, worker, now);
        }
        self.change_worker(client, worker, |record| record.tasks_failed += 1);
    }

    /// Counts a rejected result of `worker` of `client`: a strike for the
    /// address, and a bench for the worker after [`RejectPolicy::limit`]
    /// rejections in a row. Returns whether the worker was benched by this
    /// one.
    pub(super) fn count_rejection(
        &mut self,
        client: ClientKey,
        worker: &WorkerId,
        now: Instant,
    ) -> bool {
        self.touch(client, worker, now);
        let policy = self.policy;
        let step = self.forgive_step();
        let key = self.resolve(client);
        if let Some(record) = self.clients.get_mut(&key) {
            // Forgiveness comes with time, whatever is decided.
            record.forgive(now, step);
        }
        self.change_client(key, |record| {
            record.strikes = record.strikes.saturating_add(1);
        });
        self.change_worker(client, worker, |record| {
            record.results_rejected += 1;
            record.rejections_in_a_row += 1;
            if record.rejections_in_a_row < policy.limit {
                return false;
            }
            record.rejections_in_a_row = 0;
            record.benched_until = Some(now + policy.bench_time);
            true
        })
        .unwrap_or(false)
    }

    /// How long an address waits for one strike to be forgiven.
    fn forgive_step(&self) -> Duration {
        self.policy.bench_time / self.policy.limit.max(1)
    }

    /// Notes that `worker` of `client` gave a task back at `now`
    /// ([`RELEASE_PAUSE`]).
    pub(super) fn note_release(&mut self, client: ClientKey, worker: &WorkerId, now: Instant) {
        self.touch(client, worker, now);
        self.change_worker(client, worker, |record| record.released_at = Some(now));
    }

    /// Whether `worker` of `client` is benched at `now`.
    pub(super) fn is_benched(&self, client: ClientKey, worker: &WorkerId, now: Instant) -> bool {
        self.record(client, worker)
            .and_then(|record| record.benched_until)
            .is_some_and(|until| until > now)
    }

    /// How much longer `worker` of `client` gets no task because it gave
    /// one back.
    pub(super) fn release_pause_left(
        &self,
        client: ClientKey,
        worker: &WorkerId,
        now: Instant,
    ) -> Option<Duration> {
        let released_at = self.record(client, worker)?.released_at?;
        let left = (released_at + RELEASE_PAUSE).saturating_duration_since(now);
        (!left.is_zero()).then_some(left)
    }

    /// Forgets workers not seen within [`WORKER_SEEN_WINDOW`] (benched
    /// workers are remembered until their bench time ends), and addresses
    /// not seen within it that hold no lease and have no strike left.
    pub(super) fn forget_unseen(&mut self, now: Instant) {
        let recent = |seen: Instant| now.saturating_duration_since(seen) < WORKER_SEEN_WINDOW;
        self.records.retain(|_, record| {
            recent(record.last_seen) || record.benched_until.is_some_and(|until| until > now)
        });
        let step = self.forgive_step();
        for record in self.clients.values_mut() {
            record.forgive(now, step);
            record.workers = 0;
        }
        for (client, _) in self.records.keys() {
            if let Some(record) = self.clients.get_mut(client) {
                record.workers += 1;
            }
        }
        self.clients.retain(|_, record| {
            recent(record.last_seen)
                || record.leases > 0
                || record.strikes > 0
                || record.workers > 0
        });
    }

    /// The measured speed of `worker` of `client`.
    pub(super) fn speed(&self, client: ClientKey, worker: &WorkerId) -> Option<Speed> {
        self.record(client, worker)?.speed
    }

    /// Takes a measurement of `sample` flops per second into the speed of
    /// `worker` of `client`.
    pub(super) fn learn_speed(&mut self, client: ClientKey, worker: &WorkerId, sample: f64) {
        self.change_worker(client, worker, |record| {
            record.speed = Speed::learn(record.speed, sample);
        });
    }

    /// Notes that `worker` of `client` held `work` flops for `held` and
    /// another worker's copy finished first ([`Speed::censor`]).
    pub(super) fn censor_speed(
        &mut self,
        client: ClientKey,
        worker: &WorkerId,
        work: u64,
        held: Duration,
    ) {
        self.change_worker(client, worker, |record| {
            record.speed = Speed::censor(record.speed, work, held);
        });
    }

    /// The workers likely to take parts of a task submitted at `now`: seen
    /// within [`WORKER_SEEN_WINDOW`] and not benched, with their speeds.
    /// O(workers tracked).
    pub(super) fn crew(&self, now: Instant) -> Crew {
        Crew::new(
            self.records
                .values()
                .filter(|r| now.saturating_duration_since(r.last_seen) < WORKER_SEEN_WINDOW)
                .filter(|r| r.benched_until.is_none_or(|until| until <= now))
                .map(|r| r.speed.map(|s| s.flops_per_sec))
                .collect(),
        )
    }

    /// Workers tracked (seen within the window as of the last tick, plus
    /// benched ones).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.records.len()
    }

    /// Leases the workers of `client` hold now.
    #[cfg(test)]
    pub(super) fn leases_of(&self, client: ClientKey) -> usize {
        self.clients.get(&client).map_or(0, |r| r.leases)
    }

    /// The lines of the workers seen within [`WORKER_SEEN_WINDOW`], by id.
    pub(super) fn stats(&self, now: Instant) -> Vec<WorkerStats> {
        let mut lines: Vec<WorkerStats> = self
            .records
            .iter()
            .filter_map(|((_, id), record)| {
                let ago = now.saturating_duration_since(record.last_seen);
                (ago < WORKER_SEEN_WINDOW).then(|| WorkerStats {
                    id: id.clone(),
                    tasks_completed: record.tasks_completed,
                    tasks_failed: record.tasks_failed,
                    last_seen_ago: ago,
                    results_rejected: record.results_rejected,
                    benched_for: record
                        .benched_until
                        .map(|until| until.saturating_duration_since(now))
                        .filter(|left| !left.is_zero()),
                    flops_per_sec: record.speed.map(|s| s.flops_per_sec.round() as u64),
                })
            })
            .collect();
        lines.sort_by(|a, b| a.id.cmp(&b.id));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_id_defaults_to_unknown_and_is_bounded() {
        assert_eq!(WorkerId::from_param(None).as_str(), "unknown");
        assert_eq!(WorkerId::from_param(Some("")).as_str(), "unknown");
        let long = "é".repeat(200);
        let id = WorkerId::from_param(Some(&long));
        assert!(id.as_str().len() <= MAX_WORKER_ID_BYTES);
        assert!(id.as_str().chars().all(|c| c == 'é'));
    }
}
