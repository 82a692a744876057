//! Leasing a task to a worker, waiting for one when asked to (long poll).

use std::pin::pin;
use std::time::{Duration, Instant};

use super::cost::Cost;
use super::shared::Target;
use super::{AppState, UseCaseError};
use crate::metrics::LongPoll;
use crate::queue::{Asker, Lease, NoLease};

/// How often a benched worker's long poll looks for shutdown.
const BENCHED_POLL_STEP: Duration = Duration::from_secs(1);

impl AppState {
    /// `GET /task/next`: leases the next pending task to `asker`, waiting
    /// up to `wait` for one to arrive; `None` when none did. A worker that
    /// released a task within [`crate::queue::RELEASE_PAUSE`] gets none
    /// until the pause is over; a benched worker, or one whose address
    /// holds as many leases as it may, gets none and waits out its `wait`
    /// without taking a wake-up meant for another worker (one at its
    /// address's lease cap looks again every second).
    pub async fn lease(&self, asker: &Asker, wait: Duration) -> Option<Lease> {
        self.try_lease(asker, wait).await.ok().flatten()
    }

    /// [`AppState::lease`], telling a shared Redis that does not answer
    /// apart from no task.
    ///
    /// # Errors
    ///
    /// [`UseCaseError::Store`] when Redis does not answer;
    /// [`UseCaseError::Busy`] when other coordinators kept winning the race
    /// for the same tasks.
    pub async fn try_lease(
        &self,
        asker: &Asker,
        wait: Duration,
    ) -> Result<Option<Lease>, UseCaseError> {
        // tokio's clock, so paused-time tests can run the wait out.
        let deadline = tokio::time::Instant::now() + wait;
        let _open = (!wait.is_zero()).then(|| self.inner.metrics.long_poll(LongPoll::Task));
        let mut woken = false;
        let mut announced = false;
        loop {
            let mut notified = pin!(self.inner.task_available.notified());
            notified.as_mut().enable();
            let paused = match self.lease_now(asker).await? {
                Ok(lease) => return Ok(Some(lease)),
                Err(NoLease::Benched) => {
                    self.wait_benched(deadline).await;
                    return Ok(None);
                }
                Err(NoLease::LeaseCap) => {
                    let now = tokio::time::Instant::now();
                    if now >= deadline || self.is_shutting_down() {
                        return Ok(None);
                    }
                    tokio::time::sleep_until((now + BENCHED_POLL_STEP).min(deadline)).await;
                    continue;
                }
                Err(NoLease::Paused(left)) => Some(left),
                Err(NoLease::NonePending) => None,
                Err(NoLease::NotYet(left)) => {
                    // A backup copy may become worth handing out: look
                    // again then, or when a task arrives.
                    let now = tokio::time::Instant::now();
                    if now >= deadline || self.is_shutting_down() {
                        return Ok(None);
                    }
                    let until = (now + left).min(deadline);
                    woken = tokio::time::timeout_at(until, notified).await.is_ok();
                    continue;
                }
            };
            if let Some(left) = paused {
                // The worker just gave a task back: this poll may be one its
                // page abandoned. A wake-up it took goes to another worker,
                // and it waits the pause out without taking more.
                if woken {
                    self.inner.task_available.notify_one();
                }
                let until = (tokio::time::Instant::now() + left).min(deadline);
                tokio::time::sleep_until(until).await;
                woken = false;
                if until >= deadline || self.is_shutting_down() {
                    return Ok(None);
                }
                continue;
            }
            if tokio::time::Instant::now() >= deadline || self.is_shutting_down() {
                return Ok(None);
            }
            if let Some(shared) = self.shared().filter(|_| !announced) {
                // Other coordinators publish the tasks they make pending
                // from now on; one made before is found by looking again.
                shared.wait_for_tasks(wait).await?;
                announced = true;
                continue;
            }
            // A timeout ends the wait; the loop then tries once more.
            woken = tokio::time::timeout_at(deadline, notified).await.is_ok();
        }
    }

    /// One lease attempt under one lock (on a shared Redis, on the task
    /// at the head of its queue).
    async fn lease_now(&self, asker: &Asker) -> Result<Result<Lease, NoLease>, UseCaseError> {
        let (lease, changes, _) = self
            .decide_on(Target::Head, |queue, changes| {
                queue.lease_next(asker, Instant::now(), changes)
            })
            .await?;
        self.commit(&changes, &Cost::none());
        Ok(lease)
    }

    /// A benched worker's poll: it was seen (so it stays in `/stats`), gets
    /// no task, and waits until `deadline` or shutdown without waiting on
    /// the task signal.
    async fn wait_benched(&self, deadline: tokio::time::Instant) {
        while tokio::time::Instant::now() < deadline && !self.is_shutting_down() {
            let step = tokio::time::Instant::now() + BENCHED_POLL_STEP;
            tokio::time::sleep_until(step.min(deadline)).await;
        }
    }
}
