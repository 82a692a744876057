//! Watching the coordinator run: the Prometheus text of `GET /metrics` and
//! the dashboard's snapshots on `GET /events`, both read from the same
//! metrics that follow every change record and from the queue's counters.

use std::time::{Duration, Instant};

use futures_util::Stream;

use super::{AppState, UseCaseError};
use crate::metrics::{MAX_EVENT_STREAMS, Snapshot};

/// How often a dashboard gets a snapshot.
pub const EVENT_INTERVAL: Duration = Duration::from_secs(1);

impl AppState {
    /// `GET /metrics`: every metric in the Prometheus text format, the
    /// gauges read from the queue as of now.
    ///
    /// # Errors
    ///
    /// [`UseCaseError::Internal`] if the encoder fails.
    pub fn metrics_text(&self) -> Result<String, UseCaseError> {
        let report = self.stats();
        self.inner
            .metrics
            .encode(&report, self.tasks_waited_on())
            .map_err(|e| UseCaseError::Internal(format!("could not write the metrics: {e}")))
    }

    /// The dashboard's snapshot as of now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::build(
            self.stats(),
            &self.inner.metrics,
            self.config(),
            Instant::now(),
        )
    }

    /// `GET /events`: a snapshot now and one every [`EVENT_INTERVAL`] after,
    /// until the server shuts down or the client goes away.
    ///
    /// # Errors
    ///
    /// [`UseCaseError::Busy`] when [`MAX_EVENT_STREAMS`] dashboards are
    /// following already.
    pub fn snapshots(&self) -> Result<impl Stream<Item = Snapshot> + Send + use<>, UseCaseError> {
        let permit = self.inner.metrics.open_event_stream().ok_or_else(|| {
            UseCaseError::Busy(format!(
                "{MAX_EVENT_STREAMS} dashboards are following events already"
            ))
        })?;
        let mut interval = tokio::time::interval(EVENT_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let start = (self.clone(), interval, permit);
        Ok(futures_util::stream::unfold(
            start,
            |(state, mut interval, permit)| async move {
                interval.tick().await;
                if state.is_shutting_down() {
                    return None;
                }
                let snapshot = state.snapshot();
                Some((snapshot, (state, interval, permit)))
            },
        ))
    }
}
