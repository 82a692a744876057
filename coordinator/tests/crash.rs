//! Crash safety of the durable store, against the real binary: submitters
//! and honest workers run while the process is killed with SIGKILL at
//! random moments, again and again. After every restart, every task that
//! was acknowledged exists, every acknowledged result reads back byte for
//! byte, no id was given out twice and no completed result changed; at the
//! end every acknowledged task completes with the right product.
//!
//! `CRASH_ROUNDS` sets the number of kills (default 20).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::{Process, call};
use common::{scratch_dir, static_dir};
use serde_json::{Value, json};

/// Part ids count down from `i32::MAX`; client ids count up from 1.
const FIRST_PART_ID: u64 = i32::MAX as u64;

/// What the clients were told, shared by their threads.
#[derive(Default)]
struct Acknowledged {
    /// Task id to its data, for every `POST /task` answered 200.
    tasks: HashMap<u64, String>,
    /// Task id to its result, for every client task's result answered 200.
    results: HashMap<u64, String>,
    /// Every id `POST /task` answered, to find one given out twice.
    ids: Vec<u64>,
}

/// A small deterministic generator, so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A matrix pair: small ones run whole, larger ones are split into parts.
fn task_data(rng: &mut Rng) -> String {
    let n = if rng.below(4) == 0 {
        12
    } else {
        2 + rng.below(4) as usize
    };
    let mut matrix = |rows: usize, cols: usize| {
        let rows: Vec<Vec<i64>> = (0..rows)
            .map(|_| (0..cols).map(|_| rng.below(19) as i64 - 9).collect())
            .collect();
        serde_json::to_string(&rows).unwrap()
    };
    let (a, b) = (matrix(n, n + 1), matrix(n + 1, n));
    json!({ "A": a, "B": b }).to_string()
}

/// The product of a task's data, as honest workers compute it.
fn product(data: &str) -> String {
    let value: Value = serde_json::from_str(data).unwrap();
    kernel::multiply_text(value["A"].as_str().unwrap(), value["B"].as_str().unwrap()).unwrap()
}

/// Submits tasks until `stop`, recording what was acknowledged.
fn submitter(addr: SocketAddr, seed: u64, stop: Arc<AtomicBool>, acked: Arc<Mutex<Acknowledged>>) {
    let mut rng = Rng(seed | 1);
    while !stop.load(Ordering::Relaxed) {
        let data = task_data(&mut rng);
        let Ok((200, body)) = call(addr, "POST", "/task", data.as_bytes()) else {
            continue;
        };
        let id = serde_json::from_slice::<Value>(&body).unwrap()["taskId"]
            .as_u64()
            .unwrap();
        let mut acked = acked.lock().unwrap();
        acked.ids.push(id);
        acked.tasks.insert(id, data);
    }
}

/// Leases tasks and posts honest products until `stop`.
fn worker(
    addr: SocketAddr,
    name: String,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Acknowledged>>,
    done: Arc<AtomicU64>,
) {
    while !stop.load(Ordering::Relaxed) {
        let path = format!("/task/next?workerId={name}");
        let body = match call(addr, "GET", &path, b"") {
            Ok((200, body)) => body,
            Ok(_) => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(_) => continue,
        };
        let lease: Value = serde_json::from_slice(&body).unwrap();
        let id = lease["taskId"].as_u64().unwrap();
        let result = product(&lease["data"].to_string());
        let answer = json!({ "result": result }).to_string();
        let path = format!("/task/{id}/result?workerId={name}");
        if let Ok((200, _)) = call(addr, "POST", &path, answer.as_bytes()) {
            done.fetch_add(1, Ordering::Relaxed);
            // A part's result lives on in its split task's product.
            if id < FIRST_PART_ID / 2 {
                acked.lock().unwrap().results.insert(id, result);
            }
        }
    }
}

/// The report of task `id`, or why it could not be read.
fn report(addr: SocketAddr, id: u64) -> Result<Value, String> {
    match call(addr, "GET", &format!("/result/{id}"), b"") {
        Ok((200, body)) => Ok(serde_json::from_slice(&body).unwrap()),
        Ok((status, body)) => Err(format!("{status} {}", String::from_utf8_lossy(&body))),
        Err(e) => Err(e.to_string()),
    }
}

/// Checks what a restarted coordinator holds against what was acknowledged;
/// returns how many tasks and results it checked.
fn check(
    addr: SocketAddr,
    acked: &Acknowledged,
    seen: &mut HashMap<u64, String>,
    log: &str,
) -> (usize, usize) {
    let mut results = 0;
    for (&id, data) in &acked.tasks {
        let report = report(addr, id)
            .unwrap_or_else(|e| panic!("acknowledged task {id} is gone: {e}\n{log}"));
        let status = report["status"].as_str().unwrap();
        assert_ne!(status, "failed", "task {id}: {report}");
        if status == "completed" {
            let result = report["result"].as_str().unwrap().to_owned();
            assert_eq!(result, product(data), "task {id} has a wrong product");
            if let Some(earlier) = seen.insert(id, result.clone()) {
                assert_eq!(earlier, result, "the completed result of task {id} changed");
            }
        }
        if let Some(result) = acked.results.get(&id) {
            assert_eq!(
                status, "completed",
                "acknowledged result of task {id} lost: {report}"
            );
            assert_eq!(
                report["result"].as_str(),
                Some(result.as_str()),
                "task {id}"
            );
            results += 1;
        }
    }
    let unique: HashSet<u64> = acked.ids.iter().copied().collect();
    assert_eq!(
        unique.len(),
        acked.ids.len(),
        "an id was given out twice: {:?}",
        acked.ids
    );
    (acked.tasks.len(), results)
}

#[test]
fn acknowledged_tasks_and_results_survive_sigkill() {
    let rounds: usize = std::env::var("CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let data_dir = scratch_dir("crash");
    let web = static_dir();
    let data = data_dir.to_str().unwrap().to_owned();
    let args = [
        "--data-dir",
        &data,
        "--split-min-flops",
        "2000",
        "--max-parts",
        "3",
        "--lease-secs",
        "2",
    ];
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let done = Arc::new(AtomicU64::new(0));
    let mut seen = HashMap::new();
    let mut rng = Rng(0x5eed_c0de);
    let started = Instant::now();
    let mut killed_after = Vec::new();
    for round in 0..rounds {
        let process = Process::start(&args, &web).unwrap_or_else(|e| panic!("round {round}: {e}"));
        let addr = process.addr;
        {
            let acked = acked.lock().unwrap();
            let (tasks, results) = check(addr, &acked, &mut seen, &process.log_tail());
            if round > 0 {
                eprintln!(
                    "round {round}: after a kill, {tasks} acknowledged tasks and {results} results all there"
                );
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for k in 0..2 {
            let (stop, acked) = (Arc::clone(&stop), Arc::clone(&acked));
            let seed = rng.next() + k;
            threads.push(std::thread::spawn(move || {
                submitter(addr, seed, stop, acked)
            }));
        }
        for k in 0..3 {
            let (stop, acked, done) = (Arc::clone(&stop), Arc::clone(&acked), Arc::clone(&done));
            threads.push(std::thread::spawn(move || {
                worker(addr, format!("w{k}"), stop, acked, done)
            }));
        }
        let pause = Duration::from_millis(100 + rng.below(500));
        std::thread::sleep(pause);
        killed_after.push(pause.as_millis());
        process.kill();
        stop.store(true, Ordering::Relaxed);
        for thread in threads {
            thread.join().unwrap();
        }
    }

    // No more kills: the workers finish every acknowledged task.
    let process = Process::start(&args, &web).unwrap();
    let addr = process.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|k| {
            let (stop, acked, done) = (Arc::clone(&stop), Arc::clone(&acked), Arc::clone(&done));
            std::thread::spawn(move || worker(addr, format!("final{k}"), stop, acked, done))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    let ids: Vec<u64> = acked.lock().unwrap().tasks.keys().copied().collect();
    let mut open = ids.clone();
    while !open.is_empty() {
        assert!(
            Instant::now() < deadline,
            "tasks still open after 120 s: {open:?}\n{}",
            process.log_tail()
        );
        open.retain(|&id| report(addr, id).map_or(true, |r| r["status"] != "completed"));
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().unwrap();
    }
    let acked = acked.lock().unwrap();
    let (tasks, results) = check(addr, &acked, &mut seen, &process.log_tail());
    assert_eq!(seen.len(), tasks, "every acknowledged task completed");
    println!(
        "crash test: {rounds} SIGKILLs (after {killed_after:?} ms of load), {tasks} acknowledged tasks all completed with the right product, {results} acknowledged results read back byte for byte, {} ids all distinct, {} results posted in all, {:.1} s",
        acked.ids.len(),
        done.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    assert!(
        tasks > rounds,
        "the load acknowledged too few tasks to prove anything: {tasks}"
    );
}
