//! The embedded storage engine: fjall, an LSM tree with a write-ahead
//! journal (see the README's "Choosing the store" for the measurements it
//! was chosen on).
//!
//! One keyspace holds every key. A batch of operations is one fjall write
//! batch, committed with one journal sync ([`PersistMode::SyncAll`]) when
//! writes are synced. Values larger than a few KiB (task data, results) go
//! to blob files (key-value separation), so compactions do not copy them.
//! Values are shared bytes both ways: what is written is not copied in
//! memory, and what is read back shares the engine's buffer.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, KvSeparationOptions, PersistMode};

use super::StoreError;
use super::layout::{Op, Value};

/// The keyspace every key lives in.
const KEYSPACE: &str = "tasks";

/// An open engine.
pub(super) struct Engine {
    db: Database,
    tasks: Keyspace,
    sync: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("sync", &self.sync).finish()
    }
}

fn engine_error(error: fjall::Error) -> StoreError {
    StoreError::Engine(error.to_string())
}

impl Engine {
    /// Opens (or creates) the engine's files under `path`, recovering the
    /// journal; `sync` makes every batch durable before [`Engine::apply`]
    /// returns.
    ///
    /// # Errors
    ///
    /// [`StoreError::Engine`] when the files cannot be opened.
    pub(super) fn open(path: &Path, sync: bool) -> Result<Self, StoreError> {
        std::fs::create_dir_all(path).map_err(|e| StoreError::io(path, e))?;
        let db = Database::builder(path).open().map_err(engine_error)?;
        let tasks = db
            .keyspace(KEYSPACE, || {
                KeyspaceCreateOptions::default()
                    .with_kv_separation(Some(KvSeparationOptions::default()))
            })
            .map_err(engine_error)?;
        Ok(Self { db, tasks, sync })
    }

    /// Writes `ops` in order as one atomic batch (synced when asked at
    /// open). A task deleted in the batch loses the keys written for it
    /// earlier in the same batch too.
    ///
    /// # Errors
    ///
    /// [`StoreError::Engine`] when the write or the sync fails.
    pub(super) fn apply(&self, ops: &[Op]) -> Result<(), StoreError> {
        // The last operation on each key wins.
        let mut last: BTreeMap<Vec<u8>, Option<&Value>> = BTreeMap::new();
        let mut stored = Vec::new();
        for op in ops {
            match op {
                Op::Put(key, value) => {
                    last.insert(key.clone(), Some(value));
                }
                Op::DeleteTask(id) => {
                    let prefix = id.0.to_be_bytes();
                    for key in last.range_mut(prefix.to_vec()..) {
                        if !key.0.starts_with(&prefix) {
                            break;
                        }
                        *key.1 = None;
                    }
                    for guard in self.tasks.prefix(prefix) {
                        stored.push(guard.key().map_err(engine_error)?);
                    }
                }
            }
        }
        let mut batch = self
            .db
            .batch()
            .durability(self.sync.then_some(PersistMode::SyncAll));
        for key in stored {
            if !last.contains_key(&key[..]) {
                batch.remove(&self.tasks, key);
            }
        }
        for (key, value) in last {
            match value {
                Some(Value::Shared(bytes)) => batch.insert(&self.tasks, key, bytes.clone()),
                Some(Value::Owned(bytes)) => batch.insert(&self.tasks, key, bytes.as_slice()),
                None => batch.remove(&self.tasks, key),
            }
        }
        batch.commit().map_err(engine_error)
    }

    /// Every key and value, in key order.
    ///
    /// # Errors
    ///
    /// [`StoreError::Engine`] when a record cannot be read.
    pub(super) fn scan(&self) -> Result<impl Iterator<Item = (Vec<u8>, Bytes)>, StoreError> {
        let mut records = Vec::new();
        for guard in self.tasks.iter() {
            let (key, value) = guard.into_inner().map_err(engine_error)?;
            records.push((key.to_vec(), Bytes::from(value)));
        }
        Ok(records.into_iter())
    }
}
