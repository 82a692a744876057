//! Compares embedded storage engines on the workload of the coordinator's
//! durable store, before one is chosen.
//!
//! ```text
//! cargo run --release --manifest-path coordinator/engine-bench/Cargo.toml -- [WORKLOAD...] [--quick] [--dir DIR]
//! ```
//!
//! Workloads (all by default): `small` (acknowledged small writes with group
//! commit), `large` (29 MB tasks), `space` (bytes written per byte of data,
//! space after deletes), `recovery` (open + full scan), `crash` (SIGKILL while
//! writing, second process, torn tails). Each prints a Markdown table whose
//! figures are compared with a plain append-only file synced per batch, run
//! in the same process. Stores live in a fresh directory under `--dir`
//! (default: the system temp directory) that is removed at the end.
//!
//! # Layout
//! - `engine`: the stores behind one trait: the append-file floor, fjall,
//!   redb (with and without quick repair), SQLite.
//! - `records`: the task records and the submit/complete/evict stream.
//! - `measure`: bytes written, disk use, sync latency, medians and spreads.
//! - `small`, `space`, `recovery`, `crash`: one workload each.

mod crash;
mod engine;
mod measure;
mod records;
mod recovery;
mod small;
mod space;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use engine::{Engine, Result};

/// Time one cell of the small-write workload runs, by default.
const CELL: Duration = Duration::from_secs(2);
/// Repeats of each measurement, by default.
const REPEATS: usize = 3;
/// Kills per store in the crash workload, by default.
const KILLS: usize = 12;
/// Every workload, in the order they run.
const WORKLOADS: [&str; 5] = ["small", "large", "space", "recovery", "crash"];

/// What a run measures and for how long.
#[derive(Debug)]
pub struct Settings {
    /// Stores compared, the floor first.
    pub engines: Vec<Engine>,
    /// Time of one small-write cell.
    pub cell: Duration,
    /// Repeats of each measurement.
    pub repeats: usize,
    /// Kills per store in the crash workload.
    pub kills: usize,
}

fn usage() -> String {
    format!(
        "usage: engine-bench [{}]... [--quick] [--only STORES] [--dir DIR]\n  --quick  shorter cells, one repeat, 10 kills\n  --only   comma-separated store names (the first one is the floor in ratios)\n  --dir    parent of the scratch directory (default: {})",
        WORKLOADS.join("|"),
        std::env::temp_dir().display()
    )
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("crash-child") => {
            let engine = Engine::from_name(&args[1]).ok_or("unknown engine")?;
            return crash::child(engine, args[2].as_ref(), args[3].parse()?, args[4].parse()?);
        }
        Some("lock-child") => {
            let engine = Engine::from_name(&args[1]).ok_or("unknown engine")?;
            crash::lock_child(engine, args[2].as_ref());
            return Ok(());
        }
        _ => {}
    }
    let mut settings = Settings {
        engines: Engine::ALL.to_vec(),
        cell: CELL,
        repeats: REPEATS,
        kills: KILLS,
    };
    let mut parent = std::env::temp_dir();
    let mut chosen = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--quick" => {
                settings.cell = Duration::from_millis(500);
                settings.repeats = 1;
                settings.kills = 10;
            }
            "--only" => {
                let names = rest.next().ok_or_else(usage)?;
                settings.engines = names
                    .split(',')
                    .map(|n| {
                        Engine::from_name(n)
                            .ok_or_else(|| format!("unknown store {n:?}\n{}", usage()))
                    })
                    .collect::<std::result::Result<_, _>>()?;
            }
            "--dir" => parent = PathBuf::from(rest.next().ok_or_else(usage)?),
            "--help" | "-h" => {
                println!("{}", usage());
                return Ok(());
            }
            w if WORKLOADS.contains(&w) => chosen.push(w.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{}", usage()).into()),
        }
    }
    if chosen.is_empty() {
        chosen = WORKLOADS.iter().map(|w| w.to_string()).collect();
    }
    let root = parent.join(format!("engine-bench-{}", std::process::id()));
    std::fs::create_dir_all(&root)?;
    let started = Instant::now();
    let sync_before = measure::fdatasync_latency(&root, 50)?;
    println!(
        "Stores: {}. {} cores. fdatasync of 128 B at start: median {:.1} ms.",
        settings
            .engines
            .iter()
            .map(|e| e.name())
            .collect::<Vec<_>>()
            .join(", "),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        measure::ms(sync_before)
    );
    let outcome = (|| -> Result<()> {
        for workload in &chosen {
            match workload.as_str() {
                "small" => small::run(&root, &settings)?,
                "large" => space::run_large(&root, &settings)?,
                "space" => space::run_small(&root, &settings)?,
                "recovery" => recovery::run(&root, &settings)?,
                _ => crash::run(&root, &settings)?,
            }
        }
        Ok(())
    })();
    let sync_after = measure::fdatasync_latency(&root, 50);
    std::fs::remove_dir_all(&root)?;
    outcome?;
    println!(
        "\nfdatasync of 128 B at the end: median {:.1} ms. Total time {:.0} s.",
        measure::ms(sync_after?),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
