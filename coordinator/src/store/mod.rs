//! Where the task state is kept: nowhere but memory, or durably in a data
//! directory.
//!
//! The store takes the change records the queue returns, in the order the
//! queue decided them ([`Store::write`], called under the queue's lock), and
//! gives back a [`Ticket`] that completes once they are on disk: a use case
//! that acknowledges something (a submission, a result, a cancel) answers
//! only after its ticket does. A writer thread makes concurrent requests
//! share one sync (group commit). At start, [`Store::open`] reads the
//! directory back ([`Recovered`]) for the queue to restore.
//!
//! # Layout
//!
//! - `layout`: keys and values, and the operations a change becomes.
//! - `writer`: the writer thread (group commit, retries after a failure).
//! - `recovery`: the records read back into tasks.
//! - `dir`: the data directory's lock and format version.
//! - `engine`: the embedded storage engine underneath.
//! - `shared`: the task state on a Redis that several coordinators share.

mod dir;
mod engine;
mod layout;
mod recovery;
pub(crate) mod shared;
mod writer;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

pub(crate) use layout::FORMAT_VERSION;
pub(crate) use recovery::{Found, Recovered};

use crate::queue::{Changes, IdWindow, TaskId};
use dir::DataDir;
use engine::Engine;
use writer::{Job, Work};

/// Why the store could not open, or could not write.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Another coordinator holds the data directory.
    #[error(
        "data directory {0} is in use by another coordinator (its LOCK file is locked); stop that one or choose another --data-dir"
    )]
    Locked(PathBuf),
    /// The data directory was written with a layout this version does not
    /// read.
    #[error(
        "data directory format {path} says version {found}, but this coordinator reads version {FORMAT_VERSION}; use a coordinator of that version, or a new --data-dir"
    )]
    Version {
        /// The format file.
        path: PathBuf,
        /// What it says.
        found: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The storage engine failed.
    #[error("storage engine: {0}")]
    Engine(String),
    /// A write failed (the disk is full, say); it is tried again.
    #[error("the store could not write: {0}")]
    Write(Arc<str>),
    /// The store has stopped.
    #[error("the store has stopped")]
    Stopped,
    /// The shared Redis did not answer.
    #[error("Redis: {0}")]
    Shared(String),
}

impl StoreError {
    fn io(path: &Path, error: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            message: error.to_string(),
        }
    }
}

/// How the embedded store syncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Every acknowledged write is synced to disk first (group commit).
    Always,
    /// Writes are acknowledged once the engine has them, before they are
    /// synced: a crash of the machine (not of the process) can lose the
    /// last ones.
    Never,
}

/// Where the task state is kept.
#[derive(Debug, Clone)]
pub(crate) enum Store {
    /// In memory only: lost when the process ends.
    Memory,
    /// In a data directory.
    Disk(Arc<Disk>),
}

/// An open data directory and its writer.
#[derive(Debug)]
pub(crate) struct Disk {
    dir: DataDir,
    sync: SyncPolicy,
    /// Sequence numbers and the writer's channel, taken together so records
    /// reach the writer in sequence order.
    sender: Mutex<Option<(u64, Sender<Job>)>>,
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
    engine_dir: PathBuf,
}

/// What the writer thread and the requests share.
#[derive(Debug)]
pub(super) struct Shared {
    progress: watch::Sender<Progress>,
    pending: Mutex<Pending>,
    failing: AtomicBool,
    totals: Mutex<Totals>,
}

/// How far the writer is.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// Every record up to this sequence number is on disk.
    durable: u64,
    /// Why the last write failed, while the store cannot write.
    failing: Option<Arc<str>>,
}

/// The tasks whose last records are not on disk yet.
#[derive(Debug, Default)]
struct Pending {
    /// Task id to the sequence number of its last record.
    last: HashMap<TaskId, u64>,
    /// The records' sequence numbers and tasks, in order.
    order: VecDeque<(u64, Vec<TaskId>)>,
}

/// What the writer has done, for `/stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    /// Batches written (one sync each).
    pub batches: u64,
    /// Records written.
    pub records: u64,
    /// Bytes of keys and values written.
    pub bytes: u64,
    /// Writes that failed.
    pub failures: u64,
    /// The longest batch write.
    pub slowest: Duration,
}

/// The store's figures for `/stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreStats {
    /// `"memory"` or `"disk"`.
    pub kind: &'static str,
    /// The data directory.
    pub path: Option<PathBuf>,
    /// Whether acknowledged writes are synced.
    pub sync: bool,
    /// Bytes the data directory takes on disk.
    pub bytes_on_disk: u64,
    /// What the writer has done.
    pub totals: Totals,
    /// Why writes fail, while they do.
    pub failing: Option<String>,
}

/// Completes once the records it was given for are on disk.
#[derive(Debug)]
#[must_use = "a ticket says when records are on disk"]
pub(crate) struct Ticket {
    seq: u64,
    progress: Option<watch::Receiver<Progress>>,
}

impl Ticket {
    /// A ticket for nothing to wait for.
    pub(crate) fn ready() -> Self {
        Self {
            seq: 0,
            progress: None,
        }
    }

    /// Waits until the records are on disk.
    ///
    /// # Errors
    ///
    /// [`StoreError::Write`] while the store cannot write (the records stay
    /// queued and are written once it can); [`StoreError::Stopped`].
    pub(crate) async fn durable(self) -> Result<(), StoreError> {
        let Some(mut progress) = self.progress else {
            return Ok(());
        };
        loop {
            {
                let now = progress.borrow_and_update();
                if now.durable >= self.seq {
                    return Ok(());
                }
                if let Some(error) = &now.failing {
                    return Err(StoreError::Write(Arc::clone(error)));
                }
            }
            if progress.changed().await.is_err() {
                return Err(StoreError::Stopped);
            }
        }
    }
}

impl Store {
    /// Opens (or creates) the data directory at `path` and reads back what
    /// it holds.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the directory is in use, of another version, or
    /// cannot be read.
    pub(crate) fn open(path: &Path, sync: SyncPolicy) -> Result<(Self, Recovered), StoreError> {
        let dir = DataDir::open(path)?;
        let engine_dir = dir.engine_path();
        let opening = Instant::now();
        let engine = Engine::open(&engine_dir, sync == SyncPolicy::Always)?;
        let open_time = opening.elapsed();
        let scanning = Instant::now();
        let records = engine.scan()?;
        let scan_time = scanning.elapsed();
        let building = Instant::now();
        let mut recovered = recovery::recover(records);
        recovered.found.open_time = open_time;
        recovered.found.scan_time = scan_time;
        recovered.found.build_time = building.elapsed();
        let shared = Arc::new(Shared {
            progress: watch::Sender::new(Progress::default()),
            pending: Mutex::new(Pending::default()),
            failing: AtomicBool::new(false),
            totals: Mutex::new(Totals::default()),
        });
        let (jobs, received) = std::sync::mpsc::channel();
        let for_writer = Arc::clone(&shared);
        let reopen_dir = engine_dir.clone();
        let reopen = move || Engine::open(&reopen_dir, sync == SyncPolicy::Always);
        let writer = std::thread::Builder::new()
            .name("store-writer".to_owned())
            .spawn(move || writer::run(engine, reopen, received, for_writer))
            .map_err(|e| StoreError::io(path, e))?;
        let disk = Disk {
            dir,
            sync,
            sender: Mutex::new(Some((1, jobs))),
            shared,
            writer: Mutex::new(Some(writer)),
            engine_dir,
        };
        Ok((Self::Disk(Arc::new(disk)), recovered))
    }

    /// Hands `changes` to the store. Call it under the queue's lock, so
    /// records reach the store in the order the queue decided them.
    pub(crate) fn write(&self, changes: &Changes) -> Ticket {
        match self {
            Self::Memory => Ticket::ready(),
            Self::Disk(disk) if !changes.is_empty() => {
                let ids = changes.iter().map(crate::queue::Change::id).collect();
                disk.send(Work::Changes(changes.clone()), ids)
            }
            Self::Disk(_) => Ticket::ready(),
        }
    }

    /// A ticket that completes once every record of task `id` handed to the
    /// store so far is on disk (at once when none is waiting).
    pub(crate) fn durable(&self, id: TaskId) -> Ticket {
        let Self::Disk(disk) = self else {
            return Ticket::ready();
        };
        let seq = lock(&disk.shared.pending).last.get(&id).copied();
        match seq {
            Some(seq) => disk.ticket(seq),
            None => Ticket::ready(),
        }
    }

    /// Reserves the ids of `window` on disk, so none of them is given out
    /// twice after a crash.
    pub(crate) fn reserve(&self, window: IdWindow) -> Ticket {
        match self {
            Self::Memory => Ticket::ready(),
            Self::Disk(disk) => disk.send(Work::Ops(vec![layout::reservation(window)]), Vec::new()),
        }
    }

    /// Whether ids must be reserved before they are given out.
    pub(crate) fn reserves_ids(&self) -> bool {
        matches!(self, Self::Disk(_))
    }

    /// Writes what is waiting and stops the writer; later writes fail.
    pub(crate) fn close(&self) {
        if let Self::Disk(disk) = self {
            lock(&disk.sender).take();
            if let Some(writer) = lock(&disk.writer).take() {
                let _ = writer.join();
                if !disk.shared.is_failing() {
                    disk.dir.mark_closed();
                }
            }
        }
    }

    /// Whether the last run on this store closed it (always for memory).
    pub(crate) fn last_run_closed(&self) -> bool {
        match self {
            Self::Memory => true,
            Self::Disk(disk) => disk.dir.last_run_closed(),
        }
    }

    /// The store's figures.
    pub(crate) fn stats(&self) -> StoreStats {
        match self {
            Self::Memory => StoreStats {
                kind: "memory",
                path: None,
                sync: false,
                bytes_on_disk: 0,
                totals: Totals::default(),
                failing: None,
            },
            Self::Disk(disk) => StoreStats {
                kind: "disk",
                path: Some(disk.dir.path().to_path_buf()),
                sync: disk.sync == SyncPolicy::Always,
                bytes_on_disk: dir_size(&disk.engine_dir),
                totals: *lock(&disk.shared.totals),
                failing: disk
                    .shared
                    .progress
                    .borrow()
                    .failing
                    .as_deref()
                    .map(str::to_owned),
            },
        }
    }
}

impl Disk {
    /// Gives `work` the next sequence number and sends it to the writer.
    fn send(&self, work: Work, ids: Vec<TaskId>) -> Ticket {
        let mut sender = lock(&self.sender);
        let Some((next, jobs)) = sender.as_mut() else {
            return self.stopped();
        };
        let seq = *next;
        *next += 1;
        if !ids.is_empty() {
            let mut pending = lock(&self.shared.pending);
            for &id in &ids {
                pending.last.insert(id, seq);
            }
            pending.order.push_back((seq, ids));
        }
        if jobs.send(Job { seq, work }).is_err() {
            return self.stopped();
        }
        drop(sender);
        self.ticket(seq)
    }

    fn ticket(&self, seq: u64) -> Ticket {
        Ticket {
            seq,
            progress: Some(self.shared.progress.subscribe()),
        }
    }

    /// A ticket that fails at once: the writer has stopped.
    fn stopped(&self) -> Ticket {
        let (progress, receiver) = watch::channel(Progress {
            durable: 0,
            failing: Some(Arc::from("the store has stopped")),
        });
        drop(progress);
        Ticket {
            seq: u64::MAX,
            progress: Some(receiver),
        }
    }
}

impl Shared {
    /// Records that every record up to `seq` is on disk.
    fn written(&self, seq: u64, jobs: usize, bytes: usize, took: Duration) {
        {
            let mut pending = lock(&self.pending);
            while pending.order.front().is_some_and(|(done, _)| *done <= seq) {
                if let Some((done, ids)) = pending.order.pop_front() {
                    for id in ids {
                        if pending.last.get(&id) == Some(&done) {
                            pending.last.remove(&id);
                        }
                    }
                }
            }
        }
        {
            let mut totals = lock(&self.totals);
            totals.batches += 1;
            totals.records += jobs as u64;
            totals.bytes += bytes as u64;
            totals.slowest = totals.slowest.max(took);
        }
        if self.failing.swap(false, Ordering::SeqCst) {
            tracing::info!("store writes again");
        }
        self.progress.send_modify(|progress| {
            progress.durable = seq;
            progress.failing = None;
        });
    }

    /// Records that a write failed.
    fn failed(&self, error: &StoreError) {
        lock(&self.totals).failures += 1;
        self.failing.store(true, Ordering::SeqCst);
        let reason = writer::describe(error);
        self.progress
            .send_modify(|progress| progress.failing = Some(reason));
    }

    fn is_failing(&self) -> bool {
        self.failing.load(Ordering::SeqCst)
    }
}

/// Locks `mutex`, taking over a poisoned one (every holder leaves the data
/// consistent).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Bytes the files under `path` take (their lengths).
fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// How long recovery took and what it found, for the log.
pub(crate) fn log_recovery(path: &Path, store: &Store, found: &Found, took: Instant) {
    if !store.last_run_closed() {
        tracing::warn!(
            "the last run did not close the store (a crash or a kill): its journal was replayed, and a write it had not finished, if any, was dropped (nothing unfinished had been acknowledged)"
        );
    }
    tracing::info!(
        path = %path.display(),
        pending = found.pending,
        completed = found.completed,
        failed = found.failed,
        split_tasks = found.split_tasks,
        bytes = found.bytes,
        skipped = found.skipped,
        open_ms = found.open_time.as_millis() as u64,
        scan_ms = found.scan_time.as_millis() as u64,
        build_ms = found.build_time.as_millis() as u64,
        restore_ms = found.restore_time.as_millis() as u64,
        ms = took.elapsed().as_millis() as u64,
        "store recovered"
    );
    if found.skipped > 0 {
        tracing::warn!(
            records = found.skipped,
            "records that could not be read were skipped"
        );
    }
}
