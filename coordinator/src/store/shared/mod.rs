//! The task state on a Redis that several coordinators share.
//!
//! Each task is a Redis hash (`record` says which fields); next to them lie
//! the queue of pending ids (a list), the live leases and the finished
//! tasks by deadline (sorted sets), the cluster's counters (a hash) and the
//! id counters. The queue's rules decide every transition in the
//! coordinator that runs it ([`crate::queue`]'s one-task views); this
//! module reads the tasks a transition concerns ([`SharedStore::read`],
//! [`SharedStore::head`]) and writes what it changed back in one step
//! that first compares each task's version ([`SharedStore::write`]): if
//! another coordinator changed one of them in between, nothing is
//! written and the transition is decided again on fresh state. The
//! script that does it knows nothing of tasks: it compares versions and
//! runs the writes it is handed.
//!
//! Each write also publishes, on one channel, how many tasks it made
//! pending and which tasks it changed, so that every coordinator wakes its
//! own long polls ([`SharedStore::follow`]).
//!
//! # Layout
//!
//! - `record`: one task's hash and its state record.
//! - `keys`: key names and the scripts.

mod keys;
mod record;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Client, Script};

use crate::check::{SharedProduct, TaskCheck};
use crate::plan;
use crate::queue::{Deltas, FIRST_PART_ID, FreshIds, Loaded, TaskDiff, TaskId};
use crate::shared_text::SharedText;
use keys::Keys;
use record::{CheckRecord, StateRecord, bytes_of, text};

use super::StoreError;

/// How long one Redis request may take before the coordinator gives up on
/// it and answers 503.
pub(crate) const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// Checks kept per coordinator, prepared, before the cache starts afresh.
const CHECK_CACHE: usize = 4096;

/// A connection to the shared Redis and what this coordinator keeps of it.
pub(crate) struct SharedStore {
    conn: ConnectionManager,
    client: Client,
    keys: Keys,
    write: Script,
    head: Script,
    /// Checks prepared here, by task id.
    checks: Mutex<HashMap<TaskId, TaskCheck>>,
    /// What Redis said of its persistence at start.
    persistence: String,
    /// This coordinator's tag on what it publishes.
    node: String,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore")
            .field("persistence", &self.persistence)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// One task as read, with what a write needs to compare and undo.
#[derive(Debug, Clone)]
pub(crate) struct Read {
    /// The task.
    pub(crate) id: TaskId,
    /// Its version (0: it does not exist).
    version: u64,
    record: Option<StateRecord>,
    data: Option<Bytes>,
    result: Option<Bytes>,
    queued: bool,
}

impl Read {
    /// Whether the task exists.
    pub(crate) fn exists(&self) -> bool {
        self.record.is_some()
    }

    /// The split task of a part.
    pub(crate) fn part_of(&self) -> Option<TaskId> {
        self.record.as_ref().and_then(StateRecord::part_of)
    }

    /// A split task's parts.
    pub(crate) fn parts(&self) -> Vec<TaskId> {
        self.record
            .as_ref()
            .map(StateRecord::parts)
            .unwrap_or_default()
    }
}

/// Tasks as read, and the cluster's figures at that moment.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    /// The tasks, in the order asked (missing ones included).
    pub(crate) tasks: Vec<Read>,
    /// The ids a submission would take next.
    pub(crate) ids: FreshIds,
    /// Bytes the cluster holds.
    pub(crate) held_bytes: u64,
}

/// The cluster's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Tasks (and parts) submitted.
    pub(crate) submitted: u64,
    /// Completed.
    pub(crate) completed: u64,
    /// Failed.
    pub(crate) failed: u64,
    /// Leases that expired and were requeued.
    pub(crate) requeued: u64,
    /// Pending now.
    pub(crate) pending: u64,
    /// Processing now.
    pub(crate) processing: u64,
    /// Results rejected.
    pub(crate) rejected: u64,
    /// Bytes held.
    pub(crate) held_bytes: u64,
    /// Tasks held.
    pub(crate) held_tasks: u64,
}

fn unreachable(error: redis::RedisError) -> StoreError {
    StoreError::Shared(error.to_string())
}

impl SharedStore {
    /// Connects to the Redis at `url` (`redis://host:port/db`), reads its
    /// persistence settings, and loads the scripts.
    ///
    /// # Errors
    ///
    /// [`StoreError::Shared`] when the URL is not one or Redis does not
    /// answer.
    pub(crate) async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = Client::open(url).map_err(unreachable)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1);
        let mut conn = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(unreachable)?;
        let persistence = persistence(&mut conn).await.map_err(unreachable)?;
        let node = format!("{:016x}", rand_u64());
        Ok(Self {
            conn,
            client,
            keys: Keys::default(),
            write: Script::new(keys::WRITE_SCRIPT),
            head: Script::new(keys::HEAD_SCRIPT),
            checks: Mutex::new(HashMap::new()),
            persistence,
            node,
        })
    }

    /// What Redis said of its persistence when this coordinator started.
    pub(crate) fn persistence(&self) -> &str {
        &self.persistence
    }

    /// The secret lease tokens are made with, shared by every coordinator
    /// on this Redis (drawn by the first).
    ///
    /// # Errors
    ///
    /// [`StoreError::Shared`] when Redis does not answer.
    pub(crate) async fn token_secret(&self) -> Result<(u64, u64), StoreError> {
        let mut conn = self.conn.clone();
        let mine = format!("{:016x}{:016x}", rand_u64(), rand_u64());
        let _: bool = conn
            .set_nx(&self.keys.secret, &mine)
            .await
            .map_err(unreachable)?;
        let secret: String = conn.get(&self.keys.secret).await.map_err(unreachable)?;
        let half = |s: &str| u64::from_str_radix(s, 16).unwrap_or(0);
        let (high, low) = secret.split_at(secret.len().min(16));
        Ok((half(high), half(low)))
    }

    /// Reads tasks `ids` (their data too when `with_data`) and the
    /// cluster's id counters and held bytes.
    ///
    /// # Errors
    ///
    /// [`StoreError::Shared`] when Redis does not answer.
    pub(crate) async fn read(
        &self,
        ids: &[TaskId],
        with_data: bool,
    ) -> Result<Snapshot, StoreError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for &id in ids {
            let cmd = pipe
                .cmd("HMGET")
                .arg(self.keys.task(id))
                .arg(&["v", "s", "r", "q"]);
            if with_data {
                cmd.arg("d");
            }
        }
        pipe.get(&self.keys.next_id)
            .get(&self.keys.parts_used)
            .hget(&self.keys.stats, "held_bytes");
        let mut conn = self.conn.clone();
        type Fields = Vec<Option<Vec<u8>>>;
        let (mut rows, meta): (Vec<Fields>, [Option<u64>; 3]) = {
            let values: Vec<redis::Value> =
                pipe.query_async(&mut conn).await.map_err(unreachable)?;
            let split = values.len().saturating_sub(3);
            let (rows, meta) = values.split_at(split);
            let rows = rows
                .iter()
                .map(|v| redis::from_redis_value_ref::<Fields>(v).unwrap_or_default())
                .collect();
            let meta_of = |i: usize| {
                meta.get(i)
                    .and_then(|v| redis::from_redis_value_ref::<Option<u64>>(v).ok())
                    .flatten()
            };
            (rows, [meta_of(0), meta_of(1), meta_of(2)])
        };
        let tasks = ids
            .iter()
            .zip(rows.iter_mut())
            .map(|(&id, fields)| {
                let mut take = |i: usize| fields.get_mut(i).and_then(Option::take).map(Bytes::from);
                let (version, state, result, queued, data) =
                    (take(0), take(1), take(2), take(3), take(4));
                Read {
                    id,
                    version: number(version.as_deref()),
                    record: state.as_deref().and_then(StateRecord::decode),
                    data,
                    result,
                    queued: queued.as_deref() == Some(b"1"),
                }
            })
            .collect();
        Ok(Snapshot {
            tasks,
            ids: fresh_ids(meta[0].unwrap_or(0), meta[1].unwrap_or(0)),
            held_bytes: meta[2].unwrap_or(0),
        })
    }

    /// Reads the task at place `offset` of the queue of pending ids, with
    /// its data, in one step; `None` in the snapshot's tasks when the queue
    /// is shorter.
    ///
    /// # Errors
    ///
    /// [`StoreError::Shared`] when Redis does not answer.
    pub(crate) async fn head(&self, offset: usize) -> Result<Snapshot, StoreError> {
        let mut conn = self.conn.clone();
        let (meta, id, fields): ([Option<u64>; 3], Option<u64>, Vec<Option<Vec<u8>>>) = self
            .head
            .key(&self.keys.pending)
            .key(&self.keys.next_id)
            .key(&self.keys.parts_used)
            .key(&self.keys.stats)
            .arg(self.keys.task_prefix())
            .arg(offset)
            .invoke_async(&mut conn)
            .await
            .map_err(unreachable)?;
        let mut fields = fields.into_iter().map(|f| f.map(Bytes::from));
        let mut next = || fields.next().flatten();
        let tasks = match id {
            Some(id) => {
                let (version, state, data, result, queued) =
                    (next(), next(), next(), next(), next());
                vec![Read {
                    id: TaskId(id),
                    version: number(version.as_deref()),
                    record: state.as_deref().and_then(StateRecord::decode),
                    data,
                    result,
                    queued: queued.as_deref() == Some(b"1"),
                }]
            }
            None => Vec::new(),
        };
        Ok(Snapshot {
            tasks,
            ids: fresh_ids(meta[0].unwrap_or(0), meta[1].unwrap_or(0)),
            held_bytes: meta[2].unwrap_or(0),
        })
    }

    /// Takes the ids of a new task with `parts` parts (the client id, and
    /// the part ids counting down), and the cluster's held bytes and tasks.
    ///
    /// # Errors
    ///
    /// [`StoreError::Shared`] when Redis does not answer.
    pub(crate) async fn take_ids(&self, parts: usize) -> Result<(FreshIds, Counts), StoreError> {
        let mut conn = self.conn.clone();
        let (id, used, held_bytes, held_tasks): (u64, u64, Option<u64>, Option<u64>) =
            redis::pipe()
                .incr(&self.keys.next_id, 1)
                .incr(&self.keys.parts_used, parts)
                .hget(&self.keys.stats, "held_bytes")
                .hget(&self.keys.stats, "held_tasks")
                .query_async(&mut conn)
                .await
                .map_err(unreachable)?;
        let ids = FreshIds {
            next_id: id,
            next_part_id: FIRST_PART_ID - (used - parts as u64),
        };
        let counts = Counts {
            held_bytes: held_bytes.unwrap_or(0),
            held_tasks: held_tasks.unwrap_or(0),
            ..Counts::default()
        };
        Ok((ids, counts))
    }

    /// The state a task read turns into for the queue: its check rebuilt
    /// from the record (prepared here before, or prepared from `check_data`
    /// when a result needs it, else left unprepared).
    pub(crate) fn loaded(&self, read: &Read, check_data: Option<&Bytes>) -> Option<Loaded> {
        let record = read.record.clone()?;
        let check = record
            .check()
            .and_then(|spec| self.check(read.id, spec, check_data));
        let data = read.data.clone().map(text).unwrap_or_default();
        let result = read.result.clone().map(text);
        Some(Loaded {
            id: read.id,
            state: record.state(data, result, check),
            queued: read.queued,
        })
    }

    /// The check of task `id` its record describes: the one prepared here
    /// before, or one prepared from `data` when a result needs it (kept),
    /// or, without data, one that knows its shape but cannot check.
    fn check(&self, id: TaskId, spec: CheckRecord, data: Option<&Bytes>) -> Option<TaskCheck> {
        let mut cache = self.checks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(check) = cache.get(&id) {
            return Some(check.clone());
        }
        let spec = match spec {
            CheckRecord::Quorum { replicas, agree } => {
                return crate::check::Quorum::new(replicas, agree).map(TaskCheck::Quorum);
            }
            CheckRecord::Product(spec) => spec,
        };
        let rows = spec.rows().unwrap_or(0..0);
        let data = data.cloned();
        let prepared = data.is_some();
        let prepare = move || {
            let data = data.clone()?;
            plan::rebuild_product_check(&SharedText::from_utf8_bytes(data), spec.seed)
        };
        let product =
            SharedProduct::lazy(Box::new(prepare), spec.inner as usize, spec.cols as usize);
        let check = product.rows(rows, spec.seed);
        if prepared {
            if cache.len() >= CHECK_CACHE {
                cache.clear();
            }
            cache.insert(id, check.clone());
        }
        Some(check)
    }

    /// Keeps the checks of tasks submitted here, prepared already.
    pub(crate) fn remember_check(&self, id: TaskId, check: &TaskCheck) {
        let mut cache = self.checks.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CHECK_CACHE {
            cache.clear();
        }
        cache.insert(id, check.clone());
    }

    /// The data a product check of task `read` is prepared from: its own,
    /// or its split task's for a part.
    ///
    /// # Errors
    ///
    /// [`StoreError::Shared`] when Redis does not answer.
    pub(crate) async fn check_data(&self, read: &Read) -> Result<Option<Bytes>, StoreError> {
        let owner = read.part_of().unwrap_or(read.id);
        if read.record.as_ref().and_then(StateRecord::check).is_none()
            || self
                .checks
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(&read.id)
        {
            return Ok(None);
        }
        let mut conn = self.conn.clone();
        let data: Option<Vec<u8>> = conn
            .hget(self.keys.task(owner), "d")
            .await
            .map_err(unreachable)?;
        Ok(data.map(Bytes::from))
    }

    /// Writes what an operation decided on `reads`, if none of them changed
    /// since: each task's state, the queue of pending ids, the lease and
    /// eviction deadlines and the counters, and publishes `woken` pending
    /// tasks and the changed ids. Returns whether it was written; nothing
    /// is written (and `true` returned) when nothing changed.
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
    ) -> Result<bool, StoreError> {
        let mut plan = keys::WritePlan::default();
        let before: HashMap<TaskId, &Read> = reads.iter().map(|r| (r.id, r)).collect();
        let mut changed = Vec::new();
        for diff in diffs {
            let read = before.get(&diff.id).copied();
            if self.plan_task(&mut plan, read, diff) {
                changed.push(diff.id);
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
        if changed.is_empty() && plan.is_empty() {
            return Ok(true);
        }
        let mut message = format!("{} {woken}", self.node);
        for id in &changed {
            message.push(' ');
            message.push_str(&id.to_string());
        }
        plan.command(["PUBLISH", &self.keys.channel, &message]);
        let mut invocation = self.write.prepare_invoke();
        for read in reads {
            invocation.key(self.keys.task(read.id)).arg(read.version);
        }
        for diff in diffs.iter().filter(|d| d.created) {
            invocation.key(self.keys.task(diff.id)).arg(0);
        }
        plan.add_to(&mut invocation);
        let mut conn = self.conn.clone();
        let written: i64 = invocation
            .invoke_async(&mut conn)
            .await
            .map_err(unreachable)?;
        Ok(written == 1)
    }

    /// Adds the writes of one task's diff to `plan`; whether the task
    /// changed.
    fn plan_task(&self, plan: &mut keys::WritePlan, read: Option<&Read>, diff: &TaskDiff) -> bool {
        let key = self.keys.task(diff.id);
        let id = diff.id.to_string();
        let was_queued = read.is_some_and(|r| r.queued);
        let old = read.and_then(|r| r.record.as_ref());
        let old_leases: Vec<(u64, u64)> = old.map(|r| r.leases().collect()).unwrap_or_default();
        let lease_member = |number: u64| format!("{id}:{number}");
        let Some(after) = &diff.after else {
            if read.is_none_or(|r| !r.exists()) {
                return false;
            }
            plan.command(["DEL", &key]);
            plan.command(["ZREM", &self.keys.finished, &id]);
            for (number, _) in &old_leases {
                plan.command(["ZREM", &self.keys.leases, &lease_member(*number)]);
            }
            if was_queued {
                plan.command(["LREM", &self.keys.pending, "1", &id]);
            }
            return true;
        };
        let record = StateRecord::of(after);
        let encoded = record.encode();
        let same = old.is_some_and(|o| *o == record) && was_queued == diff.queued;
        let result_new = after.result.is_some() && read.is_none_or(|r| r.result.is_none());
        if same && !result_new {
            return false;
        }
        let version = (read.map_or(0, |r| r.version) + 1).to_string();
        plan.hset(&key, "s", encoded);
        plan.command([
            "HSET",
            &key,
            "v",
            &version,
            "q",
            if diff.queued { "1" } else { "0" },
        ]);
        if diff.created {
            plan.hset(&key, "d", bytes_of(&after.data).to_vec());
        }
        if let Some(result) = after.result.as_ref().filter(|_| result_new) {
            plan.hset(&key, "r", bytes_of(result).to_vec());
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
        true
    }

    /// Removes a stale entry of the queue of pending ids (its task is gone).
    ///
    /// # Errors
    ///
    /// [`StoreError::Shared`] when Redis does not answer.
    pub(crate) async fn drop_stale(&self, id: TaskId) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let key = self.keys.task(id);
        // Only while the task is still missing: a script would be exact, a
        // check first is enough for an entry no task will ever match again.
        let exists: bool = conn.exists(&key).await.map_err(unreachable)?;
        if !exists {
            let _: i64 = conn
                .lrem(&self.keys.pending, 1, id.0)
                .await
                .map_err(unreachable)?;
        }
        Ok(())
    }

    /// Tasks with a lease that expired by `now_ms`, and tasks due for
    /// eviction by then, at most `limit` of each.
    ///
    /// # Errors
    ///
    /// [`StoreError::Shared`] when Redis does not answer.
    pub(crate) async fn due(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<(Vec<TaskId>, Vec<TaskId>), StoreError> {
        let mut conn = self.conn.clone();
        let (leases, finished): (Vec<String>, Vec<u64>) = redis::pipe()
            .zrangebyscore_limit(&self.keys.leases, "-inf", now_ms, 0, limit as isize)
            .zrangebyscore_limit(&self.keys.finished, "-inf", now_ms, 0, limit as isize)
            .query_async(&mut conn)
            .await
            .map_err(unreachable)?;
        let mut expired: Vec<TaskId> = leases
            .iter()
            .filter_map(|m| m.split_once(':').and_then(|(id, _)| id.parse().ok()))
            .map(TaskId)
            .collect();
        expired.dedup();
        Ok((expired, finished.into_iter().map(TaskId).collect()))
    }

    /// Removes deadline entries of a task that no longer exists.
    ///
    /// # Errors
    ///
    /// [`StoreError::Shared`] when Redis does not answer.
    pub(crate) async fn forget_deadlines(
        &self,
        id: TaskId,
        lease_members: bool,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        if lease_members {
            // Members are `id:number`; a missing task's are found by range.
            let members: Vec<String> = conn
                .zrange(&self.keys.leases, 0, -1)
                .await
                .map_err(unreachable)?;
            let prefix = format!("{id}:");
            for member in members.iter().filter(|m| m.starts_with(&prefix)) {
                let _: i64 = conn
                    .zrem(&self.keys.leases, member)
                    .await
                    .map_err(unreachable)?;
            }
        } else {
            let _: i64 = conn
                .zrem(&self.keys.finished, id.0)
                .await
                .map_err(unreachable)?;
        }
        Ok(())
    }

    /// The cluster's counters.
    ///
    /// # Errors
    ///
    /// [`StoreError::Shared`] when Redis does not answer.
    pub(crate) async fn counts(&self) -> Result<Counts, StoreError> {
        let mut conn = self.conn.clone();
        let fields = [
            "submitted",
            "completed",
            "failed",
            "requeued",
            "pending",
            "processing",
            "rejected",
            "held_bytes",
            "held_tasks",
        ];
        let values: Vec<Option<i64>> = redis::cmd("HMGET")
            .arg(&self.keys.stats)
            .arg(&fields[..])
            .query_async(&mut conn)
            .await
            .map_err(unreachable)?;
        let v = |i: usize| values.get(i).copied().flatten().unwrap_or(0).max(0) as u64;
        Ok(Counts {
            submitted: v(0),
            completed: v(1),
            failed: v(2),
            requeued: v(3),
            pending: v(4),
            processing: v(5),
            rejected: v(6),
            held_bytes: v(7),
            held_tasks: v(8),
        })
    }

    /// Whether Redis answers now.
    pub(crate) async fn ping(&self) -> bool {
        let mut conn = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .is_ok()
    }

    /// Follows what other coordinators publish, for ever: calls `on` with
    /// the count of tasks each write made pending and the ids it changed
    /// (this coordinator's own writes skipped), and `on_gap` after
    /// (re)subscribing, when messages may have been missed.
    pub(crate) async fn follow(
        self: Arc<Self>,
        on: impl Fn(usize, &[TaskId]) + Send + 'static,
        on_gap: impl Fn() + Send + 'static,
    ) {
        use futures_util::StreamExt;
        loop {
            match self.client.get_async_pubsub().await {
                Ok(mut pubsub) => {
                    if pubsub.subscribe(&self.keys.channel).await.is_ok() {
                        on_gap();
                        let mut messages = pubsub.on_message();
                        while let Some(message) = messages.next().await {
                            let Ok(text) = std::str::from_utf8(message.get_payload_bytes()) else {
                                continue;
                            };
                            let mut words = text.split(' ');
                            if words.next() == Some(self.node.as_str()) {
                                continue;
                            }
                            let woken = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                            let ids: Vec<TaskId> =
                                words.filter_map(|w| w.parse().ok()).map(TaskId).collect();
                            on(woken, &ids);
                        }
                    }
                    tracing::warn!("lost the Redis subscription; subscribing again");
                }
                Err(error) => tracing::warn!(%error, "cannot subscribe to Redis; trying again"),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

fn number(bytes: Option<&[u8]>) -> u64 {
    bytes
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The ids the next submission takes, from the counters: the last client
/// id handed out and the part ids used.
fn fresh_ids(last_id: u64, parts_used: u64) -> FreshIds {
    FreshIds {
        next_id: last_id + 1,
        next_part_id: FIRST_PART_ID.saturating_sub(parts_used),
    }
}

/// What Redis keeps on disk, in words, for the log.
async fn persistence(conn: &mut ConnectionManager) -> redis::RedisResult<String> {
    let get = |name: &'static str| redis::cmd("CONFIG").arg("GET").arg(name).clone();
    let aof: Vec<String> = get("appendonly").query_async(conn).await?;
    let fsync: Vec<String> = get("appendfsync").query_async(conn).await?;
    let save: Vec<String> = get("save").query_async(conn).await?;
    let value = |pair: &[String]| pair.get(1).cloned().unwrap_or_default();
    let said = match value(&aof).as_str() {
        "yes" => match value(&fsync).as_str() {
            "always" => "AOF with appendfsync always: an acknowledged change survives a crash of Redis or its machine".to_owned(),
            "everysec" => "AOF with appendfsync everysec: a crash of Redis's machine can lose the last second of acknowledged changes".to_owned(),
            other => format!("AOF with appendfsync {other}: the operating system decides when changes reach the disk; a machine crash can lose acknowledged ones"),
        },
        _ if value(&save).is_empty() => "no AOF and no snapshots: everything is lost when Redis stops".to_owned(),
        _ => format!("no AOF, snapshots ({}): a crash of Redis loses the changes since the last snapshot", value(&save)),
    };
    Ok(said)
}

/// A random number for secrets and tags, from the process's random hasher
/// keys.
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    hasher.finish()
}
