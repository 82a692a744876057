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
