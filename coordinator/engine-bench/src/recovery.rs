//! Workload 4: recovery. A store holding N small completed tasks, closed
//! cleanly, is opened and every live record read, as a restarting
//! coordinator rebuilds its queue. Warm: the files are in the page cache (a
//! process restart); cold: their cached pages are dropped first (a reboot).

use std::path::Path;
use std::time::Instant;

use crate::Settings;
use crate::engine::{Engine, Result};
use crate::measure::{Spread, disk_usage, evict_from_page_cache, mib, ms, thousands};
use crate::records::TaskStream;

/// Numbers of small tasks stored.
pub const TASKS: [usize; 3] = [1_000, 100_000, 1_000_000];
/// Records per batch while filling the store.
const FILL_BATCH: usize = 10_000;

/// Open time and full-scan time of one recovery, in ms.
fn recover(engine: Engine, dir: &Path, expected: usize) -> Result<(f64, f64)> {
    let started = Instant::now();
    let mut store = engine.open(dir)?;
    let opened = started.elapsed();
    let mut count = 0usize;
    let mut bytes = 0u64;
    store.scan(&mut |_, value| {
        count += 1;
        bytes += value.len() as u64;
    })?;
    let total = started.elapsed();
    drop(store);
    if count != expected || bytes == 0 {
        return Err(format!(
            "{}: found {count} records, expected {expected}",
            engine.name()
        )
        .into());
    }
    Ok((ms(opened), ms(total - opened)))
}

/// Runs the workload and prints one table.
///
/// # Errors
/// The first error of any store, or a store that comes back with the wrong
/// number of records.
pub fn run(root: &Path, settings: &Settings) -> Result<()> {
    println!(
        "\n### 4. Recovery: open + read every live record, small tasks, after a clean close\n"
    );
    println!(
        "Median of {} runs (min–max), ms. `× floor` compares open + scan with {} (read the file, rebuild a map of live records).\n",
        settings.repeats,
        settings.engines[0].name()
    );
    println!(
        "| tasks | store | disk | warm: open | warm: scan | warm: total | × floor | cold: total | × floor |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for tasks in TASKS {
        let mut floor = (1.0, 1.0);
        for (i, &engine) in settings.engines.iter().enumerate() {
            let dir = root.join(format!("recovery-{i}"));
            let mut store = engine.open(&dir)?;
            for batch in TaskStream::preload(tasks, FILL_BATCH, 3) {
                store.commit(&batch)?;
            }
            drop(store);
            let size = disk_usage(&dir);
            let (mut open, mut scan, mut warm, mut cold) = (vec![], vec![], vec![], vec![]);
            recover(engine, &dir, tasks)?; // first open after writing may do one-off work
            for _ in 0..settings.repeats {
                let (o, s) = recover(engine, &dir, tasks)?;
                open.push(o);
                scan.push(s);
                warm.push(o + s);
                evict_from_page_cache(&dir);
                let (o, s) = recover(engine, &dir, tasks)?;
                cold.push(o + s);
            }
            let (warm, cold) = (Spread::of(&warm), Spread::of(&cold));
            if i == 0 {
                floor = (warm.median, cold.median);
            }
            println!(
                "| {} | {} | {} | {} | {} | {} | {:.1} | {} | {:.1} |",
                thousands(tasks as f64),
                engine.name(),
                mib(size),
                Spread::of(&open).show(1),
                Spread::of(&scan).show(1),
                warm.show(1),
                warm.median / floor.0,
                cold.show(1),
                cold.median / floor.1
            );
            std::fs::remove_dir_all(&dir)?;
        }
    }
    Ok(())
}
