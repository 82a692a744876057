//! What the shared store needs besides transitions: the deadlines that
//! are due, the cluster's counters, a health check, the subscription that
//! wakes local long polls, and the persistence Redis says it has.

use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use super::{Counts, SharedStore, StoreError, unreachable};
use crate::queue::TaskId;

impl SharedStore {
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
    /// eviction by then, at most `limit` of each. Forgets the waits that
    /// ended.
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
            .zrembyscore(&self.keys.watched, "-inf", format!("({now_ms}"))
            .ignore()
            .zrembyscore(&self.keys.idle, "-inf", format!("({now_ms}"))
            .ignore()
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
        let counts = Counts {
            submitted: v(0),
            completed: v(1),
            failed: v(2),
            requeued: v(3),
            pending: v(4),
            processing: v(5),
            rejected: v(6),
            held_bytes: v(7),
            held_tasks: v(8),
        };
        self.note_counts(&counts);
        Ok(counts)
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
        let mut again = false;
        loop {
            match self.client.get_async_pubsub().await {
                Ok(mut pubsub) => {
                    if pubsub.subscribe(&self.keys.channel).await.is_ok() {
                        if again {
                            // Redis may have restarted empty meanwhile.
                            self.forget_ids().await;
                            self.forget_all_recent();
                        }
                        again = true;
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
                    // Redis may be restarting empty: the copies of what
                    // this coordinator wrote are no longer known to hold.
                    self.forget_all_recent();
                    tracing::warn!("lost the Redis subscription; subscribing again");
                }
                Err(error) => tracing::warn!(%error, "cannot subscribe to Redis; trying again"),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// What Redis keeps on disk, in words, for the log.
pub(super) async fn persistence(conn: &mut ConnectionManager) -> redis::RedisResult<String> {
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
pub(super) fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    hasher.finish()
}
