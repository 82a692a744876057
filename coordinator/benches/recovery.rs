//! How long the coordinator takes to come back after a restart: a data
//! directory is filled through the library, then the real binary is started
//! on it and timed until it answers its first request.
//!
//! `cargo bench -p coordinator --bench recovery` (`RECOVERY_SIZES` chooses
//! the small-task counts, default `1000,100000,1000000`; `RECOVERY_LARGE`
//! the number of n = 2048 tasks, default 10). Each store is filled with a
//! mix like a running coordinator holds: a third pending, a third leased
//! (pending again after the restart), a third completed. The figure is the
//! median of three starts of the binary on the same directory.

#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use coordinator::{AppState, Asker, Caller, ClientKey, Config, WorkerId};

/// Small task data: a Dana-style 2 x 2 pair.
const SMALL: &[u8] = br#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#;
/// Requests in flight at once while filling.
const FILL_BATCH: usize = 1000;

fn matrix_text(n: usize, seed: u64) -> String {
    let mut state = seed | 1;
    let rows: Vec<String> = (0..n)
        .map(|_| {
            let values: Vec<String> = (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    ((state % 2001) as i64 - 1000).to_string()
                })
                .collect();
            format!("[{}]", values.join(","))
        })
        .collect();
    format!("[{}]", rows.join(","))
}

/// Fills `dir` with `count` tasks of `body`: a third pending, a third
/// leased, a third completed; returns the bytes of task data.
fn fill(dir: &Path, count: usize, body: &Bytes) -> u64 {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = Config {
            data_dir: Some(dir.to_path_buf()),
            max_tasks: 10_000_000,
            // The fill leases many tasks from one (unknown) address.
            max_leases_per_client: usize::MAX,
            max_held_bytes: usize::MAX,
            split_min_flops: None,
            ..Config::default()
        };
        let state = AppState::open(&config).unwrap();
        let mut start = 0;
        while start < count {
            let end = (start + FILL_BATCH).min(count);
            let mut batch = tokio::task::JoinSet::new();
            for _ in start..end {
                let (state, body) = (state.clone(), body.clone());
                batch.spawn(async move { state.submit(body).await.unwrap() });
            }
            while batch.join_next().await.is_some() {}
            start = end;
        }
        let worker = Asker {
            client: ClientKey::Unknown,
            worker: WorkerId::from_param(Some("fill")),
            tokened: false,
        };
        let mut leased = Vec::new();
        for _ in 0..count * 2 / 3 {
            leased.push(state.lease(&worker, Duration::ZERO).await.unwrap().id);
        }
        let mut batch = tokio::task::JoinSet::new();
        for id in leased.into_iter().take(count / 3) {
            let state = state.clone();
            batch.spawn(async move {
                let result = Bytes::from_static(br#"{"result":"[[19,22],[43,50]]"}"#);
                // A large task's product is not checked by this fill.
                let _ = state.answer(id, &Caller::anonymous(None), result).await;
            });
        }
        while batch.join_next().await.is_some() {}
        state.close();
    });
    (count * body.len()) as u64
}

/// Starts the binary on `dir` and times it until `/health` answers; also
/// returns the time the log gives for reading the store back.
fn start(dir: &Path) -> (Duration, String) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_coordinator"))
        .args([
            "0",
            "--bind",
            "127.0.0.1",
            "--max-tasks",
            "10000000",
            "--data-dir",
        ])
        .arg(dir)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut recovered = String::new();
    let port: u16 = loop {
        let line = lines.next().unwrap().unwrap();
        if line.contains("store recovered") {
            let field = |name: &str| {
                line.split(&format!(" {name}="))
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .unwrap_or("?")
                    .to_owned()
            };
            recovered = format!(
                "{} ({}+{}+{}+{})",
                field("ms"),
                field("open_ms"),
                field("scan_ms"),
                field("build_ms"),
                field("restore_ms")
            );
        }
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap();
            break addr.rsplit(':').next().unwrap().parse().unwrap();
        }
    };
    loop {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            stream
                .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            if stream.read_to_string(&mut answer).is_ok() && answer.starts_with("HTTP/1.1 200") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let took = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    (took, recovered)
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    let sizes: Vec<usize> = std::env::var("RECOVERY_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 100_000, 1_000_000]);
    let large: usize = std::env::var("RECOVERY_LARGE")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    let root = std::env::temp_dir().join(format!("coordinator-recovery-{}", std::process::id()));
    let pair = format!(
        r#"{{"A":"{}","B":"{}"}}"#,
        matrix_text(2048, 1),
        matrix_text(2048, 2)
    );
    let mut cases: Vec<(String, usize, Bytes)> = sizes
        .into_iter()
        .map(|n| (format!("{n} small tasks"), n, Bytes::from_static(SMALL)))
        .collect();
    if large > 0 {
        cases.push((
            format!("{large} tasks of n = 2048"),
            large,
            Bytes::from(pair),
        ));
    }
    println!("time from starting the binary to its first answer, on a data directory holding:");
    println!(
        "{:>24} {:>12} {:>12} {:>34} {:>16}",
        "tasks", "data MB", "disk MB", "recovery ms (open+scan+build+restore)", "first answer ms"
    );
    for (name, count, body) in cases {
        let dir = root.join(name.replace(' ', "-"));
        let _ = std::fs::remove_dir_all(&dir);
        let data = fill(&dir, count, &body);
        let mut runs: Vec<(Duration, String)> = (0..3).map(|_| start(&dir)).collect();
        runs.sort_by_key(|(took, _)| *took);
        let (took, recovered) = &runs[1];
        println!(
            "{name:>24} {:>12.1} {:>12.1} {recovered:>34} {:>16.0}",
            data as f64 / 1e6,
            dir_size(&dir) as f64 / 1e6,
            took.as_secs_f64() * 1e3
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = std::fs::remove_dir_all(&root);
}
