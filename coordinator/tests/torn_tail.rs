//! A torn tail, as a crash leaves one: the binary is killed with SIGKILL
//! under load, then the newest file of its store (the write-ahead log) is
//! cut short at several offsets. Every time the coordinator starts, keeps
//! what the cut left whole (each task's data exactly as it was sent) and
//! takes new tasks; it never refuses to start or panics.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::process::{Process, call};
use common::{scratch_dir, static_dir};
use serde_json::Value;

/// Every file under `dir`, newest last.
fn files_by_age(dir: &Path) -> Vec<(std::time::SystemTime, PathBuf)> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                folders.push(entry.path());
            } else if meta.len() > 0 {
                files.push((meta.modified().unwrap(), entry.path()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn a_torn_tail_is_recovered_up_to_the_last_good_record() {
    let web = static_dir();
    for cut in [1_u64, 17, 200, 4_000, 30_000] {
        let dir = scratch_dir("torn");
        let args = ["--data-dir", dir.to_str().unwrap()];
        let process = Process::start(&args, &web).unwrap();
        let mut sent = HashMap::new();
        for k in 0..60 {
            let data = format!("\"task {k} {}\"", "x".repeat(k * 31));
            let (status, body) = call(process.addr, "POST", "/task", data.as_bytes()).unwrap();
            assert_eq!(status, 200);
            let id = serde_json::from_slice::<Value>(&body).unwrap()["taskId"]
                .as_u64()
                .unwrap();
            sent.insert(id, data);
        }
        process.kill();
        let (_, newest) = files_by_age(&dir.join("engine")).pop().unwrap();
        let length = std::fs::metadata(&newest).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&newest)
            .unwrap()
            .set_len(length.saturating_sub(cut))
            .unwrap();

        let process = Process::start(&args, &web).unwrap_or_else(|e| {
            panic!(
                "refused to start after cutting {cut} bytes of {}: {e}",
                newest.display()
            )
        });
        let mut restored = 0;
        loop {
            let (status, body) =
                call(process.addr, "GET", "/task/next?workerId=check", b"").unwrap();
            if status == 204 {
                break;
            }
            let lease: Value = serde_json::from_slice(&body).unwrap();
            let id = lease["taskId"].as_u64().unwrap();
            assert_eq!(
                lease["data"].to_string(),
                sent[&id],
                "task {id} after cutting {cut} bytes"
            );
            restored += 1;
        }
        let (status, _) = call(process.addr, "POST", "/task", b"\"after the cut\"").unwrap();
        assert_eq!(status, 200, "{}", process.log_tail());
        let warned = process.log_tail().contains("did not close the store");
        assert!(
            warned,
            "no warning about the unclean stop:\n{}",
            process.log_tail()
        );
        println!(
            "cut {cut} of {length} bytes of {}: {restored} of {} tasks restored",
            newest.file_name().unwrap().to_string_lossy(),
            sent.len()
        );
    }
}
