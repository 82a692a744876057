//! Writing a decided transition back: each task's state and the indexes
//! around it, in one script run that first compares the versions read.

use std::collections::HashMap;

use super::record::{StateRecord, bytes_of};
use super::{
    HeadReply, NearHead, Read, SharedStore, Snapshot, StoreError, keys, now_ms, unreachable,
};
use crate::check::TaskCheck;
use crate::queue::{Deltas, FIRST_PART_ID, TaskDiff, TaskId};

/// What became of a write.
#[derive(Debug, Clone)]
pub(crate) enum Written {
    /// It was written.
    Changed,
    /// The decision changed nothing, so nothing was written.
    Unchanged,
    /// Another coordinator changed a task first (or a bound was passed):
    /// nothing was written.
    Stale,
    /// The tasks were as read, but the queue of pending ids was not as the
    /// write required ([`NearHead`]): nothing was written, and the head of
    /// the queue is read instead, as [`SharedStore::head`] reads it.
    Behind(Snapshot),
}

impl Written {
    /// What the metrics call it: `written`, `unchanged`, `stale`, `behind`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Changed => "written",
            Self::Unchanged => "unchanged",
            Self::Stale => "stale",
            Self::Behind(_) => "behind",
        }
    }
}

/// The cluster's limits a write keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Most bytes of data, results and errors held.
    pub(crate) max_held_bytes: i64,
    /// Most tasks held.
    pub(crate) max_tasks: i64,
}

impl SharedStore {
    /// Writes what an operation decided on `reads`, if none of them changed
    /// since: each task's state, the queue of pending ids, the lease and
    /// eviction deadlines and the counters, and publishes `woken` pending
    /// tasks and the changed ids, as far as someone waits for them
    /// ([`SharedStore::watch_task`], [`SharedStore::wait_for_tasks`]).
    /// With `near_head`, it is written only if the queue of pending ids
    /// is as that says (a lease decided on this coordinator's copy of a
    /// task, not on a read of the queue's head). Says what became of it
    /// ([`Written`]); nothing is written when nothing changed.
    ///
    /// # Errors
    ///
    /// [`StoreError::Shared`] when Redis does not answer.
    pub(crate) async fn write(
        &self,
        reads: &[Read],
        diffs: &[TaskDiff],
        deltas: &Deltas,
        woken: usize,
        limits: Limits,
        near_head: Option<NearHead>,
    ) -> Result<Written, StoreError> {
        let mut plan = keys::WritePlan::default();
        let before: HashMap<TaskId, &Read> = reads.iter().map(|r| (r.id, r)).collect();
        let mut changed = Vec::new();
        let mut copies = Vec::new();
        for diff in diffs {
            let read = before.get(&diff.id).copied();
            if let Some(copy) = self.plan_task(&mut plan, read, diff) {
                changed.push(diff.id);
                copies.push((diff.id, copy));
            }
        }
        let counters = [
            ("submitted", deltas.submitted),
            ("completed", deltas.completed),
            ("failed", deltas.failed),
            ("requeued", deltas.requeued),
            ("pending", deltas.pending),
            ("processing", deltas.processing),
            ("rejected", deltas.rejected),
            ("held_bytes", deltas.held_bytes),
            ("held_tasks", deltas.held_tasks),
        ];
        for (field, delta) in counters {
            if delta != 0 {
                plan.command(["HINCRBY", &self.keys.stats, field, &delta.to_string()]);
            }
        }
        let [last_id, lowest_part] = deltas.created_ids;
        if let Some(last_id) = last_id {
            plan.command(["ZADD", &self.keys.issued, "GT", &last_id.to_string(), "ids"]);
        }
        if let Some(lowest) = lowest_part {
            let used = (FIRST_PART_ID - lowest + 1).to_string();
            plan.command(["ZADD", &self.keys.issued, "GT", &used, "parts"]);
        }
        if changed.is_empty() && plan.is_empty() {
            return Ok(Written::Unchanged);
        }
        let mut invocation = self.write.prepare_invoke();
        for read in reads {
            invocation.key(self.keys.task(read.id)).arg(read.version);
        }
        for diff in diffs.iter().filter(|d| d.created) {
            invocation.key(self.keys.task(diff.id)).arg(0);
        }
        // The cluster's limits hold at the write, not only when read: a
        // write that raises a count checks that the count still leaves
        // room for it (else it is decided again, and refused then).
        let bounds: Vec<(&str, i64)> = [
            ("held_bytes", deltas.held_bytes, limits.max_held_bytes),
            ("held_tasks", deltas.held_tasks, limits.max_tasks),
        ]
        .into_iter()
        .filter(|(_, delta, _)| *delta > 0)
        .map(|(field, delta, max)| (field, max.saturating_sub(delta)))
        .collect();
        invocation.arg(bounds.len());
        for (field, most) in bounds {
            invocation.arg(&self.keys.stats).arg(field).arg(most);
        }
        invocation.arg(usize::from(near_head.is_some()));
        if let Some(near) = near_head {
            invocation
                .arg(&self.keys.pending)
                .arg(near.id.0)
                .arg(near.within)
                .arg(near.heads.len());
            for head in near.heads {
                invocation.arg(head.0);
            }
            invocation
                .arg(&self.keys.issued)
                .arg(&self.keys.stats)
                .arg(self.keys.task_prefix());
        }
        plan.add_to(&mut invocation);
        invocation
            .arg(&self.keys.channel)
            .arg(&self.keys.watched)
            .arg(&self.keys.idle)
            .arg(now_ms())
            .arg(&self.node)
            .arg(woken)
            .arg(changed.len());
        for id in &changed {
            invocation.arg(id.0);
        }
        // Tasks created pending (with their data in the copy) are put in
        // line for leases here as the write is sent.
        let lined: Vec<TaskId> = copies
            .iter()
            .filter(|(_, copy)| copy.as_ref().is_some_and(|c| c.data.is_some()))
            .map(|(id, _)| *id)
            .collect();
        self.writing(&lined);
        let mut conn = self.conn.clone();
        let outcome = invocation.invoke_async(&mut conn).await;
        self.written(&lined);
        let written: redis::Value = match outcome {
            Ok(written) => written,
            Err(error) => {
                self.forget_ids().await;
                self.forget_all_recent();
                return Err(unreachable(error));
            }
        };
        match written {
            redis::Value::Int(1) => {
                self.keep_recent(copies);
                self.note_deltas(deltas);
                Ok(Written::Changed)
            }
            redis::Value::Int(_) => {
                self.forget_recent(reads.iter().map(|r| r.id));
                Ok(Written::Stale)
            }
            head => {
                let reply: HeadReply = redis::from_redis_value(head)
                    .map_err(|error| StoreError::Shared(error.to_string()))?;
                Ok(Written::Behind(self.head_snapshot(reply)))
            }
        }
    }

    /// Adds the writes of one task's diff to `plan`. Returns `None` when
    /// the task did not change, else the task as it will be once written
    /// (`None` inside when it is deleted).
    fn plan_task(
        &self,
        plan: &mut keys::WritePlan,
        read: Option<&Read>,
        diff: &TaskDiff,
    ) -> Option<Option<Read>> {
        let key = self.keys.task(diff.id);
        let id = diff.id.to_string();
        let was_queued = read.is_some_and(|r| r.queued);
        let old = read.and_then(|r| r.record.as_ref());
        let old_leases: Vec<(u64, u64)> = old.map(|r| r.leases().collect()).unwrap_or_default();
        let lease_member = |number: u64| format!("{id}:{number}");
        let Some(after) = &diff.after else {
            if read.is_none_or(|r| !r.exists()) {
                return None;
            }
            plan.command(["DEL", &key]);
            plan.command(["ZREM", &self.keys.finished, &id]);
            for (number, _) in &old_leases {
                plan.command(["ZREM", &self.keys.leases, &lease_member(*number)]);
            }
            if was_queued {
                plan.command(["LREM", &self.keys.pending, "1", &id]);
            }
            return Some(None);
        };
        let record = StateRecord::of(after);
        let encoded = record.encode();
        let same = old.is_some_and(|o| *o == record) && was_queued == diff.queued;
        let result_new = after.result.is_some() && read.is_none_or(|r| r.result.is_none());
        if same && !result_new {
            return None;
        }
        let version_number = read.map_or(0, |r| r.version) + 1;
        let version = version_number.to_string();
        let queued = if diff.queued { "1" } else { "0" };
        let mut fields = vec![
            (&b"s"[..], encoded),
            (b"v", version.into_bytes()),
            (b"q", queued.as_bytes().to_vec()),
        ];
        if diff.created {
            fields.push((b"d", bytes_of(&after.data).to_vec()));
        }
        if let Some(result) = after.result.as_ref().filter(|_| result_new) {
            fields.push((b"r", bytes_of(result).to_vec()));
        }
        plan.hset(&key, fields);
        let data_len = match read {
            Some(read) if !diff.created => read.data_len,
            _ => after.data.len() as u64,
        };
        if diff.created {
            // The prepared product check, once per product (the parts of a
            // split task share their split task's), so that a coordinator
            // that did not see the submission checks without the operands.
            let owner = self.keys.task(after.part_of.map_or(diff.id, |p| p.split));
            if !plan.keeps_check(&owner)
                && let Some(bytes) = after.check.as_ref().and_then(TaskCheck::prepared_bytes)
            {
                plan.keep_check(owner, bytes);
            }
        }
        match (was_queued, diff.queued) {
            (false, true) if diff.created => plan.command(["RPUSH", &self.keys.pending, &id]),
            (false, true) => plan.command(["LPUSH", &self.keys.pending, &id]),
            (true, false) => plan.command(["LREM", &self.keys.pending, "1", &id]),
            _ => {}
        }
        let new_leases: Vec<(u64, u64)> = record.leases().collect();
        for (number, _) in old_leases
            .iter()
            .filter(|l| !new_leases.iter().any(|n| n.0 == l.0))
        {
            plan.command(["ZREM", &self.keys.leases, &lease_member(*number)]);
        }
        for (number, expires) in new_leases
            .iter()
            .filter(|l| !old_leases.iter().any(|o| o.0 == l.0))
        {
            plan.command([
                "ZADD",
                &self.keys.leases,
                &expires.to_string(),
                &lease_member(*number),
            ]);
        }
        if let Some(evict) = record.evict_at_ms()
            && old.and_then(StateRecord::evict_at_ms) != Some(evict)
        {
            plan.command(["ZADD", &self.keys.finished, &evict.to_string(), &id]);
        }
        // A task created pending here keeps its data in the copy, so that
        // a lease here can hand it out without reading it
        // ([`SharedStore::pending_copy`]); parts are leased with their
        // split task, read.
        let standalone = after.part_of.is_none() && after.split.is_none();
        let data = (diff.created && diff.queued && standalone).then(|| bytes_of(&after.data));
        Some(Some(Read {
            id: diff.id,
            version: version_number,
            record: Some(record),
            data,
            data_len,
            result: after.result.as_ref().map(bytes_of),
            queued: diff.queued,
        }))
    }
}
