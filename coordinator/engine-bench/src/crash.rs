//! Workload 5: crash behaviour.
//!
//! A child process writes durable batches in a loop and prints the number of
//! each batch once its commit returned (its acknowledgement). The parent
//! kills it with SIGKILL at a random moment, reopens the store and checks it
//! against a model: every acknowledged batch must be there, byte for byte,
//! and the one batch in flight either whole or absent. Batches mix small
//! puts, overwrites and deletes, and now and then one large value, so some
//! kills land inside a long write. The store starts with 100,000 tasks, so
//! the reopen time shows the engine's crash recovery at a realistic size.
//!
//! Then: a second process opening the same directory (is it refused?), and
//! torn tails: the newest file of a copy of the files as the last kill left
//! them cut short, or given garbage at its end, then opened.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Settings;
use crate::engine::{Engine, Op, Result};
use crate::measure::{Spread, ms};
use crate::records::{Rng, TaskStream, completed, submitted};

/// Tasks stored before the first kill.
const PRELOAD: usize = 100_000;
/// A child stops writing by itself after this long.
const CHILD_LIMIT: Duration = Duration::from_secs(60);

/// The records the store should hold: task id → exact bytes.
type Model = BTreeMap<u64, Vec<u8>>;

/// The deterministic batches of one round; the child writes them and the
/// parent replays them into its model.
struct Script {
    rng: Rng,
    next_key: u64,
    live: Vec<u64>,
}

impl Script {
    fn new(round: u64, seed: u64) -> Script {
        Script {
            rng: Rng::new(seed ^ round),
            next_key: round << 40,
            live: Vec::new(),
        }
    }

    fn next_batch(&mut self) -> Vec<Op> {
        let mut ops = Vec::new();
        if self.rng.next_u64().is_multiple_of(16) {
            let key = self.next_key;
            self.next_key += 1;
            let len = self.rng.between(256 << 10, 4 << 20);
            let mut value = submitted(key, &mut self.rng);
            value.resize(len, b'7');
            ops.push(Op::Put(key, value));
            self.live.push(key);
            return ops;
        }
        for _ in 0..self.rng.between(1, 64) {
            let roll = self.rng.next_u64() % 10;
            if roll < 5 || self.live.is_empty() {
                let key = self.next_key;
                self.next_key += 1;
                ops.push(Op::Put(key, submitted(key, &mut self.rng)));
                self.live.push(key);
            } else if roll < 8 {
                let key = self.live[self.rng.between(0, self.live.len() - 1)];
                ops.push(Op::Put(key, completed(key, &mut self.rng)));
            } else {
                let at = self.rng.between(0, self.live.len() - 1);
                ops.push(Op::Delete(self.live.swap_remove(at)));
            }
        }
        ops
    }
}

fn apply(model: &mut Model, ops: &[Op]) {
    for op in ops {
        match op {
            Op::Put(key, value) => {
                model.insert(*key, value.clone());
            }
            Op::Delete(key) => {
                model.remove(key);
            }
        }
    }
}

/// Entry point of the child: writes round `round`'s batches until killed.
///
/// # Errors
/// Opening or writing the store.
pub fn child(engine: Engine, dir: &Path, round: u64, seed: u64) -> Result<()> {
    let mut store = engine.open(dir)?;
    let mut script = Script::new(round, seed);
    let mut out = std::io::stdout().lock();
    let started = Instant::now();
    let mut batch = 0u64;
    while started.elapsed() < CHILD_LIMIT {
        store.commit(&script.next_batch())?;
        batch += 1;
        writeln!(out, "{batch}")?;
        out.flush()?;
    }
    Ok(())
}

/// Entry point of the second process of the lock test: prints what opening
/// a directory already open in another process did.
pub fn lock_child(engine: Engine, dir: &Path) {
    match engine.open(dir) {
        Ok(_) => println!("opened"),
        Err(e) => println!("refused: {e}"),
    }
}

/// What reopening a store gave.
enum Reopen {
    Opened { open_ms: f64, found: Model },
    Refused(String),
    Panicked(String),
}

fn reopen(engine: Engine, dir: &Path) -> Reopen {
    let attempt = catch_unwind(AssertUnwindSafe(|| -> Result<(f64, Model)> {
        let started = Instant::now();
        let mut store = engine.open(dir)?;
        let open_ms = ms(started.elapsed());
        let mut found = Model::new();
        store.scan(&mut |key, value| {
            found.insert(key, value.to_vec());
        })?;
        Ok((open_ms, found))
    }));
    match attempt {
        Ok(Ok((open_ms, found))) => Reopen::Opened { open_ms, found },
        Ok(Err(e)) => Reopen::Refused(e.to_string()),
        Err(panic) => Reopen::Panicked(
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_default(),
        ),
    }
}

/// How the found records compare with the model.
fn compare(model: &Model, found: &Model) -> (usize, usize, usize) {
    let missing = model.keys().filter(|k| !found.contains_key(k)).count();
    let wrong = model
        .iter()
        .filter(|(k, v)| found.get(k).is_some_and(|f| f != *v))
        .count();
    let extra = found.keys().filter(|k| !model.contains_key(k)).count();
    (missing, wrong, extra)
}

/// The tally of one engine.
#[derive(Default)]
struct Tally {
    kills: usize,
    acked_batches: u64,
    opened: usize,
    in_flight_present: usize,
    inconsistent: Vec<String>,
    refused: Vec<String>,
    panicked: Vec<String>,
    open_ms: Vec<f64>,
}

fn spawn_child(engine: Engine, dir: &Path, round: u64, seed: u64) -> Result<std::process::Child> {
    Ok(Command::new(std::env::current_exe()?)
        .args([
            "crash-child",
            engine.name(),
            &dir.display().to_string(),
            &round.to_string(),
            &seed.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?)
}

/// One kill: starts the child, kills it once it has acknowledged a batch and
/// a random delay has passed, and returns how many batches it acknowledged.
fn kill_round(engine: Engine, dir: &Path, round: u64, seed: u64, rng: &mut Rng) -> Result<u64> {
    let mut child = spawn_child(engine, dir, round, seed)?;
    let stdout = child.stdout.take().ok_or("no child stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut last = 0u64;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            last = line.trim().parse().unwrap_or(last);
            let _ = tx.send(last);
        }
        last
    });
    let first = rx.recv_timeout(Duration::from_secs(60));
    if first.is_ok() {
        std::thread::sleep(Duration::from_millis(rng.between(10, 400) as u64));
    }
    child.kill()?;
    let status = child.wait()?;
    let acked = reader.join().map_err(|_| "reader panicked")?;
    if first.is_err() {
        let mut err = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            std::io::Read::read_to_string(&mut stderr, &mut err)?;
        }
        return Err(format!(
            "{}: the child acknowledged nothing ({status}): {err}",
            engine.name()
        )
        .into());
    }
    Ok(acked)
}

/// Kills, reopens and checks one engine `settings.kills` times. The files
/// as the last kill left them are copied to `crash_state` before reopening.
fn kill_test(
    engine: Engine,
    dir: &Path,
    crash_state: &Path,
    settings: &Settings,
    seed: u64,
) -> Result<(Tally, Model)> {
    let mut model = Model::new();
    {
        let mut store = engine.open(dir)?;
        for batch in TaskStream::preload(PRELOAD, 10_000, 5) {
            store.commit(&batch)?;
            apply(&mut model, &batch);
        }
    }
    let mut tally = Tally::default();
    let mut rng = Rng::new(seed);
    for round in 1..=settings.kills as u64 {
        let acked = kill_round(engine, dir, round, seed, &mut rng)?;
        tally.kills += 1;
        tally.acked_batches += acked;
        let mut script = Script::new(round, seed);
        let mut acked_state = model.clone();
        for _ in 0..acked {
            apply(&mut acked_state, &script.next_batch());
        }
        let mut in_flight_state = acked_state.clone();
        apply(&mut in_flight_state, &script.next_batch());
        if round == settings.kills as u64 {
            copy_dir(dir, crash_state)?;
        }
        match reopen(engine, dir) {
            Reopen::Opened { open_ms, found } => {
                tally.opened += 1;
                tally.open_ms.push(open_ms);
                if found == acked_state {
                    model = acked_state;
                } else if found == in_flight_state {
                    tally.in_flight_present += 1;
                    model = in_flight_state;
                } else {
                    let (missing, wrong, extra) = compare(&acked_state, &found);
                    tally.inconsistent.push(format!(
                        "kill {round}: {missing} acknowledged records missing, {wrong} differ, {extra} unexpected"
                    ));
                    model = found;
                }
            }
            Reopen::Refused(e) => {
                tally.refused.push(format!("kill {round}: {e}"));
                break;
            }
            Reopen::Panicked(e) => {
                tally.panicked.push(format!("kill {round}: {e}"));
                break;
            }
        }
    }
    Ok((tally, model))
}

/// Runs the lock test on the store in `dir`: what a second process gets.
fn lock_test(engine: Engine, dir: &Path) -> Result<String> {
    let _store = engine.open(dir)?;
    let out = Command::new(std::env::current_exe()?)
        .args(["lock-child", engine.name(), &dir.display().to_string()])
        .output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The most recently modified file under `dir`.
fn newest_file(dir: &Path) -> Option<PathBuf> {
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).ok()?.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.len() > 0
                && path.file_name().is_none_or(|n| n != "lock")
                && let Ok(modified) = meta.modified()
                && best.as_ref().is_none_or(|(t, _)| modified >= *t)
            {
                best = Some((modified, path));
            }
        }
    }
    best.map(|(_, p)| p)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)?.flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// What a torn-tail test does to the newest file.
#[derive(Clone, Copy, Debug)]
enum Damage {
    /// Cut this many bytes off its end.
    Cut(u64),
    /// Append this many random bytes.
    Garbage(usize),
}

/// Damages the newest file of a copy of `dir` (the files as a kill left
/// them) and reopens it, for each damage: cut 1, 100 and 5,000 bytes off the
/// end, or append 4 KiB of garbage. `model` is what the undamaged files hold.
fn torn_tail_test(engine: Engine, dir: &Path, model: &Model, rng: &mut Rng) -> Result<Vec<String>> {
    let mut outcomes = Vec::new();
    for damage in [
        Damage::Cut(1),
        Damage::Cut(100),
        Damage::Cut(5_000),
        Damage::Garbage(4096),
    ] {
        let copy = dir.with_extension("torn");
        copy_dir(dir, &copy)?;
        let Some(victim) = newest_file(&copy) else {
            continue;
        };
        let file = std::fs::OpenOptions::new().append(true).open(&victim)?;
        let len = file.metadata()?.len();
        match damage {
            Damage::Cut(bytes) => file.set_len(len.saturating_sub(bytes))?,
            Damage::Garbage(bytes) => {
                let garbage: Vec<u8> = (0..bytes).map(|_| rng.next_u64() as u8).collect();
                (&file).write_all(&garbage)?;
            }
        }
        drop(file);
        let name = victim
            .strip_prefix(&copy)
            .unwrap_or(&victim)
            .display()
            .to_string();
        let outcome = match reopen(engine, &copy) {
            Reopen::Opened { found, .. } => {
                let (missing, wrong, extra) = compare(model, &found);
                if missing + wrong + extra == 0 {
                    "opened, nothing lost".to_string()
                } else {
                    format!("opened, {missing} missing / {wrong} differ / {extra} unexpected")
                }
            }
            Reopen::Refused(e) => format!("refused: {}", e.chars().take(90).collect::<String>()),
            Reopen::Panicked(e) => format!("PANIC: {}", e.chars().take(90).collect::<String>()),
        };
        let damage = match damage {
            Damage::Cut(bytes) => format!("cut {bytes} B off"),
            Damage::Garbage(bytes) => format!("append {bytes} B of garbage to"),
        };
        outcomes.push(format!("{damage} `{name}` ({len} B): {outcome}"));
        std::fs::remove_dir_all(&copy)?;
    }
    Ok(outcomes)
}

/// Runs the workload and prints a table and the details.
///
/// # Errors
/// Failing to start or kill a child, or to set up a store.
pub fn run(root: &Path, settings: &Settings) -> Result<()> {
    println!(
        "\n### 5. Crash: SIGKILL while writing, then reopen ({} kills per store, {} tasks stored first)\n",
        settings.kills,
        crate::measure::thousands(PRELOAD as f64)
    );
    let mut details = Vec::new();
    println!(
        "| store | kills | reopened | acknowledged batches checked | in-flight batch found whole | inconsistent | refused | panicked | open after kill, ms | second process | torn tails opened |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut rng = Rng::new(99);
    for (i, &engine) in settings.engines.iter().enumerate() {
        let dir = root.join(format!("crash-{i}"));
        let crash_state = root.join(format!("crash-{i}-killed"));
        let (tally, model) = kill_test(engine, &dir, &crash_state, settings, 1_000 + i as u64)?;
        let lock = lock_test(engine, &dir)?;
        let torn = if tally.opened == tally.kills {
            torn_tail_test(engine, &crash_state, &model, &mut rng)?
        } else {
            Vec::new()
        };
        if crash_state.exists() {
            std::fs::remove_dir_all(&crash_state)?;
        }
        let torn_ok = torn.iter().filter(|t| t.contains(": opened")).count();
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {torn_ok} of {} |",
            engine.name(),
            tally.kills,
            tally.opened,
            tally.acked_batches,
            tally.in_flight_present,
            tally.inconsistent.len(),
            tally.refused.len(),
            tally.panicked.len(),
            Spread::of(&tally.open_ms).show(0),
            if lock == "opened" {
                "opened (not refused)".to_string()
            } else {
                lock.chars().take(60).collect()
            },
            torn.len()
        );
        details.push((engine, tally, torn));
        std::fs::remove_dir_all(&dir)?;
    }
    println!();
    for (engine, tally, torn) in details {
        for line in tally
            .inconsistent
            .iter()
            .chain(&tally.refused)
            .chain(&tally.panicked)
            .chain(&torn)
        {
            println!("- {}: {line}", engine.name());
        }
    }
    Ok(())
}
