//! The use cases, and the only door to the task state.
//!
//! [`AppState`] holds the queue behind a std `Mutex` that only the use
//! cases here take, each for one synchronous stretch of queue calls, never
//! across an `.await`. Each use case is one method in one file: parse what
//! it needs, take the lock, let the queue decide, and then
//! [`AppState::commit`] the change record the queue returned: the log, the
//! long polls waiting for tasks and the clients waiting on a task's result
//! all learn of the change from that record, never by asking the queue
//! again. Work that costs `O(n^2)` (reading the operands of a submission,
//! checking a result) runs outside the lock, off the async runtime when
//! large.
//!
//! # Layout
//!
//! - `submit`: `POST /task`: read the body, plan, queue.
//! - `lease`: `GET /task/next`: lease the next task, waiting for one.
//! - `answer`: `POST /task/N/result`: read the worker's answer, check it,
//!   complete or reject (a split task completes with its last part).
//!   `arriving`: the lease marked while the answer's body arrives.
//! - `release`: `POST /task/N/release`: a worker gives a task back.
//! - `caller`: who a request comes from, and the lease its token names
//!   (`token`: making and reading lease tokens).
//! - `cancel`: `POST /task/N/cancel`: a client cancels its task.
//! - `view`: `GET /result/N` (waiting for a change) and `GET /stats`.
//! - `tick`: the periodic housekeeping.
//! - `shared`: the same use cases on tasks kept in a shared Redis.
//! - `watch`: `GET /metrics` and the dashboard's `GET /events`.
//! - `waiters`: the signals long polls wait on.
//! - `log`: one log line per change (metrics follow the same record, in
//!   [`crate::metrics`]).
//! - `cost`: what a use case spent on a task's bytes, in CPU time.
//! - `error`: [`UseCaseError`], what the use cases refuse.

mod answer;
mod arriving;
mod caller;
mod cancel;
pub(crate) mod cost;
mod error;
mod lease;
mod log;
mod release;
mod shared;
mod submit;
mod tick;
mod token;
mod view;
mod waiters;
mod watch;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

pub use arriving::AnswerArriving;
pub use caller::Caller;
pub use error::UseCaseError;
pub use view::{KnownState, StatsReport};
pub use watch::EVENT_INTERVAL;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::queue::{Changes, FIRST_PART_ID, IdWindow, TaskQueue};
use crate::store::shared::{Counts, SharedStore};
use crate::store::{Store, StoreError, Ticket};
use cost::Cost;
use token::LeaseTokens;
use waiters::ResultWaiters;

/// Cheap to clone handle on the shared state.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    queue: Mutex<TaskQueue>,
    /// Where the task state is kept.
    store: Store,
    /// The shared Redis the tasks live in instead (then `queue` is a
    /// scratch queue that holds the tasks of one transition at a time, and
    /// this coordinator's worker tables).
    shared: Option<Arc<SharedStore>>,
    /// The cluster's counters as of the last tick (shared store only).
    shared_counts: Mutex<Counts>,
    /// Leases being decided on the shared store now, so that concurrent
    /// ones start at different places of its queue.
    leasing: std::sync::atomic::AtomicUsize,
    /// Signalled once per task made pending; long polls for tasks wait on it.
    task_available: Notify,
    result_waiters: ResultWaiters,
    /// The secret keys of lease tokens.
    tokens: LeaseTokens,
    shutting_down: AtomicBool,
    started_at: Instant,
    metrics: Arc<Metrics>,
}

impl AppState {
    /// Fresh state with an empty queue enforcing `config`'s limits, kept in
    /// memory only (whatever `config` says of a data directory).
    pub fn new(config: &Config) -> Self {
        Self::with_queue(
            config,
            TaskQueue::new(config.queue_limits(), config.reject_policy()),
            Store::Memory,
        )
    }

    /// The state `config` asks for: kept in its data directory (opened, and
    /// what it holds restored into the queue) or in memory only.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the data directory is in use by another
    /// coordinator, of another format version, or cannot be read.
    pub fn open(config: &Config) -> Result<Self, StoreError> {
        let Some(path) = &config.data_dir else {
            return Ok(Self::new(config));
        };
        let started = Instant::now();
        let (store, recovered) = Store::open(path, config.sync)?;
        let mut queue = TaskQueue::new(config.queue_limits(), config.reject_policy());
        let ids = recovered.ids.unwrap_or(IdWindow {
            client_below: 1,
            parts_above: FIRST_PART_ID,
        });
        let restoring = Instant::now();
        queue.restore(recovered.tasks, ids, Instant::now());
        let mut found = recovered.found;
        found.restore_time = restoring.elapsed();
        crate::store::log_recovery(path, &store, &found, started);
        Ok(Self::with_queue(config, queue, store))
    }

    /// The state `config` asks for, as [`AppState::open`] opens it, or on
    /// the shared Redis of `config.redis`, following what other
    /// coordinators on it change.
    ///
    /// # Errors
    ///
    /// [`StoreError`] as for [`AppState::open`]; [`StoreError::Shared`]
    /// when Redis does not answer.
    pub async fn connect(config: &Config) -> Result<Self, StoreError> {
        let Some(url) = &config.redis else {
            return Self::open(config);
        };
        let shared = SharedStore::connect(url).await?;
        tracing::info!(
            persistence = shared.persistence(),
            "tasks kept in a shared Redis"
        );
        let (high, low) = shared.token_secret().await?;
        let mut policy = config.reject_policy();
        // Leases are counted per address by each coordinator alone; a cap
        // one coordinator counts would drift with the others' leases.
        policy.max_leases_per_client = usize::MAX;
        let queue = TaskQueue::new(config.queue_limits(), policy);
        let mut state = Self::build(
            config,
            queue,
            Store::Memory,
            LeaseTokens::with_secret(high, low),
        );
        if let Some(inner) = Arc::get_mut(&mut state.inner) {
            inner.shared = Some(Arc::new(shared));
        }
        state.follow_shared();
        Ok(state)
    }

    fn with_queue(config: &Config, queue: TaskQueue, store: Store) -> Self {
        Self::build(config, queue, store, LeaseTokens::new())
    }

    fn build(config: &Config, queue: TaskQueue, store: Store, tokens: LeaseTokens) -> Self {
        Self {
            inner: Arc::new(Inner {
                config: config.clone(),
                queue: Mutex::new(queue),
                store,
                shared: None,
                shared_counts: Mutex::new(Counts::default()),
                leasing: std::sync::atomic::AtomicUsize::new(0),
                task_available: Notify::new(),
                result_waiters: ResultWaiters::default(),
                tokens,
                shutting_down: AtomicBool::new(false),
                started_at: Instant::now(),
                metrics: Arc::new(Metrics::new(config.metrics)),
            }),
        }
    }

    /// Writes what the store has waiting and stops its writer: call it last,
    /// when no request is served any more.
    pub fn close(&self) {
        self.inner.store.close();
    }

    /// The settings this state was built with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// When the server started.
    pub fn started_at(&self) -> Instant {
        self.inner.started_at
    }

    /// Ends every long poll now and makes new ones answer at once.
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        self.inner.task_available.notify_waiters();
        self.inner.result_waiters.announce_all();
    }

    /// Whether [`AppState::begin_shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst)
    }

    /// The metrics that follow every change record.
    pub(crate) fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// How many tasks clients are waiting on (`GET /result/N?wait=S`).
    pub fn tasks_waited_on(&self) -> usize {
        self.inner.result_waiters.len()
    }

    /// Locks the queue for one synchronous stretch of queue calls. A
    /// poisoned lock is taken over: every queue operation leaves the queue
    /// consistent before it can panic.
    fn queue(&self) -> MutexGuard<'_, TaskQueue> {
        self.inner
            .queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `op` on the queue under its lock, and hands the changes it made to
    /// the store and the metrics in the same stretch (so both get them in
    /// the order the queue decided them). The ticket says when they are on
    /// disk.
    fn decide<T>(
        &self,
        op: impl FnOnce(&mut TaskQueue, &mut Changes) -> T,
    ) -> (T, Changes, Ticket) {
        let mut changes = Changes::none();
        let mut queue = self.queue();
        let out = op(&mut queue, &mut changes);
        let ticket = self.inner.store.write(&changes);
        self.inner.metrics.observe_changes(&changes);
        drop(queue);
        (out, changes, ticket)
    }

    /// Passes a change record on to everyone who follows changes: logs each
    /// change (the use case's `cost` with the change it concerns), moves the
    /// CPU time metrics (the counters moved when it was decided), wakes one
    /// long poll per task made pending (every long poll when parts sized
    /// by speed were: which part a worker gets, if any, depends on its
    /// speed, so a wake-up taken by a worker that gets none must not leave
    /// one that would get a part asleep), and wakes the clients waiting on
    /// each changed task and on its split task.
    fn commit(&self, changes: &Changes, cost: &Cost) {
        for change in changes {
            log::change(change, cost);
        }
        self.inner.metrics.observe_cost(changes, cost);
        let parts_offered = changes
            .iter()
            .any(|change| change.part().is_some() && change.leases_offered() > 0);
        if parts_offered && self.inner.config.parts_by_speed() {
            self.inner.task_available.notify_waiters();
        } else {
            for _ in 0..changes.pending_added() {
                self.inner.task_available.notify_one();
            }
        }
        let waiters = &self.inner.result_waiters;
        if !waiters.is_empty() {
            for change in changes {
                waiters.announce(change.id());
                if let Some(split) = change.split() {
                    waiters.announce(split);
                }
            }
        }
    }
}

/// Bodies and results up to this many bytes are read, planned and checked
/// on the async runtime; larger ones on the blocking pool.
const INLINE_WORK_BYTES: usize = 64 * 1024;

/// Runs `work` on a task's `bytes`: in line when they are few
/// ([`INLINE_WORK_BYTES`]), else on the blocking pool so the runtime's
/// threads keep answering others.
async fn run_sized<T: Send + 'static>(
    bytes: usize,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, UseCaseError> {
    if bytes <= INLINE_WORK_BYTES {
        return Ok(work());
    }
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| UseCaseError::Internal(format!("work on a task's bytes failed: {e}")))
}
