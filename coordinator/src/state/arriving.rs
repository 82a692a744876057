//! An answer on its way: while a worker's `POST /task/N/result` body
//! arrives, its lease is marked answering, so that no backup copy of the
//! part is handed out for a holder that is about to finish.
//!
//! Two pages of one volunteer share an uplink: the first to finish is
//! measured faster, its sibling still uploading looks late, and a copy
//! would send the part's operands down and its product up once more over
//! the same link, for nothing.

use super::{AppState, Caller};
use crate::queue::TaskId;

/// The mark on a lease whose answer is arriving; dropped, it ends the mark
/// (the answer was decided, or did not arrive whole).
#[derive(Debug)]
#[must_use = "the mark ends when this is dropped"]
pub struct AnswerArriving {
    state: AppState,
    id: TaskId,
    lease: u64,
}

impl AppState {
    /// Marks the lease of task `id` that `caller` holds as answering until
    /// the returned guard is dropped; `None` when `caller` holds no live
    /// lease of it here (or the tasks live in a shared store, where no
    /// backup copies are made).
    pub fn answer_arriving(&self, id: TaskId, caller: &Caller) -> Option<AnswerArriving> {
        if self.shared().is_some() {
            return None;
        }
        let poster = self.poster(id, caller).ok()?;
        let lease = self.queue().mark_answering(id, &poster)?;
        Some(AnswerArriving {
            state: self.clone(),
            id,
            lease,
        })
    }
}

impl Drop for AnswerArriving {
    fn drop(&mut self) {
        self.state.queue().unmark_answering(self.id, self.lease);
    }
}
