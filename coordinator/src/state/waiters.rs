//! Clients waiting on tasks' results (`GET /result/N?wait=S`), one signal
//! per task, so that a change to one task wakes only those waiting on it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::queue::TaskId;

/// The signals of the tasks someone is waiting on.
#[derive(Debug, Default)]
pub(crate) struct ResultWaiters {
    signals: Mutex<HashMap<TaskId, Arc<Notify>>>,
}

/// A client's hold on task `id`'s signal; let go when dropped.
#[derive(Debug)]
pub(crate) struct Waiting<'a> {
    waiters: &'a ResultWaiters,
    id: TaskId,
    signal: Option<Arc<Notify>>,
}

impl Waiting<'_> {
    /// The signal to wait on (create the `notified()` future, enable it,
    /// then look at the task, so no change is missed).
    pub(crate) fn signal(&self) -> &Notify {
        self.signal
            .as_deref()
            .unwrap_or_else(|| unreachable!("held until dropped"))
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        drop(self.signal.take());
        let mut signals = self.waiters.lock();
        // The map's own reference is the last: nobody else waits on it.
        if signals
            .get(&self.id)
            .is_some_and(|signal| Arc::strong_count(signal) == 1)
        {
            signals.remove(&self.id);
        }
    }
}

impl ResultWaiters {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TaskId, Arc<Notify>>> {
        self.signals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts waiting on task `id`.
    pub(crate) fn wait_on(&self, id: TaskId) -> Waiting<'_> {
        let signal = Arc::clone(self.lock().entry(id).or_default());
        Waiting {
            waiters: self,
            id,
            signal: Some(signal),
        }
    }

    /// Wakes the clients waiting on task `id`.
    pub(crate) fn announce(&self, id: TaskId) {
        if let Some(signal) = self.lock().get(&id) {
            signal.notify_waiters();
        }
    }

    /// Wakes every waiting client.
    pub(crate) fn announce_all(&self) {
        for signal in self.lock().values() {
            signal.notify_waiters();
        }
    }

    /// Tasks someone is waiting on.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nobody is waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_change_wakes_only_the_clients_of_that_task() {
        let waiters = ResultWaiters::default();
        let (one, two) = (waiters.wait_on(TaskId(1)), waiters.wait_on(TaskId(2)));
        let mut first = std::pin::pin!(one.signal().notified());
        first.as_mut().enable();
        let mut second = std::pin::pin!(two.signal().notified());
        second.as_mut().enable();
        waiters.announce(TaskId(1));
        assert!(futures_ready(first.as_mut()));
        assert!(!futures_ready(second.as_mut()), "task 2 did not change");
        waiters.announce_all();
        assert!(futures_ready(second.as_mut()));
    }

    #[test]
    fn signals_are_dropped_with_their_last_client() {
        let waiters = ResultWaiters::default();
        let first = waiters.wait_on(TaskId(7));
        let second = waiters.wait_on(TaskId(7));
        assert_eq!(waiters.len(), 1);
        drop(first);
        assert_eq!(waiters.len(), 1, "still waited on");
        drop(second);
        assert!(waiters.is_empty());
        waiters.announce(TaskId(7));
    }

    /// Whether `future` is ready now.
    fn futures_ready(future: std::pin::Pin<&mut impl std::future::Future<Output = ()>>) -> bool {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        future.poll(&mut cx).is_ready()
    }
}
