//! Reading a task (waiting for it to change when asked to) and the
//! statistics.

use std::pin::pin;
use std::time::{Duration, Instant};

use super::{AppState, UseCaseError};
use crate::metrics::LongPoll;
use crate::queue::{Stats, TaskId, TaskStatus, TaskView};
use crate::store::StoreStats;
use crate::store::shared::Counts;

/// What a client waiting on a task last saw of it; `None` fields mean "as
/// the task is when the request arrives".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KnownState {
    /// The status the client knows.
    pub status: Option<TaskStatus>,
    /// The parts done it knows, for a split task.
    pub parts_done: Option<usize>,
}

/// `GET /stats`: the queue's counters and how long the server has run.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsReport {
    /// The queue's counters and recently seen workers.
    pub stats: Stats,
    /// Time since the server started.
    pub uptime: Duration,
    /// Where the task state is kept, and what the store has done.
    pub store: StoreStats,
}

impl AppState {
    /// `GET /result/N`: a snapshot of task `id`. With a `wait`, a task that
    /// is not finished is answered once it is no longer as `known` says
    /// (leased, given back, a part done, completed, failed), or after
    /// `wait`.
    ///
    /// # Errors
    ///
    /// [`UseCaseError::Queue`] for a task never submitted or evicted.
    pub async fn view(
        &self,
        id: TaskId,
        wait: Duration,
        mut known: KnownState,
    ) -> Result<TaskView, UseCaseError> {
        let deadline = tokio::time::Instant::now() + wait;
        let waiting = self.inner.result_waiters.wait_on(id);
        let _open = (!wait.is_zero()).then(|| self.inner.metrics.long_poll(LongPoll::Result));
        let mut watched = false;
        loop {
            let mut changed = pin!(waiting.signal().notified());
            changed.as_mut().enable();
            let view = match self.shared().cloned() {
                Some(shared) => self.shared_get(&shared, id).await?,
                None => self.queue().get(id)?,
            };
            let parts_done = view.parts.map(|p| p.done);
            if known.status.is_none() {
                // Nothing said: the task as it is now is what the caller knows.
                known = KnownState {
                    status: Some(view.status),
                    parts_done,
                };
            }
            let unchanged = known.status == Some(view.status)
                && known.parts_done.is_none_or(|done| parts_done == Some(done));
            if view.status.is_finished()
                || !unchanged
                || tokio::time::Instant::now() >= deadline
                || self.is_shutting_down()
            {
                return Ok(view);
            }
            if let Some(shared) = self.shared().filter(|_| !watched) {
                // Other coordinators publish this task's changes from now
                // on; one made before is in the next read.
                shared.watch_task(id, wait).await?;
                watched = true;
                continue;
            }
            // A timeout ends the wait; the loop then answers what there is.
            let _ = tokio::time::timeout_at(deadline, changed).await;
        }
    }

    /// The counters, the workers seen recently and the uptime, as this
    /// coordinator knows them now (on a shared Redis, the cluster's
    /// counters as of the last tick; [`AppState::stats_now`] reads them).
    pub fn stats(&self) -> StatsReport {
        let now = Instant::now();
        let mut stats = self.queue().stats(now);
        if self.shared().is_some() {
            with_counts(&mut stats, self.shared_counts());
        }
        StatsReport {
            stats,
            uptime: now.saturating_duration_since(self.started_at()),
            store: self.store_stats(),
        }
    }

    /// `GET /stats`: [`AppState::stats`], with the cluster's counters read
    /// from a shared Redis now.
    ///
    /// # Errors
    ///
    /// [`UseCaseError::Store`] when Redis does not answer.
    pub async fn stats_now(&self) -> Result<StatsReport, UseCaseError> {
        let Some(shared) = self.shared().cloned() else {
            return Ok(self.stats());
        };
        let counts = shared.counts().await?;
        let mut report = self.stats();
        with_counts(&mut report.stats, counts);
        Ok(report)
    }

    fn store_stats(&self) -> StoreStats {
        let mut stats = self.inner.store.stats();
        if self.shared().is_some() {
            stats.kind = "redis";
        }
        stats
    }
}

/// `stats` with the cluster's counters in place of this coordinator's.
fn with_counts(stats: &mut Stats, counts: Counts) {
    stats.total_tasks = counts.submitted;
    stats.completed_tasks = counts.completed;
    stats.failed_tasks = counts.failed;
    stats.active_tasks = counts.processing;
    stats.queue_size = counts.pending;
    stats.requeued_tasks = counts.requeued;
    stats.rejected_results = counts.rejected;
    stats.held_tasks = counts.held_tasks;
    stats.held_bytes = counts.held_bytes;
}
