//! The embedded storage engine: SQLite (bundled, through rusqlite) in WAL
//! mode, chosen on the measurements in the README's "Choosing the store".
//!
//! One table holds every key: `kv(k BLOB PRIMARY KEY, v BLOB)`, so a task's
//! fields sit together in key order and evicting a task deletes one key
//! range. A batch of operations is one `BEGIN IMMEDIATE` transaction; its
//! commit syncs the write-ahead log once (`synchronous=FULL`), or not at
//! all with `--fsync=false` (`synchronous=OFF`). Deleted pages go back to
//! the file system as they are freed (`auto_vacuum=INCREMENTAL`, stepped
//! after batches that free many), and the log is cut back after its
//! checkpoints (`journal_size_limit`), so the directory stays near what is
//! held.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use super::layout::Op;

/// The database file, in the engine's folder.
const DATABASE_FILE: &str = "tasks.sqlite";
/// Free pages (of 4 KiB) past which a batch gives them back to the file
/// system: 4 MiB.
const FREE_PAGES_KEPT: i64 = 1024;
/// The write-ahead log is cut back to this size after a checkpoint.
const WAL_LIMIT_BYTES: i64 = 16 * 1024 * 1024;

/// An open engine.
#[derive(Debug)]
pub(super) struct Engine {
    conn: Connection,
}

fn engine_error(error: rusqlite::Error) -> StoreError {
    StoreError::Engine(error.to_string())
}

impl Engine {
    /// Opens (or creates) the engine's database under `path`, recovering
    /// its write-ahead log; `sync` makes every batch durable before
    /// [`Engine::apply`] returns.
    ///
    /// # Errors
    ///
    /// [`StoreError::Engine`] when the database cannot be opened.
    pub(super) fn open(path: &Path, sync: bool) -> Result<Self, StoreError> {
        std::fs::create_dir_all(path).map_err(|e| StoreError::io(path, e))?;
        let conn = Connection::open(database(path)).map_err(engine_error)?;
        // Takes effect only before the first table is created.
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
            .map_err(engine_error)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(engine_error)?;
        if mode != "wal" {
            return Err(StoreError::Engine(format!(
                "the database would not use a write-ahead log (journal_mode {mode})"
            )));
        }
        let synchronous = if sync { "FULL" } else { "OFF" };
        conn.pragma_update(None, "synchronous", synchronous)
            .and_then(|()| conn.pragma_update(None, "journal_size_limit", WAL_LIMIT_BYTES))
            .and_then(|()| {
                conn.execute_batch(
                    "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID",
                )
            })
            .map_err(engine_error)?;
        Ok(Self { conn })
    }

    /// Writes `ops` in order as one transaction (synced when asked at
    /// open), then gives freed pages back when there are many.
    ///
    /// # Errors
    ///
    /// [`StoreError::Engine`] when the write or the sync fails (a full
    /// disk, say); nothing of the batch is then kept.
    pub(super) fn apply(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        // The statements are prepared once and kept: parsing `BEGIN`,
        // `COMMIT` and the pragma for every batch cost as much as a small
        // batch's writes.
        self.run_cached("BEGIN IMMEDIATE")?;
        let written = self.write(ops).and_then(|()| self.run_cached("COMMIT"));
        if let Err(error) = written {
            if !self.conn.is_autocommit() {
                // Nothing of the batch is kept.
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            return Err(error);
        }
        self.give_back_free_pages(FREE_PAGES_KEPT)
    }

    /// Runs the statement `sql`, which returns no rows, prepared once.
    fn run_cached(&self, sql: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut statement| statement.execute([]))
            .map(drop)
            .map_err(engine_error)
    }

    /// Writes `ops` in order inside the open transaction.
    fn write(&self, ops: &[Op]) -> Result<(), StoreError> {
        let mut put = self
            .conn
            .prepare_cached("INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)")
            .map_err(engine_error)?;
        let mut delete = self
            .conn
            .prepare_cached("DELETE FROM kv WHERE k >= ?1 AND k < ?2")
            .map_err(engine_error)?;
        for op in ops {
            match op {
                Op::Put(key, value) => put.execute(params![key, value.as_ref()]),
                Op::DeleteTask(id) => {
                    let start = id.0.to_be_bytes();
                    let end = id.0.saturating_add(1).to_be_bytes();
                    delete.execute(params![&start[..], &end[..]])
                }
            }
            .map_err(engine_error)?;
        }
        Ok(())
    }

    /// Gives free pages back to the file system once more than `kept` are
    /// free.
    fn give_back_free_pages(&self, kept: i64) -> Result<(), StoreError> {
        let free: i64 = self
            .conn
            .prepare_cached("PRAGMA freelist_count")
            .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
            .map_err(engine_error)?;
        if free <= kept {
            return Ok(());
        }
        // Each step of the pragma frees one page: step it to the end.
        let mut vacuum = self
            .conn
            .prepare("PRAGMA incremental_vacuum")
            .map_err(engine_error)?;
        let mut steps = vacuum.query([]).map_err(engine_error)?;
        while steps.next().map_err(engine_error)?.is_some() {}
        Ok(())
    }

    /// Every key and value, in key order.
    ///
    /// # Errors
    ///
    /// [`StoreError::Engine`] when a record cannot be read.
    pub(super) fn scan(&self) -> Result<impl Iterator<Item = (Vec<u8>, Bytes)>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT k, v FROM kv ORDER BY k")
            .map_err(engine_error)?;
        let mut rows = statement.query([]).map_err(engine_error)?;
        let mut records = Vec::new();
        while let Some(row) = rows.next().map_err(engine_error)? {
            let key: Vec<u8> = row.get(0).map_err(engine_error)?;
            let value = row
                .get_ref(1)
                .and_then(|value| value.as_blob().map_err(Into::into))
                .map_err(engine_error)?;
            records.push((key, Bytes::copy_from_slice(value)));
        }
        Ok(records.into_iter())
    }

    /// Moves the log into the database, cuts the log back and gives free
    /// pages back, so the next start has little to replay.
    pub(super) fn close(self) {
        let settled = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .optional()
            .map_err(engine_error)
            .and_then(|_| self.give_back_free_pages(0));
        if let Err(e) = settled {
            tracing::warn!(error = %e, "could not settle the store at close; the next start replays its log");
        }
    }
}

/// The database file under the engine folder `path`.
fn database(path: &Path) -> PathBuf {
    path.join(DATABASE_FILE)
}
