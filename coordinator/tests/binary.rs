//! The `coordinator` binary: starts on port 0, says where it listens,
//! answers over a real socket, and exits cleanly on SIGTERM.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Reads log lines until one says `listening on http://ADDR:PORT`.
fn wait_for_port(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> u16 {
    for line in lines {
        let line = line.unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap();
            return addr.rsplit(':').next().unwrap().parse().unwrap();
        }
    }
    panic!("the coordinator exited without saying where it listens");
}

fn get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost:localhost\r\nconnection:close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[cfg(unix)]
#[test]
fn binary_serves_on_port_zero_and_stops_on_sigterm() {
    let web = common::static_dir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_coordinator"))
        .args([
            "0",
            "--bind",
            "127.0.0.1",
            "--lease-secs",
            "3",
            "--static-dir",
        ])
        .arg(&web)
        .arg("--data-dir")
        .arg(common::scratch_dir("binary-data"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = wait_for_port(&mut lines);

    let health = get(port, "/health");
    assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
    assert!(health.ends_with(r#"{"status":"ok","service":"coordinator"}"#));
    let page = get(port, "/");
    assert!(page.contains("content-type: text/html\r\n"), "{page}");
    assert!(page.contains("cross-origin-opener-policy: same-origin\r\n"));

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(rest.iter().any(|l| l.contains("shutting down")), "{rest:?}");
}

#[test]
fn help_documents_every_flag_with_its_default() {
    let output = Command::new(env!("CARGO_BIN_EXE_coordinator"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--bind",
        "--static-dir",
        "--data-dir",
        "--fsync",
        "--lease-secs",
        "--max-attempts",
        "--max-body-bytes",
        "--max-tasks",
        "--max-held-bytes",
        "--keep-finished-secs",
        "--max-wait-secs",
    ] {
        let line = help
            .lines()
            .skip_while(|l| !l.contains(flag))
            .take(2)
            .collect::<String>();
        assert!(
            line.contains("[default: "),
            "{flag} has no default in --help:\n{help}"
        );
    }
    assert!(help.contains("[default: 8080]"));
}

#[cfg(unix)]
#[test]
fn binary_warns_about_a_missing_static_folder_and_still_serves_the_api() {
    let missing = common::scratch_dir("missing").join("webserver");
    let mut child = Command::new(env!("CARGO_BIN_EXE_coordinator"))
        .args(["0", "--bind", "127.0.0.1", "--in-memory", "--static-dir"])
        .arg(&missing)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut before = Vec::new();
    let port = loop {
        let line = lines.next().unwrap().unwrap();
        if line.contains("listening on http://") {
            break wait_for_port(&mut std::iter::once(Ok(line)));
        }
        before.push(line);
    };
    let warning = before.iter().find(|l| l.contains("does not exist"));
    let warning = warning.unwrap_or_else(|| panic!("no warning in {before:?}"));
    assert!(warning.contains(missing.to_str().unwrap()), "{warning}");
    assert!(get(port, "/health").starts_with("HTTP/1.1 200 OK"));
    child.kill().unwrap();
    child.wait().unwrap();
}
