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
//! script that does it knows nothing of tasks: it compares versions (and
//! that the counters a write raises still leave room under the cluster's
//! limits) and runs the writes it is handed.
//!
//! Each write also publishes, on one channel, how many tasks it made
//! pending and which tasks it changed, so that every coordinator wakes its
//! own long polls ([`SharedStore::follow`]).
//!
//! # Layout
//!
//! - `record`: one task's hash and its state record.
//! - `keys`: key names and the scripts.
//! - `write`: writing a decided transition back, versions compared.
//! - `recent`: this coordinator's copies of the tasks it wrote last.
//! - `ids`: ids for new tasks, reserved in blocks.
//! - `upkeep`: deadlines due, counters, health, the subscription.

mod ids;
mod keys;
mod recent;
mod record;
mod upkeep;
mod write;

pub(crate) use recent::{NearHead, PendingClaim};
pub(crate) use write::{Limits, Written};

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Client, Script};

use crate::check::{SharedProduct, TaskCheck};
use crate::plan;
use crate::queue::{FIRST_PART_ID, FreshIds, Loaded, TaskId};
use crate::shared_text::SharedText;
use ids::IdBlocks;
use kernel::verify::ProductCheck;
use keys::Keys;
use recent::Recent;
use record::{CheckRecord, StateRecord, text};

use super::StoreError;

/// How long one Redis request may take before the coordinator gives up on
/// it and answers 503.
pub(crate) const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// Checks kept per coordinator, prepared, before the cache starts afresh.
const CHECK_CACHE: usize = 4096;

/// How long a wait stays known to the cluster after it is due to end:
/// room for the coordinators' clocks to differ, and for a wait that is
/// answered a little late.
const WAIT_SLACK: Duration = Duration::from_secs(5);

/// A connection to the shared Redis and what this coordinator keeps of it.
pub(crate) struct SharedStore {
    conn: ConnectionManager,
    client: Client,
    keys: Keys,
    write: Script,
    head: Script,
    /// Checks prepared here, by task id.
    checks: Mutex<HashMap<TaskId, TaskCheck>>,
    /// Tasks as this coordinator last wrote them (without their data),
    /// and the id counters and held bytes as last read.
    recent: Mutex<Recent>,
    /// Ids reserved for new tasks.
    ids: tokio::sync::Mutex<IdBlocks>,
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

/// What a product check is rebuilt from on a coordinator that did not
/// prepare it: the prepared check kept with the task, or (kept by an
/// older writer, or unreadable) the task's data, read again.
#[derive(Debug, Clone)]
pub(crate) enum CheckSource {
    /// The prepared check.
    Prepared(ProductCheck),
    /// The data it is prepared from.
    Data(Bytes),
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
    /// Bytes of its data (read when the data is not).
    data_len: u64,
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
    /// Whether the tasks are this coordinator's copies of what it wrote
    /// last ([`SharedStore::recent`]) rather than read now.
    pub(crate) copied: bool,
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

/// What the head script returns: the id counters and held bytes, the
/// head id, and its task's fields.
type HeadReply = ([Option<u64>; 3], Option<u64>, Vec<Option<Vec<u8>>>);

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
        let keys = Keys::on_db(client.get_connection_info().redis_settings().db());
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1);
        let mut conn = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(unreachable)?;
        let persistence = upkeep::persistence(&mut conn).await.map_err(unreachable)?;
        let node = format!("{:016x}", upkeep::rand_u64());
        Ok(Self {
            conn,
            client,
            keys,
            write: Script::new(&keys::write_script()),
            head: Script::new(&keys::head_script()),
            checks: Mutex::new(HashMap::new()),
            recent: Mutex::new(Recent::default()),
            ids: tokio::sync::Mutex::new(IdBlocks::default()),
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
        let mine = format!("{:016x}{:016x}", upkeep::rand_u64(), upkeep::rand_u64());
        let _: bool = conn
            .set_nx(&self.keys.secret, &mine)
            .await
            .map_err(unreachable)?;
        let secret: String = conn.get(&self.keys.secret).await.map_err(unreachable)?;
        let half = |s: &str| u64::from_str_radix(s, 16).unwrap_or(0);
        let (high, low) = secret.split_at(secret.len().min(16));
        Ok((half(high), half(low)))
    }

    /// Tells every coordinator that a client here waits on task `id` for up
    /// to `wait`, so that writes elsewhere publish its changes. Called
    /// before the task is read, so that a change either shows in that read
    /// or is published.
    ///
    /// # Errors
    ///
    /// [`StoreError::Shared`] when Redis does not answer.
    pub(crate) async fn watch_task(&self, id: TaskId, wait: Duration) -> Result<(), StoreError> {
        self.keep_wait(&self.keys.watched, &id.0.to_string(), wait)
            .await
    }

    /// Tells every coordinator that a worker here waits for a task for up
    /// to `wait`, so that submissions elsewhere publish the tasks they make
    /// pending. Called before the queue is looked at again, for the same
    /// reason as [`SharedStore::watch_task`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Shared`] when Redis does not answer.
    pub(crate) async fn wait_for_tasks(&self, wait: Duration) -> Result<(), StoreError> {
        self.keep_wait(&self.keys.idle, &self.node, wait).await
    }

    /// Keeps `member` in the sorted set `key` until `wait` (and the slack)
    /// from now, or later if it is kept longer already.
    async fn keep_wait(&self, key: &str, member: &str, wait: Duration) -> Result<(), StoreError> {
        let until = now_ms() + (wait + WAIT_SLACK).as_millis() as u64;
        let mut conn = self.conn.clone();
        let _: i64 = redis::cmd("ZADD")
            .arg(key)
            .arg("GT")
            .arg(until)
            .arg(member)
            .query_async(&mut conn)
            .await
            .map_err(unreachable)?;
        Ok(())
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
        // Several tasks are read as of one moment; every write compares
        // versions anyway, so one task needs no transaction.
        if ids.len() > 1 {
            pipe.atomic();
        }
        for &id in ids {
            let cmd = pipe
                .cmd("HMGET")
                .arg(self.keys.task(id))
                .arg(&["v", "s", "r", "q"]);
            if with_data {
                cmd.arg("d");
            } else {
                pipe.cmd("HSTRLEN").arg(self.keys.task(id)).arg("d");
            }
        }
        pipe.cmd("ZMSCORE")
            .arg(&self.keys.issued)
            .arg(&["ids", "parts"])
            .hget(&self.keys.stats, "held_bytes");
        let mut conn = self.conn.clone();
        type Fields = Vec<Option<Vec<u8>>>;
        let (mut rows, lengths, meta): (Vec<Fields>, Vec<u64>, [Option<u64>; 3]) = {
            let values: Vec<redis::Value> =
                pipe.query_async(&mut conn).await.map_err(unreachable)?;
            let split = values.len().saturating_sub(2);
            let (rows, meta) = values.split_at(split);
            let step = if with_data { 1 } else { 2 };
            let fields = rows
                .iter()
                .step_by(step)
                .map(|v| redis::from_redis_value_ref::<Fields>(v).unwrap_or_default())
                .collect();
            let lengths = rows
                .iter()
                .skip(1)
                .step_by(step)
                .map(|v| redis::from_redis_value_ref::<u64>(v).unwrap_or(0))
                .collect();
            let issued: [Option<u64>; 2] = meta
                .first()
                .and_then(|v| redis::from_redis_value_ref::<Vec<Option<f64>>>(v).ok())
                .map_or([None, None], |scores| {
                    [0, 1].map(|i| scores.get(i).copied().flatten().map(|s| s as u64))
                });
            let held = meta
                .get(1)
                .and_then(|v| redis::from_redis_value_ref::<Option<u64>>(v).ok())
                .flatten();
            (fields, lengths, [issued[0], issued[1], held])
        };
        let tasks = ids
            .iter()
            .zip(rows.iter_mut())
            .enumerate()
            .map(|(k, (&id, fields))| {
                let mut take = |i: usize| fields.get_mut(i).and_then(Option::take).map(Bytes::from);
                let (version, state, result, queued, data) =
                    (take(0), take(1), take(2), take(3), take(4));
                Read {
                    id,
                    version: number(version.as_deref()),
                    record: state.as_deref().and_then(StateRecord::decode),
                    data_len: lengths.get(k).copied().unwrap_or(0),
                    data,
                    result,
                    queued: queued.as_deref() == Some(b"1"),
                }
            })
            .collect();
        Ok(self.snapshot(tasks, meta))
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
        let reply: HeadReply = self
            .head
            .key(&self.keys.pending)
            .key(&self.keys.issued)
            .key(&self.keys.stats)
            .arg(self.keys.task_prefix())
            .arg(offset)
            .invoke_async(&mut conn)
            .await
            .map_err(unreachable)?;
        Ok(self.head_snapshot(reply))
    }

    /// The snapshot of a head read ([`SharedStore::head`], or a write that
    /// found the head of the queue other than it required).
    fn head_snapshot(&self, (meta, id, fields): HeadReply) -> Snapshot {
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
                    data_len: data.as_ref().map_or(0, |d| d.len() as u64),
                    data,
                    result,
                    queued: queued.as_deref() == Some(b"1"),
                }]
            }
            None => Vec::new(),
        };
        self.snapshot(tasks, meta)
    }

    /// Bytes and tasks the cluster holds, read now (and kept as the
    /// latest known).
    ///
    /// # Errors
    ///
    /// [`StoreError::Shared`] when Redis does not answer.
    pub(crate) async fn held_now(&self) -> Result<Counts, StoreError> {
        let mut conn = self.conn.clone();
        let (held_bytes, held_tasks): (Option<u64>, Option<u64>) = redis::pipe()
            .hget(&self.keys.stats, "held_bytes")
            .hget(&self.keys.stats, "held_tasks")
            .query_async(&mut conn)
            .await
            .map_err(unreachable)?;
        let counts = Counts {
            held_bytes: held_bytes.unwrap_or(0),
            held_tasks: held_tasks.unwrap_or(0),
            ..Counts::default()
        };
        self.note_counts(&counts);
        Ok(counts)
    }

    /// The state a task read turns into for the queue: its check rebuilt
    /// from the record (prepared here before, or prepared from `check_data`
    /// when a result needs it, else left unprepared).
    pub(crate) fn loaded(&self, read: &Read, check_data: Option<&CheckSource>) -> Option<Loaded> {
        let record = read.record.clone()?;
        let check = record
            .check()
            .and_then(|spec| self.check(read.id, spec, check_data));
        let data = read.data.clone().map(text).unwrap_or_default();
        let result = read.result.clone().map(text);
        let unread_bytes = if read.data.is_some() {
            0
        } else {
            usize::try_from(read.data_len).unwrap_or(0)
        };
        Some(Loaded {
            id: read.id,
            state: record.state(data, result, check),
            queued: read.queued,
            unread_bytes,
        })
    }

    /// The check of task `id` its record describes: the one prepared here
    /// before, or one prepared from `data` when a result needs it (kept),
    /// or, without data, one that knows its shape but cannot check.
    fn check(
        &self,
        id: TaskId,
        spec: CheckRecord,
        source: Option<&CheckSource>,
    ) -> Option<TaskCheck> {
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
        let (inner, cols) = (spec.inner as usize, spec.cols as usize);
        let prepared = source.is_some();
        let product = match source.cloned() {
            Some(CheckSource::Prepared(check)) => SharedProduct::prepared(check, inner),
            data => {
                let data = match data {
                    Some(CheckSource::Data(data)) => Some(data),
                    _ => None,
                };
                let prepare = move || {
                    let data = data.clone()?;
                    plan::rebuild_product_check(&SharedText::from_utf8_bytes(data), spec.seed)
                };
                SharedProduct::lazy(Box::new(prepare), inner, cols)
            }
        };
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
    pub(crate) async fn check_data(&self, read: &Read) -> Result<Option<CheckSource>, StoreError> {
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
        let key = self.keys.task(owner);
        let prepared: Option<Vec<u8>> = conn.hget(&key, "c").await.map_err(unreachable)?;
        if let Some(check) = prepared.as_deref().and_then(ProductCheck::from_bytes) {
            return Ok(Some(CheckSource::Prepared(check)));
        }
        let data: Option<Vec<u8>> = conn.hget(&key, "d").await.map_err(unreachable)?;
        Ok(data.map(|data| CheckSource::Data(Bytes::from(data))))
    }
}

/// The wall clock in ms since the Unix epoch: the clock every deadline
/// kept in Redis is on.
pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
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
