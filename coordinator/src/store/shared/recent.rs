//! This coordinator's copies of the tasks it wrote last, and the counters
//! it read last: a worker's answer usually follows a lease this
//! coordinator wrote, so its decision starts from that copy instead of a
//! read. The write compares versions as always, so a stale copy costs a
//! second try, never a wrong write.

use std::collections::HashMap;

use super::{Counts, Read, SharedStore, Snapshot, fresh_ids, now_ms};
use crate::queue::{Deltas, FreshIds, TaskId};

/// Tasks this coordinator keeps its latest copy of, before the copies
/// start afresh.
const RECENT_COPIES: usize = 4096;

/// Results larger than this are not kept in a copy (the task is read
/// again instead).
const RECENT_RESULT_BYTES: usize = 64 * 1024;

/// A completed task's copy answers reads only while the task's eviction
/// is at least this far off by this coordinator's clock: another
/// coordinator, whose clock may be ahead, evicts it by its own.
const COPY_EVICT_MARGIN_MS: u64 = 10_000;

/// This coordinator's copies of what it wrote last.
#[derive(Debug, Default)]
pub(super) struct Recent {
    tasks: HashMap<TaskId, Read>,
    ids: Option<FreshIds>,
    held_bytes: u64,
    held_tasks: u64,
}

impl SharedStore {
    /// A snapshot of `tasks` read now with the counters `meta` (last
    /// client id, part ids used, held bytes), which are kept as the latest
    /// known.
    pub(super) fn snapshot(&self, tasks: Vec<Read>, meta: [Option<u64>; 3]) -> Snapshot {
        let ids = fresh_ids(meta[0].unwrap_or(0), meta[1].unwrap_or(0));
        let held_bytes = meta[2].unwrap_or(0);
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.ids = Some(ids);
        recent.held_bytes = held_bytes;
        drop(recent);
        Snapshot {
            tasks,
            ids,
            held_bytes,
            copied: false,
        }
    }

    /// Task `id` as this coordinator last wrote it, if it did lately (and
    /// its result is small), with the counters as last read: a decision
    /// made on it is written only if the task is still at that version,
    /// and one that changes nothing is made again on a fresh read.
    pub(crate) fn recent(&self, id: TaskId) -> Option<Snapshot> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let task = recent.tasks.get(&id)?.clone();
        Some(Snapshot {
            tasks: vec![task],
            ids: recent.ids?,
            held_bytes: recent.held_bytes,
            copied: true,
        })
    }

    /// Task `id` as this coordinator wrote it when it completed it, while
    /// its eviction is [`COPY_EVICT_MARGIN_MS`] off, for a read. Until it
    /// is evicted a completed task is never written again (a result is
    /// never overwritten and a completed task cannot be cancelled), so the
    /// copy answers as a read from Redis would, without the round trip.
    /// Parts and split tasks are read from Redis.
    pub(crate) fn completed_copy(&self, id: TaskId) -> Option<Snapshot> {
        let snapshot = self.recent(id)?;
        let read = snapshot.tasks.first()?;
        let record = read.record.as_ref()?;
        let evict_at = record.evict_at_ms()?;
        let settled = record.completed()
            && read.result.is_some()
            && record.part_of().is_none()
            && record.parts().is_empty();
        (settled && now_ms().saturating_add(COPY_EVICT_MARGIN_MS) < evict_at).then_some(snapshot)
    }

    /// Drops every copy: Redis was out of reach, and may have restarted
    /// without the tasks.
    pub(super) fn forget_all_recent(&self) {
        self.recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .tasks
            .clear();
    }

    /// Keeps `copies`, tasks as just written (`None`: deleted).
    pub(super) fn keep_recent(&self, copies: Vec<(TaskId, Option<Read>)>) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        for (id, copy) in copies {
            match copy {
                Some(copy)
                    if copy
                        .result
                        .as_ref()
                        .is_none_or(|r| r.len() <= RECENT_RESULT_BYTES) =>
                {
                    if recent.tasks.len() >= RECENT_COPIES {
                        recent.tasks.clear();
                    }
                    recent.tasks.insert(id, copy);
                }
                _ => {
                    recent.tasks.remove(&id);
                }
            }
        }
    }

    /// Bytes and tasks the cluster held when this coordinator last read or
    /// changed them (others may have changed them since).
    pub(crate) fn held_known(&self) -> Counts {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        Counts {
            held_bytes: recent.held_bytes,
            held_tasks: recent.held_tasks,
            ..Counts::default()
        }
    }

    /// Keeps `counts`' held bytes and tasks, read now, as the latest known.
    pub(super) fn note_counts(&self, counts: &Counts) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.held_bytes = counts.held_bytes;
        recent.held_tasks = counts.held_tasks;
    }

    /// Moves the latest known held bytes and tasks by what a write of
    /// this coordinator just changed.
    pub(super) fn note_deltas(&self, deltas: &Deltas) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.held_bytes = recent.held_bytes.saturating_add_signed(deltas.held_bytes);
        recent.held_tasks = recent.held_tasks.saturating_add_signed(deltas.held_tasks);
    }

    /// Drops the copies of `ids` (another coordinator changed them).
    pub(super) fn forget_recent(&self, ids: impl Iterator<Item = TaskId>) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            recent.tasks.remove(&id);
        }
    }
}
