//! This coordinator's copies of the tasks it wrote last, and the counters
//! it read last: a worker's answer usually follows a lease this
//! coordinator wrote, so its decision starts from that copy instead of a
//! read, and a lease usually takes a task submitted here, so it starts
//! from the copy of the oldest one still pending here (with its data).
//! The write compares versions as always, so a stale copy costs a second
//! try, never a wrong write.

use std::collections::{HashMap, HashSet, VecDeque};

use super::{Counts, Read, SharedStore, Snapshot, fresh_ids, now_ms};
use crate::queue::{Deltas, FreshIds, TaskId};

/// Tasks this coordinator keeps its latest copy of, before the copies
/// start afresh.
const RECENT_COPIES: usize = 4096;

/// Results larger than this are not kept in a copy (the task is read
/// again instead).
const RECENT_RESULT_BYTES: usize = 64 * 1024;

/// Bytes of task data the copies of pending tasks hold at most, together
/// (a task whose data does not fit is leased from a read).
const PENDING_DATA_BYTES: usize = 16 * 1024 * 1024;

/// Leases and submissions under way that a lease on a copy counts, each,
/// when it says how far from the head of the queue its task may be: what
/// the write checks stays small under a flood of requests.
const MOST_AHEAD: usize = 256;

/// A completed task's copy answers reads only while the task's eviction
/// is at least this far off by this coordinator's clock: another
/// coordinator, whose clock may be ahead, evicts it by its own.
const COPY_EVICT_MARGIN_MS: u64 = 10_000;

/// A lease's claim on the copy of a pending task
/// ([`SharedStore::pending_copy`]).
pub(crate) struct PendingClaim<'a> {
    store: &'a SharedStore,
    id: TaskId,
    snapshot: Option<Snapshot>,
}

impl PendingClaim<'_> {
    /// The copy to decide on (once).
    pub(crate) fn take_snapshot(&mut self) -> Option<Snapshot> {
        self.snapshot.take()
    }

    /// Puts the task back at the front of the line: the lease decided on
    /// its copy changed nothing (the worker gets no task now).
    pub(crate) fn put_back(&self) {
        let mut recent = self.store.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.pending.push_front(self.id);
    }

    /// What the lease's write must find in the queue of pending ids: at
    /// its head a task that a lease here may take from its copy (one being
    /// decided now, or one of the next `spread` in line here), and the
    /// task among the first `spread` more than there are leases being
    /// decided here. So a task at the head that was submitted elsewhere,
    /// requeued, or whose lease on a copy failed is never passed over: the
    /// next lease takes it from a read of the head. A task further down
    /// is passed over only while tasks submitted here before it are ahead
    /// of it (copies are taken oldest first).
    ///
    /// At most [`MOST_AHEAD`] leases and submissions under way are
    /// counted (past that many, a lease on a copy finds the head other
    /// than it requires and takes the head instead).
    pub(crate) fn near_head(&self, spread: usize) -> NearHead {
        let recent = self.store.recent.lock().unwrap_or_else(|p| p.into_inner());
        let leasing = recent.leasing.len().min(MOST_AHEAD);
        let writing = recent.writing.len().min(MOST_AHEAD);
        let heads = recent
            .leasing
            .iter()
            .take(leasing)
            .chain(recent.pending.iter().take(writing + spread))
            .copied()
            .collect();
        NearHead {
            id: self.id,
            within: leasing + writing + spread,
            heads,
        }
    }
}

impl Drop for PendingClaim<'_> {
    fn drop(&mut self) {
        let mut recent = self.store.recent.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(place) = recent.leasing.iter().position(|id| *id == self.id) {
            recent.leasing.swap_remove(place);
        }
    }
}

/// Where a task decided on a copy must be in the queue of pending ids for
/// the write to go ahead ([`PendingClaim::near_head`]).
#[derive(Debug, Clone)]
pub(crate) struct NearHead {
    /// The task.
    pub(super) id: TaskId,
    /// It is among the queue's first this many.
    pub(super) within: usize,
    /// The queue's first id is one of these.
    pub(super) heads: Vec<TaskId>,
}

/// This coordinator's copies of what it wrote last.
#[derive(Debug, Default)]
pub(super) struct Recent {
    tasks: HashMap<TaskId, Read>,
    /// Tasks created pending here whose copy holds their data, oldest
    /// first: the next lease here tries the first ([`SharedStore::pending_copy`]).
    pending: VecDeque<TaskId>,
    /// Bytes of data the copies hold.
    data_bytes: usize,
    /// Tasks whose copy a lease decided here now is deciding on.
    leasing: Vec<TaskId>,
    /// Tasks in `pending` whose submission is being written now.
    writing: HashSet<TaskId>,
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

    /// The copy of the oldest task created pending here that is still
    /// pending as this coordinator last wrote it, with its data, for a
    /// lease: taken out of the line, so that leases decided here at the
    /// same time try different tasks, and counted as being leased here
    /// while the claim lives ([`PendingClaim::near_head`]).
    pub(crate) fn pending_copy(&self) -> Option<PendingClaim<'_>> {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        // A lease takes no ids: any will do before a read tells them.
        let ids = recent.ids.unwrap_or_else(|| fresh_ids(0, 0));
        // Submissions still being written are passed over (not yet
        // acknowledged, so not yet owed their place) and kept in line.
        let mut place = 0;
        while let Some(&id) = recent.pending.get(place) {
            if recent.writing.contains(&id) {
                place += 1;
                continue;
            }
            recent.pending.remove(place);
            let Some(copy) = recent.tasks.get(&id) else {
                continue;
            };
            if copy.queued && copy.data.is_some() {
                let snapshot = Snapshot {
                    tasks: vec![copy.clone()],
                    ids,
                    held_bytes: recent.held_bytes,
                    copied: true,
                };
                recent.leasing.push(id);
                return Some(PendingClaim {
                    store: self,
                    id,
                    snapshot: Some(snapshot),
                });
            }
        }
        None
    }

    /// Drops every copy: Redis was out of reach, and may have restarted
    /// without the tasks.
    pub(super) fn forget_all_recent(&self) {
        self.recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear_tasks();
    }

    /// Puts `ids`, tasks created pending by a write about to be sent, in
    /// line for leases here, in the order the writes reach Redis (so that
    /// the line follows the queue's order); a lease does not look past one
    /// whose write has not come back ([`SharedStore::written`]).
    pub(super) fn writing(&self, ids: &[TaskId]) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        for &id in ids {
            recent.pending.push_back(id);
            recent.writing.insert(id);
            if recent.pending.len() > RECENT_COPIES {
                recent.pending.pop_front();
            }
        }
    }

    /// The write of `ids` ([`SharedStore::writing`]) came back (written
    /// or not: a task whose copy is not kept is skipped in line).
    pub(super) fn written(&self, ids: &[TaskId]) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            recent.writing.remove(id);
        }
    }

    /// Keeps `copies`, tasks as just written (`None`: deleted). A copy
    /// holds its task's data only while the task is pending and the data
    /// fits in [`PENDING_DATA_BYTES`].
    pub(super) fn keep_recent(&self, copies: Vec<(TaskId, Option<Read>)>) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        for (id, copy) in copies {
            recent.remove(id);
            let Some(mut copy) = copy else {
                continue;
            };
            if copy
                .result
                .as_ref()
                .is_some_and(|r| r.len() > RECENT_RESULT_BYTES)
            {
                continue;
            }
            if recent.tasks.len() >= RECENT_COPIES {
                recent.clear_tasks();
            }
            let data_len = copy.data.as_ref().map_or(0, |d| d.len());
            if !copy.queued || recent.data_bytes + data_len > PENDING_DATA_BYTES {
                copy.data = None;
            }
            if copy.data.is_some() {
                recent.data_bytes += data_len;
            }
            recent.tasks.insert(id, copy);
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
            recent.remove(id);
        }
    }
}

impl Recent {
    /// Drops the copy of `id` (its id stays in the line of pending ones
    /// until a lease looks at it, and is skipped then).
    fn remove(&mut self, id: TaskId) {
        if let Some(old) = self.tasks.remove(&id) {
            let data_len = old.data.as_ref().map_or(0, |d| d.len());
            self.data_bytes = self.data_bytes.saturating_sub(data_len);
        }
    }

    /// Drops every copy.
    fn clear_tasks(&mut self) {
        self.tasks.clear();
        self.pending.clear();
        self.data_bytes = 0;
    }
}
