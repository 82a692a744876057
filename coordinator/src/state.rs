//! The state shared by every request: the task queue behind a lock, the
//! signal that wakes long polls, and the periodic housekeeping.
//!
//! The queue sits in a std `Mutex` that is only ever held for one
//! synchronous queue call, never across an `.await`. Long polls wait on a
//! `tokio::sync::Notify` that submissions and requeues signal; clients
//! waiting on a result wait on their task's own signal
//! ([`ResultWaiters`]), which every change of that task's state gives.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

use crate::config::Config;
use crate::queue::{Lease, TaskId, TaskQueue, TickReport, WorkerId};
use crate::result_waiters::ResultWaiters;

/// Cheap to clone handle on the shared state.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    queue: Mutex<TaskQueue>,
    task_available: Notify,
    result_waiters: ResultWaiters,
    shutting_down: AtomicBool,
    started_at: Instant,
}

impl AppState {
    /// Fresh state with an empty queue enforcing `config`'s limits.
    pub fn new(config: &Config) -> Self {
        Self {
            inner: Arc::new(Inner {
                config: config.clone(),
                queue: Mutex::new({
                    let mut queue = TaskQueue::new(config.queue_limits());
                    queue.set_reject_policy(config.reject_policy());
                    queue
                }),
                task_available: Notify::new(),
                result_waiters: ResultWaiters::default(),
                shutting_down: AtomicBool::new(false),
                started_at: Instant::now(),
            }),
        }
    }

    /// The settings this state was built with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Locks the queue. Hold the guard for one queue call, never across an
    /// `.await`. A poisoned lock is taken over: every queue operation leaves
    /// the queue consistent before it can panic.
    pub fn queue(&self) -> MutexGuard<'_, TaskQueue> {
        self.inner
            .queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The notifier long polls wait on.
    pub fn task_available(&self) -> &Notify {
        &self.inner.task_available
    }

    /// Wakes up to `count` waiting long polls (one per task made available).
    pub fn wake_workers(&self, count: usize) {
        for _ in 0..count {
            self.inner.task_available.notify_one();
        }
    }

    /// The clients waiting on tasks' results.
    pub fn result_waiters(&self) -> &ResultWaiters {
        &self.inner.result_waiters
    }

    /// Wakes the clients waiting on task `id`, or on the split task it is a
    /// part of (it was leased, completed, failed, progressed, given back).
    pub fn announce_change(&self, id: TaskId) {
        if self.inner.result_waiters.is_empty() {
            return;
        }
        let parent = self.queue().parent_of(id);
        self.announce_task(id, parent);
    }

    /// [`AppState::announce_change`] for a task whose split task, if any, is
    /// known (a completed part may be gone from the queue already).
    pub fn announce_task(&self, id: TaskId, part_of: Option<TaskId>) {
        let waiters = &self.inner.result_waiters;
        waiters.announce(id);
        if let Some(parent) = part_of {
            waiters.announce(parent);
        }
    }

    /// [`AppState::announce_change`] for the tasks a tick changed.
    fn announce_tick(&self, report: &TickReport) {
        for &id in report.requeued.iter().chain(&report.failed) {
            self.announce_change(id);
        }
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

    /// Requeues the leases expired by `now`, then leases the first pending
    /// task to `worker`, all under one lock.
    pub fn lease_next(&self, worker: &WorkerId, now: Instant) -> Option<Lease> {
        let (report, lease) = {
            let mut queue = self.queue();
            let report = queue.requeue_expired(now);
            let lease = queue.lease_next(worker, now);
            (report, lease)
        };
        log_tick(&report);
        // Tasks requeued here beyond the one taken are for other waiters.
        let taken = usize::from(lease.is_some());
        self.wake_workers(report.requeued.len().saturating_sub(taken));
        if let Some(lease) = &lease {
            tracing::info!(task = %lease.id, worker = %worker, attempt = lease.attempts, "task assigned");
        }
        self.announce_tick(&report);
        if let Some(lease) = &lease {
            self.announce_change(lease.id);
        }
        lease
    }

    /// Runs the queue's housekeeping as of `now`, logs what it did and wakes
    /// long polls for requeued tasks. The server calls it every
    /// [`crate::config::TICK_INTERVAL`]; tests call it with a later `now` to
    /// expire leases without sleeping.
    pub fn tick(&self, now: Instant) -> TickReport {
        let report = self.queue().tick(now);
        log_tick(&report);
        self.wake_workers(report.requeued.len());
        self.announce_tick(&report);
        report
    }
}

fn log_tick(report: &TickReport) {
    for id in &report.requeued {
        tracing::warn!(task = %id, "lease expired, task requeued");
    }
    for id in &report.failed {
        tracing::warn!(task = %id, "lease expired on the last attempt, task failed");
    }
    if report.evicted > 0 {
        tracing::debug!(count = report.evicted, "evicted finished tasks");
    }
}
