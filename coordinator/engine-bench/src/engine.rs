//! The candidates behind one small interface, plus the floor they are
//! measured against.
//!
//! Every store keeps one table of task records keyed by the big-endian bytes
//! of a `u64` task id, and [`Store::commit`] writes a whole batch and returns
//! only once it is durable: the single-writer group commit the coordinator
//! will run. The engines are opened the way the coordinator would open them;
//! nothing here tunes one engine for this benchmark.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Errors from any engine; callers only report them.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// One write in a batch.
#[derive(Clone, Debug)]
pub enum Op {
    /// Insert or overwrite the record of a task.
    Put(u64, Vec<u8>),
    /// Delete the record of a task (eviction).
    Delete(u64),
}

/// A store of task records with durable batch commits.
pub trait Store {
    /// Writes every op of `ops` as one atomic batch and syncs it to disk.
    fn commit(&mut self, ops: &[Op]) -> Result<()>;
    /// Visits every live record in key order.
    fn scan(&mut self, visit: &mut dyn FnMut(u64, &[u8])) -> Result<()>;
    /// Lets the engine finish work it would otherwise do later (memtable
    /// flush, WAL checkpoint), so that bytes written and space figures include it.
    fn settle(&mut self) -> Result<()> {
        Ok(())
    }
    /// Runs the engine's explicit space-reclaiming API, if it has one;
    /// returns the name of what it ran.
    fn compact(&mut self) -> Result<Option<&'static str>> {
        Ok(None)
    }
}

/// The stores compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Plain append-only file, `fdatasync` per batch: the floor, not a candidate.
    AppendFile,
    /// fjall 3 (LSM-tree with a journal), key-value separation on.
    Fjall,
    /// fjall 3 without key-value separation: large values stay in the tree.
    FjallInline,
    /// redb 5 (copy-on-write B-tree), default 1-phase commit.
    Redb,
    /// redb 5 with quick repair (2-phase commit, allocator state saved per commit).
    RedbQuickRepair,
    /// SQLite through rusqlite, WAL mode, `synchronous=FULL`.
    Sqlite,
    /// The same with `auto_vacuum=INCREMENTAL`, compacted by `incremental_vacuum`.
    SqliteIncremental,
}

impl Engine {
    /// Every store, the baseline first.
    pub const ALL: [Engine; 7] = [
        Engine::AppendFile,
        Engine::Fjall,
        Engine::FjallInline,
        Engine::Redb,
        Engine::RedbQuickRepair,
        Engine::Sqlite,
        Engine::SqliteIncremental,
    ];

    /// Short name used in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Engine::AppendFile => "append+fdatasync",
            Engine::Fjall => "fjall",
            Engine::FjallInline => "fjall no-kv-sep",
            Engine::Redb => "redb",
            Engine::RedbQuickRepair => "redb quick-repair",
            Engine::Sqlite => "sqlite WAL",
            Engine::SqliteIncremental => "sqlite WAL incremental-vacuum",
        }
    }

    /// Parses a name printed by [`Engine::name`].
    pub fn from_name(name: &str) -> Option<Engine> {
        Engine::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Opens (creating if needed) the store kept in directory `dir`.
    ///
    /// # Errors
    /// Whatever the engine reports: I/O, a lock held by another process,
    /// corruption it refuses to open.
    pub fn open(self, dir: &Path) -> Result<Box<dyn Store>> {
        std::fs::create_dir_all(dir)?;
        Ok(match self {
            Engine::AppendFile => Box::new(AppendFile::open(dir)?),
            Engine::Fjall => Box::new(FjallStore::open(dir, true)?),
            Engine::FjallInline => Box::new(FjallStore::open(dir, false)?),
            Engine::Redb => Box::new(RedbStore::open(dir, false)?),
            Engine::RedbQuickRepair => Box::new(RedbStore::open(dir, true)?),
            Engine::Sqlite => Box::new(SqliteStore::open(dir, false)?),
            Engine::SqliteIncremental => Box::new(SqliteStore::open(dir, true)?),
        })
    }
}

/// The floor: records appended to one file, `fdatasync` once per batch.
///
/// Each record is `len: u32 LE, kind: u8, key: [u8; 8], value`. It has no
/// checksums and never reclaims space; recovery reads the file and rebuilds
/// a map of the live records, stopping at a short record.
pub struct AppendFile {
    file: File,
    path: PathBuf,
    buf: Vec<u8>,
}

impl AppendFile {
    fn open(dir: &Path) -> Result<Self> {
        let path = dir.join("log");
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Self {
            file,
            path,
            buf: Vec::new(),
        })
    }
}

impl Store for AppendFile {
    fn commit(&mut self, ops: &[Op]) -> Result<()> {
        self.buf.clear();
        for op in ops {
            let (kind, key, value): (u8, u64, &[u8]) = match op {
                Op::Put(key, value) => (1, *key, value),
                Op::Delete(key) => (0, *key, &[]),
            };
            self.buf
                .extend_from_slice(&u32::try_from(value.len())?.to_le_bytes());
            self.buf.push(kind);
            self.buf.extend_from_slice(&key.to_be_bytes());
            self.buf.extend_from_slice(value);
        }
        self.file.write_all(&self.buf)?;
        self.file.sync_data()?;
        Ok(())
    }

    fn scan(&mut self, visit: &mut dyn FnMut(u64, &[u8])) -> Result<()> {
        let mut bytes = Vec::new();
        File::open(&self.path)?.read_to_end(&mut bytes)?;
        let mut live = std::collections::BTreeMap::new();
        let mut at = 0;
        while at + 13 <= bytes.len() {
            let len = u32::from_le_bytes(bytes[at..at + 4].try_into()?) as usize;
            let key = u64::from_be_bytes(bytes[at + 5..at + 13].try_into()?);
            let end = at + 13 + len;
            if end > bytes.len() {
                break;
            }
            if bytes[at + 4] == 1 {
                live.insert(key, at + 13..end);
            } else {
                live.remove(&key);
            }
            at = end;
        }
        for (key, range) in live {
            visit(key, &bytes[range]);
        }
        Ok(())
    }
}

/// fjall: one keyspace; with key-value separation (default 1 KiB
/// threshold), large task data goes to blob files.
pub struct FjallStore {
    db: fjall::Database,
    tasks: fjall::Keyspace,
}

impl FjallStore {
    fn open(dir: &Path, kv_separation: bool) -> Result<Self> {
        let db = fjall::Database::builder(dir).open()?;
        let tasks = db.keyspace("tasks", || {
            fjall::KeyspaceCreateOptions::default()
                .with_kv_separation(kv_separation.then(fjall::KvSeparationOptions::default))
        })?;
        Ok(Self { db, tasks })
    }

    /// Waits until no flush or compaction is running (bounded to 60 s).
    fn wait_idle(&self) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while (self.db.outstanding_flushes() > 0 || self.db.active_compactions() > 0)
            && std::time::Instant::now() < until
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Store for FjallStore {
    fn commit(&mut self, ops: &[Op]) -> Result<()> {
        let mut batch = self
            .db
            .batch()
            .durability(Some(fjall::PersistMode::SyncAll));
        for op in ops {
            match op {
                Op::Put(key, value) => {
                    batch.insert(&self.tasks, key.to_be_bytes(), value.as_slice())
                }
                Op::Delete(key) => batch.remove(&self.tasks, key.to_be_bytes()),
            }
        }
        batch.commit()?;
        Ok(())
    }

    fn scan(&mut self, visit: &mut dyn FnMut(u64, &[u8])) -> Result<()> {
        for guard in self.tasks.iter() {
            let (key, value) = guard.into_inner()?;
            visit(u64::from_be_bytes(key.as_ref().try_into()?), &value);
        }
        Ok(())
    }

    fn settle(&mut self) -> Result<()> {
        self.tasks.rotate_memtable_and_wait()?;
        self.wait_idle();
        Ok(())
    }

    fn compact(&mut self) -> Result<Option<&'static str>> {
        self.tasks.rotate_memtable_and_wait()?;
        // A major compaction does nothing while another compaction runs.
        self.wait_idle();
        self.tasks.major_compact()?;
        self.wait_idle();
        Ok(Some("Keyspace::major_compact"))
    }
}

const REDB_TASKS: redb::TableDefinition<'_, &[u8], &[u8]> = redb::TableDefinition::new("tasks");

/// redb: one file, one table, `Durability::Immediate` (the default).
pub struct RedbStore {
    db: redb::Database,
    quick_repair: bool,
}

impl RedbStore {
    fn open(dir: &Path, quick_repair: bool) -> Result<Self> {
        let db = redb::Database::create(dir.join("tasks.redb"))?;
        Ok(Self { db, quick_repair })
    }
}

impl Store for RedbStore {
    fn commit(&mut self, ops: &[Op]) -> Result<()> {
        let mut tx = self.db.begin_write()?;
        tx.set_quick_repair(self.quick_repair);
        {
            let mut table = tx.open_table(REDB_TASKS)?;
            for op in ops {
                match op {
                    Op::Put(key, value) => {
                        table.insert(key.to_be_bytes().as_slice(), value.as_slice())?;
                    }
                    Op::Delete(key) => {
                        table.remove(key.to_be_bytes().as_slice())?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn scan(&mut self, visit: &mut dyn FnMut(u64, &[u8])) -> Result<()> {
        use redb::{ReadableDatabase, ReadableTable};
        let tx = self.db.begin_read()?;
        let table = match tx.open_table(REDB_TASKS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for entry in table.iter()? {
            let (key, value) = entry?;
            visit(u64::from_be_bytes(key.value().try_into()?), value.value());
        }
        Ok(())
    }

    fn compact(&mut self) -> Result<Option<&'static str>> {
        // Each call may leave more to do; it returns false once nothing is left.
        for _ in 0..20 {
            if !self.db.compact(redb::CompactionMode::Balanced)? {
                break;
            }
        }
        Ok(Some("Database::compact"))
    }
}

/// SQLite: `tasks(id INTEGER PRIMARY KEY, data BLOB)`, WAL, `synchronous=FULL`,
/// one `BEGIN IMMEDIATE` transaction per batch.
pub struct SqliteStore {
    conn: rusqlite::Connection,
    incremental_vacuum: bool,
}

impl SqliteStore {
    fn open(dir: &Path, incremental_vacuum: bool) -> Result<Self> {
        let conn = rusqlite::Connection::open(dir.join("tasks.sqlite"))?;
        if incremental_vacuum {
            // Takes effect only before the first table is created.
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        }
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if mode != "wal" {
            return Err(format!("journal_mode is {mode}, not wal").into());
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS tasks (id INTEGER PRIMARY KEY, data BLOB NOT NULL)",
        )?;
        Ok(Self {
            conn,
            incremental_vacuum,
        })
    }
}

impl Store for SqliteStore {
    fn commit(&mut self, ops: &[Op]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut put =
                tx.prepare_cached("INSERT OR REPLACE INTO tasks (id, data) VALUES (?1, ?2)")?;
            let mut delete = tx.prepare_cached("DELETE FROM tasks WHERE id = ?1")?;
            for op in ops {
                match op {
                    Op::Put(key, value) => {
                        put.execute(rusqlite::params![i64::try_from(*key)?, value])?
                    }
                    Op::Delete(key) => delete.execute([i64::try_from(*key)?])?,
                };
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn scan(&mut self, visit: &mut dyn FnMut(u64, &[u8])) -> Result<()> {
        let mut statement = self
            .conn
            .prepare("SELECT id, data FROM tasks ORDER BY id")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let key: i64 = row.get(0)?;
            let value = row.get_ref(1)?.as_blob()?;
            visit(u64::try_from(key)?, value);
        }
        Ok(())
    }

    fn settle(&mut self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    fn compact(&mut self) -> Result<Option<&'static str>> {
        if self.incremental_vacuum {
            // Frees one free page per step, so step to the end; with no
            // argument it frees them all, `incremental_vacuum(N)` at most N.
            let mut vacuum = self.conn.prepare("PRAGMA incremental_vacuum")?;
            let mut steps = vacuum.query([])?;
            while steps.next()?.is_some() {}
        } else {
            self.conn.execute_batch("VACUUM")?;
        }
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(Some(if self.incremental_vacuum {
            "incremental_vacuum + wal_checkpoint(TRUNCATE)"
        } else {
            "VACUUM + wal_checkpoint(TRUNCATE)"
        }))
    }
}
