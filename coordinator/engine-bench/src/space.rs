//! Workloads 2 and 3: bytes written per byte of task data, and the space a
//! store takes and gives back after deletes, for small and for large tasks.
//!
//! Each store runs alone here, so `/proc/self/io` counts only its writes
//! (background flush and compaction threads included).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::Settings;
use crate::engine::{Engine, Op, Result, Store};
use crate::measure::{Spread, disk_usage, mib, ms, thousands, write_bytes};
use crate::records::{TaskStream, large_task};

/// Live small tasks before the deletes.
const LIVE: usize = 100_000;
/// Records per batch while churning and deleting.
const BATCH: usize = 128;
/// Small tasks pushed through a full store (3 records each).
const CHURN_TASKS: usize = 100_000;
/// Large tasks written then deleted.
const LARGE_TASKS: u64 = 10;
/// Size of one large task's data: an n = 2048 matrix pair as text.
const LARGE_BYTES: usize = 29_000_000;

/// Disk use at each step after the deletes.
#[derive(Clone, Copy, Debug, Default)]
struct AfterDelete {
    at_once: u64,
    settled: u64,
    reopened: u64,
    compacted: u64,
    compaction: Duration,
    compacted_reopened: u64,
    /// After the reopen, small-task traffic (only for large tasks).
    after_traffic: Option<u64>,
}

/// Small records written after the large tasks are deleted, to see whether
/// ordinary traffic (memtable flushes, compactions) gives their space back.
const TRAFFIC_RECORDS: usize = 300_000;

/// Deletes `keys`, then measures space at each step, ending with the
/// engine's compaction API (if any). With `traffic`, small-task traffic
/// runs after the reopen and before the compaction API.
fn delete_and_reclaim(
    engine: Engine,
    dir: &Path,
    mut store: Box<dyn Store>,
    keys: &[u64],
    batch: usize,
    traffic: bool,
) -> Result<(AfterDelete, Option<&'static str>)> {
    for chunk in keys.chunks(batch) {
        store.commit(&chunk.iter().map(|&k| Op::Delete(k)).collect::<Vec<_>>())?;
    }
    let mut after = AfterDelete {
        at_once: disk_usage(dir),
        ..AfterDelete::default()
    };
    store.settle()?;
    after.settled = disk_usage(dir);
    drop(store);
    let mut store = engine.open(dir)?;
    after.reopened = disk_usage(dir);
    if traffic {
        let mut stream = TaskStream::new(1_000, 13);
        let mut ops = Vec::with_capacity(1_000);
        for _ in 0..TRAFFIC_RECORDS / 1_000 {
            stream.take(1_000, &mut ops);
            store.commit(&ops)?;
        }
        store.settle()?;
        after.after_traffic = Some(disk_usage(dir));
    }
    let started = Instant::now();
    let api = store.compact()?;
    after.compaction = started.elapsed();
    after.compacted = disk_usage(dir);
    drop(store);
    drop(engine.open(dir)?);
    after.compacted_reopened = disk_usage(dir);
    Ok((after, api))
}

fn live_bytes(store: &mut dyn Store) -> Result<(u64, u64)> {
    let (mut count, mut bytes) = (0, 0);
    store.scan(&mut |_, value| {
        count += 1;
        bytes += 8 + value.len() as u64;
    })?;
    Ok((count, bytes))
}

/// Workload 3: small tasks. Prints one table.
///
/// # Errors
/// The first error of any store.
pub fn run_small(root: &Path, settings: &Settings) -> Result<()> {
    println!(
        "\n### 3. Bytes written per byte of task data, and space after deleting 90% of {} small tasks\n",
        thousands(LIVE as f64)
    );
    println!(
        "Load: {} completed tasks in batches of 1,000. Churn: {} more tasks (submit, complete, evict) in durable batches of {BATCH}, then a memtable flush or WAL checkpoint where the engine has one. Bytes written = `write_bytes` of `/proc/self/io` / value bytes put. Then 90% of the tasks are deleted in batches of {BATCH}; disk use right after, after the flush/checkpoint, after reopening, and after the compaction API.\n",
        thousands(LIVE as f64),
        thousands(CHURN_TASKS as f64)
    );
    println!(
        "| store | written/data, load | written/data, churn | live data | disk, 100k live | after deleting 90% | + flush/checkpoint | + reopen | + compaction API (time) | + reopen | live data after |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (i, &engine) in settings.engines.iter().enumerate() {
        let dir = root.join(format!("space-{i}"));
        let mut store = engine.open(&dir)?;
        let before = write_bytes();
        let mut loaded = 0;
        for batch in TaskStream::preload(LIVE, 1_000, 7) {
            loaded += batch
                .iter()
                .map(|op| match op {
                    Op::Put(_, v) => v.len() as u64,
                    Op::Delete(_) => 0,
                })
                .sum::<u64>();
            store.commit(&batch)?;
        }
        store.settle()?;
        let load_ratio = (write_bytes() - before) as f64 / loaded as f64;

        let mut stream = TaskStream::new(LIVE, 11);
        let mut ops = Vec::with_capacity(BATCH);
        let before = write_bytes();
        let deadline = Instant::now() + settings.cell * 15;
        let mut records = 0;
        while records < CHURN_TASKS * 3 && Instant::now() < deadline {
            stream.take(BATCH, &mut ops);
            store.commit(&ops)?;
            records += BATCH;
        }
        store.settle()?;
        let churn_ratio = (write_bytes() - before) as f64 / stream.put_bytes as f64;
        let churned = records / 3;

        let (_, live_data) = live_bytes(store.as_mut())?;
        let full = disk_usage(&dir);
        let mut keys = Vec::new();
        store.scan(&mut |key, _| keys.push(key))?;
        let doomed: Vec<u64> = keys
            .iter()
            .enumerate()
            .filter(|(n, _)| n % 10 != 0)
            .map(|(_, &k)| k)
            .collect();
        let (after, api) = delete_and_reclaim(engine, &dir, store, &doomed, BATCH, false)?;
        let mut store = engine.open(&dir)?;
        let (_, live_after) = live_bytes(store.as_mut())?;
        drop(store);
        let churn_note = if churned < CHURN_TASKS {
            format!(" ({} tasks)", thousands(churned as f64))
        } else {
            String::new()
        };
        println!(
            "| {} | {:.2} | {:.2}{churn_note} | {} | {} | {} | {} | {} | {} | {} | {} |",
            engine.name(),
            load_ratio,
            churn_ratio,
            mib(live_data),
            mib(full),
            mib(after.at_once),
            mib(after.settled),
            mib(after.reopened),
            match api {
                Some(_) => format!("{} ({:.0} ms)", mib(after.compacted), ms(after.compaction)),
                None => "no API".to_string(),
            },
            mib(after.compacted_reopened),
            mib(live_after),
        );
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

/// Workload 2: large tasks. Prints one table.
///
/// # Errors
/// The first error of any store.
pub fn run_large(root: &Path, settings: &Settings) -> Result<()> {
    println!(
        "\n### 2. Large values: {LARGE_TASKS} tasks of {} put durably (one batch each), then deleted in one batch\n",
        mib(LARGE_BYTES as u64)
    );
    let texts: Vec<Vec<u8>> = (0..LARGE_TASKS)
        .map(|t| large_task(t, LARGE_BYTES))
        .collect();
    let mut rows = Vec::new();
    for (i, &engine) in settings.engines.iter().enumerate() {
        let mut puts = Vec::new();
        let mut ratios = Vec::new();
        let mut last = (0, AfterDelete::default(), None);
        for repeat in 0..settings.repeats {
            let dir = root.join(format!("large-{i}-{repeat}"));
            let mut store = engine.open(&dir)?;
            let before = write_bytes();
            for (t, text) in texts.iter().enumerate() {
                let put = [Op::Put(t as u64, text.clone())];
                let started = Instant::now();
                store.commit(&put)?;
                puts.push(ms(started.elapsed()));
            }
            store.settle()?;
            ratios
                .push((write_bytes() - before) as f64 / (LARGE_BYTES as u64 * LARGE_TASKS) as f64);
            let full = disk_usage(&dir);
            let keys: Vec<u64> = (0..LARGE_TASKS).collect();
            let (after, api) = delete_and_reclaim(engine, &dir, store, &keys, keys.len(), true)?;
            last = (full, after, api);
            std::fs::remove_dir_all(&dir)?;
        }
        rows.push((engine, Spread::of(&puts), Spread::of(&ratios), last));
    }
    println!(
        "Put time per task: median over {} repeats × {LARGE_TASKS} puts (min–max). Disk figures from the last repeat.\n",
        settings.repeats
    );
    println!(
        "| store | put ms per task | time × floor | written/data | disk after puts | after deletes | + flush/checkpoint | + reopen | + {}k small records | + compaction API (time) | + reopen |",
        TRAFFIC_RECORDS / 1_000
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let floor = rows.first().map_or(1.0, |r| r.1.median);
    for (engine, put, ratio, (full, after, api)) in rows {
        println!(
            "| {} | {} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} | {} |",
            engine.name(),
            put.show(0),
            put.median / floor,
            ratio.median,
            mib(full),
            mib(after.at_once),
            mib(after.settled),
            mib(after.reopened),
            mib(after.after_traffic.unwrap_or(0)),
            match api {
                Some(_) => format!("{} ({:.0} ms)", mib(after.compacted), ms(after.compaction)),
                None => "no API".to_string(),
            },
            mib(after.compacted_reopened),
        );
    }
    Ok(())
}
