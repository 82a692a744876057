//! The writer thread: group commit.
//!
//! Use cases hand their change records to the store in the order the queue
//! decided them (each gets a sequence number). One thread takes every record
//! waiting, writes them to the engine in one batch, syncs once, and then
//! tells the waiting requests their records are on disk: concurrent
//! requests share one sync; under load the writer waits a moment for more
//! to join ([`GATHER`]). A batch that fails (a full disk) is kept and
//! tried again, with whatever arrived since, until it succeeds; meanwhile
//! every request waiting on the store is told it failed. After a failure
//! the engine is opened again before the next try (an engine may refuse
//! every write after a failed sync until it has recovered its journal).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::engine::Engine;
use super::layout::{self, Op};
use super::{Shared, StoreError};
use crate::queue::Changes;

/// How long the writer waits before trying a failed batch again.
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// How long the writer lets records gather when it finds some already
/// waiting as it finishes a batch. Under load they arrive faster than
/// syncs complete, and each sync costs CPU (on a virtual machine, an exit
/// to the host per kick of the disk), not only time: waiting this long
/// lets one sync serve two to three times as many requests. A record that
/// finds the writer idle is written at once.
const GATHER: Duration = Duration::from_micros(250);

/// What a request hands the writer.
#[derive(Debug)]
pub(super) enum Work {
    /// A change record to store.
    Changes(Changes),
    /// Prepared operations (an id reservation).
    Ops(Vec<Op>),
}

/// One request's records, with its place in the order.
#[derive(Debug)]
pub(super) struct Job {
    pub(super) seq: u64,
    pub(super) work: Work,
}

/// Runs the writer until every sender is gone and every record written.
/// `reopen` opens the engine again after a failed write.
pub(super) fn run(
    engine: Engine,
    reopen: impl Fn() -> Result<Engine, StoreError>,
    jobs: Receiver<Job>,
    shared: Arc<Shared>,
) {
    let mut engine = Some(engine);
    let mut waiting: Vec<Job> = Vec::new();
    let mut ops: Vec<Op> = Vec::new();
    let mut closed = false;
    loop {
        if waiting.is_empty() {
            let ready = jobs.try_recv().ok();
            let busy = ready.is_some();
            let job = ready.or_else(|| if closed { None } else { jobs.recv().ok() });
            let Some(job) = job else {
                if let Some(open) = engine {
                    open.close();
                }
                return;
            };
            waiting.push(job);
            if busy {
                std::thread::sleep(GATHER);
            }
        }
        while let Ok(job) = jobs.try_recv() {
            waiting.push(job);
        }
        ops.clear();
        for job in &waiting {
            match &job.work {
                Work::Changes(changes) => layout::ops(changes, &mut ops),
                Work::Ops(prepared) => ops.extend(prepared.iter().cloned()),
            }
        }
        let last = waiting.last().map_or(0, |job| job.seq);
        let started = Instant::now();
        let written = match engine.take() {
            Some(mut open) => open.apply(&ops).map(|()| open),
            None => reopen().and_then(|mut open| open.apply(&ops).map(|()| open)),
        };
        match written {
            Ok(open) => {
                engine = Some(open);
                let bytes = ops.iter().map(Op::bytes).sum();
                shared.written(last, waiting.len(), bytes, started.elapsed());
                waiting.clear();
            }
            Err(error) => {
                tracing::error!(%error, records = waiting.len(), "store write failed; trying again");
                shared.failed(&error);
                // Wait before trying again, taking what arrives meanwhile;
                // a closed channel still lets the waiting records through.
                match jobs.recv_timeout(RETRY_PAUSE) {
                    Ok(job) => waiting.push(job),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => closed = true,
                }
            }
        }
        if closed && !waiting.is_empty() && shared.is_failing() {
            // Nobody is left to wait for these: the process is stopping.
            tracing::error!(
                records = waiting.len(),
                "stopping with records the store could not write"
            );
            return;
        }
    }
}

/// A failed write, for the requests waiting on it.
pub(super) fn describe(error: &StoreError) -> Arc<str> {
    Arc::from(error.to_string())
}
