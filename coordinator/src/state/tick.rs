//! The periodic housekeeping.

use std::time::Instant;

use super::AppState;
use super::cost::Cost;
use crate::queue::Changes;

impl AppState {
    /// Requeues expired leases, evicts finished tasks and forgets workers
    /// not seen recently, as of `now`, and passes on what changed. The
    /// server calls it every [`crate::config::TICK_INTERVAL`]; tests call
    /// it with a later `now` to expire leases without sleeping. Returns
    /// the changes it made.
    pub fn tick(&self, now: Instant) -> Changes {
        let ((), changes, _) = self.decide(|queue, changes| queue.tick(now, changes));
        self.commit(&changes, &Cost::none());
        changes
    }
}

impl AppState {
    /// The server's periodic housekeeping: [`AppState::tick`], or on a
    /// shared Redis, requeueing the leases that expired there (handed out
    /// by any coordinator) and evicting the finished tasks due, then
    /// forgetting the workers this coordinator has not seen recently. A
    /// Redis that does not answer is logged and tried again next time.
    pub async fn housekeep(&self, now: Instant) -> Changes {
        let Some(shared) = self.shared().cloned() else {
            return self.tick(now);
        };
        let changes = match self.shared_tick(&shared).await {
            Ok(changes) => changes,
            Err(error) => {
                tracing::warn!(%error, "housekeeping on Redis failed; trying again");
                Changes::none()
            }
        };
        self.commit(&changes, &Cost::none());
        // Only the worker tables: the scratch queue holds no task now.
        let ((), _, _) = self.decide(|queue, changes| queue.tick(now, changes));
        changes
    }
}
