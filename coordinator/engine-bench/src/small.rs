//! Workload 1: acknowledged small writes with group commit.
//!
//! For each number of live tasks, every store is filled, then each cell runs
//! the task stream (submit, complete, evict) at one batch size for a fixed
//! time, a full durable sync per batch. Cells of all stores alternate within
//! each repeat, so a burst of load on the shared machine hits them alike.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::Settings;
use crate::engine::{Engine, Op, Result, Store};
use crate::measure::{Spread, fdatasync_latency, ms, quantile, thousands};
use crate::records::TaskStream;

/// Batch sizes measured (records per durable commit).
pub const BATCH_SIZES: [usize; 4] = [1, 8, 32, 128];
/// Numbers of live tasks already stored when a cell starts.
pub const LIVE_TASKS: [usize; 2] = [1_000, 100_000];
/// A cell runs at least this many batches, even past its time.
const MIN_BATCHES: usize = 50;

/// One cell: one store, one batch size, one repeat.
#[derive(Clone, Copy, Debug)]
struct Cell {
    records_per_s: f64,
    p50: Duration,
    p99: Duration,
    /// CPU time of the whole process (background threads included) per record.
    cpu_us_per_record: f64,
}

fn run_cell(
    store: &mut dyn Store,
    stream: &mut TaskStream,
    batch: usize,
    time: Duration,
) -> Result<Cell> {
    let mut ops: Vec<Op> = Vec::with_capacity(batch);
    let mut latencies = Vec::new();
    let cpu = cpu_time::ProcessTime::now();
    let started = Instant::now();
    while (started.elapsed() < time || latencies.len() < MIN_BATCHES)
        && started.elapsed() < time * 3
    {
        stream.take(batch, &mut ops);
        let commit = Instant::now();
        store.commit(&ops)?;
        latencies.push(commit.elapsed());
    }
    let elapsed = started.elapsed();
    let cpu = cpu.elapsed();
    let records = (latencies.len() * batch) as f64;
    latencies.sort();
    Ok(Cell {
        cpu_us_per_record: cpu.as_secs_f64() * 1e6 / records,
        records_per_s: records / elapsed.as_secs_f64(),
        p50: quantile(&latencies, 0.5),
        p99: quantile(&latencies, 0.99),
    })
}

/// Runs the workload and prints one table per number of live tasks.
///
/// # Errors
/// The first error of any store.
pub fn run(root: &Path, settings: &Settings) -> Result<()> {
    for live in LIVE_TASKS {
        let mut stores = Vec::new();
        for (i, &engine) in settings.engines.iter().enumerate() {
            let dir = root.join(format!("small-{live}-{i}"));
            let mut store = engine.open(&dir)?;
            for batch in TaskStream::preload(live, 1_000, i as u64) {
                store.commit(&batch)?;
            }
            stores.push((engine, dir, store, TaskStream::new(live, 42 + i as u64)));
        }
        // cells[engine][batch] = one Cell per repeat
        let mut cells = vec![vec![Vec::<Cell>::new(); BATCH_SIZES.len()]; stores.len()];
        let mut syncs = Vec::new();
        for _ in 0..settings.repeats {
            syncs.push(ms(fdatasync_latency(root, 20)?));
            for (b, &batch) in BATCH_SIZES.iter().enumerate() {
                for (s, (_, _, store, stream)) in stores.iter_mut().enumerate() {
                    cells[s][b].push(run_cell(store.as_mut(), stream, batch, settings.cell)?);
                }
            }
        }
        syncs.push(ms(fdatasync_latency(root, 20)?));
        print_table(
            live,
            &stores.iter().map(|s| s.0).collect::<Vec<_>>(),
            &cells,
            &syncs,
        );
        for (_, dir, store, _) in stores {
            drop(store);
            std::fs::remove_dir_all(dir)?;
        }
    }
    Ok(())
}

fn print_table(live: usize, engines: &[Engine], cells: &[Vec<Vec<Cell>>], syncs: &[f64]) {
    println!(
        "\n### 1. Acknowledged small writes, group commit, {} live tasks\n",
        thousands(live as f64)
    );
    println!(
        "Median of {} runs (min–max); `× floor` is the ratio to {} in the same run. fdatasync of 128 B during this table: {} ms.\n",
        cells[0][0].len(),
        engines[0].name(),
        Spread::of(syncs).show(1)
    );
    println!(
        "| store | batch | records/s | × floor | commit p50 ms | commit p99 ms | CPU µs/record |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (b, batch) in BATCH_SIZES.iter().enumerate() {
        for (s, engine) in engines.iter().enumerate() {
            let runs = &cells[s][b];
            let rate = Spread::of(&runs.iter().map(|c| c.records_per_s).collect::<Vec<_>>());
            let ratio = Spread::of(
                &runs
                    .iter()
                    .zip(&cells[0][b])
                    .map(|(c, floor)| c.records_per_s / floor.records_per_s)
                    .collect::<Vec<_>>(),
            );
            let p50 = Spread::of(&runs.iter().map(|c| ms(c.p50)).collect::<Vec<_>>());
            let p99 = Spread::of(&runs.iter().map(|c| ms(c.p99)).collect::<Vec<_>>());
            let cpu = Spread::of(&runs.iter().map(|c| c.cpu_us_per_record).collect::<Vec<_>>());
            println!(
                "| {} | {batch} | {} ({}–{}) | {:.2} | {} | {} | {:.0} |",
                engine.name(),
                thousands(rate.median),
                thousands(rate.min),
                thousands(rate.max),
                ratio.median,
                p50.show(1),
                p99.show(1),
                cpu.median
            );
        }
    }
}
