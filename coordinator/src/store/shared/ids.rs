//! Ids for new tasks, reserved from the cluster's counters in blocks, so
//! that a submission takes its ids without a round trip to Redis.
//!
//! Each coordinator reserves client ids [`ID_BLOCK`] at a time and part
//! ids (which count down from [`FIRST_PART_ID`]) [`PART_ID_BLOCK`] at a
//! time. No two coordinators get the same id, and ids never go back; ids
//! a coordinator reserved and did not use (it stopped, or a submission was
//! refused) are never handed out, so the ids of one cluster have gaps, and
//! tasks submitted through different coordinators are not numbered in the
//! order they arrived.

use std::ops::Range;

use redis::AsyncCommands;

use super::{SharedStore, StoreError, unreachable};
use crate::queue::{FIRST_PART_ID, FreshIds};

/// Client ids a coordinator reserves at a time.
const ID_BLOCK: u64 = 64;

/// Part ids a coordinator reserves at a time (more when one split task
/// needs more).
const PART_ID_BLOCK: u64 = 1024;

/// The ids this coordinator reserved and has not handed out yet.
#[derive(Debug, Default)]
pub(super) struct IdBlocks {
    /// Client ids.
    ids: Range<u64>,
    /// Part ids, as counts of part ids used (part id = `FIRST_PART_ID -
    /// used`).
    parts_used: Range<u64>,
}

impl SharedStore {
    /// Takes the ids of a new task with `parts` parts: its client id, and
    /// the part ids counting down from the one given. Reserves a block
    /// from the cluster's counters when this coordinator's is used up.
    ///
    /// # Errors
    ///
    /// [`StoreError::Shared`] when Redis does not answer.
    pub(crate) async fn take_ids(&self, parts: usize) -> Result<FreshIds, StoreError> {
        let parts = parts as u64;
        let mut blocks = self.ids.lock().await;
        if blocks.ids.is_empty() {
            let mut conn = self.conn.clone();
            let last: u64 = conn
                .incr(&self.keys.next_id, ID_BLOCK)
                .await
                .map_err(unreachable)?;
            blocks.ids = last + 1 - ID_BLOCK..last + 1;
        }
        if blocks.parts_used.end - blocks.parts_used.start < parts {
            let reserve = parts.max(PART_ID_BLOCK);
            let mut conn = self.conn.clone();
            let used: u64 = conn
                .incr(&self.keys.parts_used, reserve)
                .await
                .map_err(unreachable)?;
            blocks.parts_used = used - reserve..used;
        }
        let id = blocks.ids.start;
        blocks.ids.start += 1;
        let used_before = blocks.parts_used.start;
        blocks.parts_used.start += parts;
        Ok(FreshIds {
            next_id: id,
            next_part_id: FIRST_PART_ID.saturating_sub(used_before),
        })
    }

    /// Drops the ids reserved and not handed out yet, after Redis was
    /// unreachable: a Redis restarted without persistence counts from 1
    /// again, and ids handed out from an old block could then meet ids
    /// another coordinator reserves anew (the write refuses a task that
    /// exists, so that would cost retries, never a task).
    pub(super) async fn forget_ids(&self) {
        *self.ids.lock().await = IdBlocks::default();
    }
}
