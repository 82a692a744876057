//! A full disk under the durable store, for real: the data directory is a
//! small tmpfs, filled up by a file beside it. A write that cannot be made
//! answers 503 with `Retry-After` and a JSON error and acknowledges
//! nothing; the server stays up; once the file is gone it takes writes
//! again, and what it acknowledged before, during and after is all there
//! after a restart.
//!
//! Mounting needs root, as the README's test command runs.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::process::{Process, call};
use common::{scratch_dir, static_dir};
use serde_json::Value;

/// A tmpfs of `megabytes` at `path`, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(path: &Path, megabytes: u32) -> Self {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(path)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "mounting a tmpfs at {} failed: this test needs root (the README's test command runs as root)",
            path.display()
        );
        Self(path.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Fills the filesystem of `dir` with a file until it is full.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let block = vec![7_u8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    let _ = file.sync_all();
}

fn submit(addr: SocketAddr, body: &str) -> (u16, Value) {
    let (status, body) = call(addr, "POST", "/task", body.as_bytes()).unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// The full answer of `POST /task`, headers included.
fn submit_raw(addr: SocketAddr, body: &str) -> String {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /task HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn a_full_disk_answers_503_and_the_store_recovers_when_space_returns() {
    let root = scratch_dir("full-disk");
    let _mount = Tmpfs::mount(&root, 96);
    let data = root.join("data");
    let filler = root.join("filler");
    let web = static_dir();
    let args = ["--data-dir", data.to_str().unwrap()];
    let process = Process::start(&args, &web).unwrap();
    let addr = process.addr;

    let mut acknowledged = Vec::new();
    for k in 0..5 {
        let (status, answer) = submit(addr, &format!("\"before {k}\""));
        assert_eq!(status, 200, "{answer}");
        acknowledged.push(answer["taskId"].as_u64().unwrap());
    }

    fill(&filler);
    // A task of a few MB cannot be written now.
    let large = format!("\"{}\"", "x".repeat(4 << 20));
    let answer = submit_raw(addr, &large);
    assert!(
        answer.starts_with("HTTP/1.1 503 "),
        "{}",
        &answer[..answer.len().min(400)]
    );
    assert!(
        answer.to_ascii_lowercase().contains("\r\nretry-after: "),
        "{answer}"
    );
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let error = body["error"].as_str().unwrap();
    assert!(error.starts_with("Could not store the request"), "{error}");
    let (status, _) = call(addr, "GET", "/health", b"").unwrap();
    assert_eq!(status, 200, "the server stays up");
    let (_, stats) = call(addr, "GET", "/stats", b"").unwrap();
    let stats: Value = serde_json::from_slice(&stats).unwrap();
    assert!(stats["store"]["failing"].is_string(), "{stats}");
    assert!(stats["store"]["writeFailures"].as_u64().unwrap() > 0);
    // The refused task is not there: it was not acknowledged.
    assert_eq!(stats["heldTasks"], 5, "{stats}");

    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        let (status, answer) = submit(addr, "\"after\"");
        if status == 200 {
            break answer["taskId"].as_u64().unwrap();
        }
        assert_eq!(status, 503, "{answer}");
        assert!(
            Instant::now() < deadline,
            "the store did not write again: {answer}\n{}",
            process.log_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    acknowledged.push(id);
    let (status, answer) = submit(addr, &large);
    assert_eq!(status, 200, "{answer}");
    acknowledged.push(answer["taskId"].as_u64().unwrap());
    process.kill();

    let process = Process::start(&args, &web).unwrap();
    for id in &acknowledged {
        let (status, body) = call(process.addr, "GET", &format!("/result/{id}"), b"").unwrap();
        assert_eq!(status, 200, "task {id}: {}", String::from_utf8_lossy(&body));
    }
    println!(
        "full disk: 503 while full, writes again {} tasks acknowledged and all kept",
        acknowledged.len()
    );
}
