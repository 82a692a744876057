//! Hostile clients against the task rules, with the real binary: fake
//! workers, strangers answering and giving back others' tasks, a liar among
//! replicas, a flood of tiny tasks (memory), an oversized result. Each case
//! is bounded in time; the suite prints a table of outcomes.
//!
//! Clients on different addresses connect from different loopback
//! addresses (127.0.0.2, 127.0.0.3, ...), which Linux routes like 127.0.0.1.

mod common;

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::time::{Duration, Instant};

use common::process::Process;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A 2x2 product, as a Dana main app submits it (42 bytes), and its product.
const TASK: &str = r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#;
const PRODUCT: &str = "[[19,22],[43,50]]";
const WRONG: &str = "[[19,22],[43,51]]";

/// Loopback address `127.0.0.N`.
fn from(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, n)
}

/// A keep-alive connection from one loopback address.
struct Conn(TcpStream);

impl Conn {
    async fn open(n: u8, addr: SocketAddr) -> io::Result<Self> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((from(n), 0)))?;
        let stream = socket.connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self(stream))
    }

    /// Writes `requests` as they are (several may be pipelined).
    async fn send(&mut self, requests: &[u8]) -> io::Result<()> {
        self.0.write_all(requests).await
    }

    /// Reads one answer: status and body (`content-length` framed).
    async fn answer(&mut self, buffer: &mut Vec<u8>) -> io::Result<(u16, Vec<u8>)> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
                let status = head
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| io::Error::other(format!("bad head {head:?}")))?;
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if buffer.len() >= end + 4 + length {
                    let body = buffer[end + 4..end + 4 + length].to_vec();
                    buffer.drain(..end + 4 + length);
                    return Ok((status, body));
                }
            }
            let n = self.0.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed"));
            }
            buffer.extend_from_slice(&chunk[..n]);
        }
    }

    /// One request and its answer.
    async fn call(&mut self, method: &str, path: &str, body: &str) -> io::Result<(u16, Value)> {
        self.send(&request(method, path, body)).await?;
        let (status, body) = self.answer(&mut Vec::new()).await?;
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Ok((status, json))
    }
}

/// A request as the Dana client writes it.
fn request(method: &str, path: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nhost:localhost\r\ncontent-length:{}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// One request on a fresh connection from `127.0.0.N`.
async fn call(
    n: u8,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> Result<(u16, Value), String> {
    let mut conn = Conn::open(n, addr).await.map_err(|e| e.to_string())?;
    conn.call(method, path, body)
        .await
        .map_err(|e| e.to_string())
}

/// `{"result":TEXT}`.
fn result(text: &str) -> String {
    serde_json::json!({ "result": text }).to_string()
}

fn start(args: &[&str]) -> Process {
    let mut all = vec!["--in-memory"];
    all.extend_from_slice(args);
    Process::start(&all, &common::static_dir()).expect("the coordinator starts")
}

/// Fails with `what` unless `condition` holds.
fn ensure(condition: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(what()) }
}

/// Case: seven fake workers, each a fresh worker id at one address, lease a
/// task and post a wrong product: the task stays pending, never failed, and
/// an honest worker elsewhere then completes it.
async fn seven_fake_workers_cannot_fail_a_task() -> Result<String, String> {
    let server = start(&["--max-attempts", "5"]);
    let addr = server.addr;
    let (status, created) = call(1, addr, "POST", "/task", TASK).await?;
    ensure(status == 200, || format!("submit answered {status}"))?;
    let id = created["taskId"].as_u64().unwrap_or(0);
    let mut rejected = 0;
    for fake in 0..7 {
        let (status, lease) = call(
            2,
            addr,
            "GET",
            &format!("/task/next?workerId=fake-{fake}"),
            "",
        )
        .await?;
        ensure(status == 200 && lease["taskId"] == id, || {
            format!("fake {fake} was not handed the task: {status} {lease}")
        })?;
        let (status, _) = call(
            2,
            addr,
            "POST",
            &format!("/task/{id}/result?workerId=fake-{fake}"),
            &result(WRONG),
        )
        .await?;
        ensure(status == 422, || {
            format!("fake {fake}'s wrong product answered {status}")
        })?;
        rejected += 1;
    }
    let (_, view) = call(1, addr, "GET", &format!("/result/{id}"), "").await?;
    ensure(view["status"] == "pending", || {
        format!("after the fakes: {view}")
    })?;
    let attempts = view["attempts"].as_u64().unwrap_or(99);
    let (status, _) = call(3, addr, "GET", "/task/next?workerId=honest", "").await?;
    ensure(status == 200, || format!("the honest worker got {status}"))?;
    let (status, done) = call(
        3,
        addr,
        "POST",
        &format!("/task/{id}/result?workerId=honest"),
        &result(PRODUCT),
    )
    .await?;
    ensure(status == 200 && done["status"] == "completed", || {
        format!("honest result: {status} {done}")
    })?;
    let (_, stats) = call(1, addr, "GET", "/stats", "").await?;
    ensure(stats["failedTasks"] == 0, || {
        format!("failed tasks: {}", stats["failedTasks"])
    })?;
    Ok(format!(
        "{rejected} wrong products refused (422); task stayed pending with {attempts} attempts counted, never failed; the honest worker's product completed it"
    ))
}

/// Case: a stranger (another address) answers and gives back a task leased
/// with a token, with and without a token, in the holder's name: refused
/// (409), changing nothing; the holder's release and result are taken.
async fn strangers_cannot_answer_or_release_anothers_task() -> Result<String, String> {
    let server = start(&[]);
    let addr = server.addr;
    // A task nothing can check: the case where a stranger's answer would
    // otherwise have been final.
    let (_, created) = call(1, addr, "POST", "/task", r#"{"job":"count words"}"#).await?;
    let id = created["taskId"].as_u64().unwrap_or(0);
    let (status, lease) = call(2, addr, "GET", "/task/next?workerId=holder&token=1", "").await?;
    let token = lease["leaseToken"].as_str().unwrap_or_default().to_owned();
    ensure(status == 200 && !token.is_empty(), || {
        format!("lease: {status} {lease}")
    })?;
    let (_, view) = call(3, addr, "GET", &format!("/result/{id}"), "").await?;
    let shown = view["workerId"].as_str().unwrap_or_default().to_owned();
    let forged = format!("1-{}", "0".repeat(32));
    let attempts: [(&str, String, &str); 5] = [
        (
            "result, no token",
            format!("/task/{id}/result?workerId={shown}"),
            "lie",
        ),
        (
            "result, forged token",
            format!("/task/{id}/result?workerId={shown}&leaseToken={forged}"),
            "lie",
        ),
        (
            "result, another task's token",
            format!("/task/{}/result?leaseToken={token}", id + 1),
            "lie",
        ),
        (
            "release, no token",
            format!("/task/{id}/release?workerId={shown}"),
            "",
        ),
        (
            "release, forged token",
            format!("/task/{id}/release?workerId={shown}&leaseToken={forged}"),
            "",
        ),
    ];
    let mut refused = Vec::new();
    for (what, path, answer) in &attempts {
        let body = if answer.is_empty() {
            String::new()
        } else {
            result(answer)
        };
        let (status, _) = call(3, addr, "POST", path, &body).await?;
        ensure(matches!(status, 404 | 409), || {
            format!("stranger's {what}: {status}")
        })?;
        refused.push(status);
    }
    let (_, view) = call(1, addr, "GET", &format!("/result/{id}"), "").await?;
    ensure(
        view["status"] == "processing" && view["attempts"] == 1,
        || format!("after the stranger: {view}"),
    )?;
    // The holder gives it back with its token, takes it again, answers.
    let (status, _) = call(
        2,
        addr,
        "POST",
        &format!("/task/{id}/release?workerId=holder&leaseToken={token}"),
        "",
    )
    .await?;
    ensure(status == 200, || format!("holder's release: {status}"))?;
    tokio::time::sleep(coordinator::RELEASE_PAUSE).await;
    let (_, lease) = call(2, addr, "GET", "/task/next?workerId=holder&token=1", "").await?;
    let token = lease["leaseToken"].as_str().unwrap_or_default().to_owned();
    let (status, done) = call(
        2,
        addr,
        "POST",
        &format!("/task/{id}/result?workerId=holder&leaseToken={token}"),
        &result("42 words"),
    )
    .await?;
    ensure(status == 200 && done["result"] == "42 words", || {
        format!("holder's result: {status} {done}")
    })?;
    // A Dana worker (no token) that holds a lease is still taken.
    let (_, created) = call(1, addr, "POST", "/task", r#"{"job":"dana"}"#).await?;
    let dana = created["taskId"].as_u64().unwrap_or(0);
    call(4, addr, "GET", "/task/next?workerId=dana", "").await?;
    let (status, _) = call(
        3,
        addr,
        "POST",
        &format!("/task/{dana}/result"),
        &result("stranger"),
    )
    .await?;
    ensure(status == 409, || {
        format!("a stranger's answer for the Dana worker's task: {status}")
    })?;
    let (status, done) = call(
        4,
        addr,
        "POST",
        &format!("/task/{dana}/result"),
        &result("dana"),
    )
    .await?;
    ensure(status == 200 && done["result"] == "dana", || {
        format!("Dana worker's result: {status} {done}")
    })?;
    Ok(format!(
        "stranger's 3 results and 2 releases refused ({refused:?}), attempts unchanged; holder's release and result taken; a tokenless Dana holder's result taken, a stranger's refused"
    ))
}

/// Case: `--replicas 3 --quorum 2`, a task nothing can check, one liar
/// among three workers on distinct addresses: completed with the honest
/// answer.
async fn a_quorum_outvotes_a_liar() -> Result<String, String> {
    let server = start(&["--replicas", "3", "--quorum", "2"]);
    let addr = server.addr;
    let (_, created) = call(1, addr, "POST", "/task", r#""tally the votes""#).await?;
    let id = created["taskId"].as_u64().unwrap_or(0);
    for (n, name) in [(2, "liar"), (3, "honest-a"), (4, "honest-b")] {
        let (status, lease) =
            call(n, addr, "GET", &format!("/task/next?workerId={name}"), "").await?;
        ensure(status == 200 && lease["taskId"] == id, || {
            format!("{name} was not handed a replica: {status} {lease}")
        })?;
    }
    let (status, _) = call(5, addr, "GET", "/task/next?workerId=fourth", "").await?;
    ensure(status == 204, || {
        format!("a fourth replica was handed out: {status}")
    })?;
    let mut seen = Vec::new();
    for (n, name, answer) in [
        (2, "liar", "lie"),
        (3, "honest-a", "truth"),
        (4, "honest-b", "truth"),
    ] {
        let (status, view) = call(
            n,
            addr,
            "POST",
            &format!("/task/{id}/result?workerId={name}"),
            &result(answer),
        )
        .await?;
        ensure(status == 200, || {
            format!("{name}'s answer: {status} {view}")
        })?;
        seen.push(view["status"].as_str().unwrap_or("?").to_owned());
    }
    let (_, view) = call(1, addr, "GET", &format!("/result/{id}"), "").await?;
    ensure(
        view["status"] == "completed" && view["result"] == "truth",
        || format!("final: {view}"),
    )?;
    Ok(format!(
        "answers lie, truth, truth left the task {seen:?}; completed with \"truth\""
    ))
}

/// Resident memory of process `pid`, in bytes.
fn rss_bytes(pid: u32) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or("no VmRSS")?;
    Ok(kib * 1024)
}

/// How many tiny tasks the memory case submits.
const FLOOD_TASKS: usize = 300_000;

/// Case: 300,000 tiny tasks (the 42-byte pair) over keep-alive connections:
/// the resident memory they add stays within twice what `heldBytes` says
/// they hold (their text and each task's fixed overhead).
async fn tiny_tasks_cost_what_held_bytes_says() -> Result<String, String> {
    let server = start(&["--max-tasks", "400000"]);
    let addr = server.addr;
    let stats = |v: &Value| {
        (
            v["heldBytes"].as_u64().unwrap_or(0),
            v["heldTasks"].as_u64().unwrap_or(0),
        )
    };
    // Warm up (the first requests grow the runtime's buffers), then measure.
    let (_, before) = call(1, addr, "GET", "/stats", "").await?;
    let rss_before = rss_bytes(server.pid())?;
    let (held_before, _) = stats(&before);
    const CONNECTIONS: usize = 4;
    const PIPELINE: usize = 64;
    let mut clients = Vec::new();
    for c in 0..CONNECTIONS {
        clients.push(tokio::spawn(async move {
            let mut conn = Conn::open(1, addr).await?;
            let batch = request("POST", "/task", TASK).repeat(PIPELINE);
            let mut buffer = Vec::new();
            let mut sent = c * FLOOD_TASKS / CONNECTIONS;
            let end = (c + 1) * FLOOD_TASKS / CONNECTIONS;
            while sent < end {
                let n = PIPELINE.min(end - sent);
                conn.send(&batch[..batch.len() / PIPELINE * n]).await?;
                for _ in 0..n {
                    let (status, _) = conn.answer(&mut buffer).await?;
                    if status != 200 {
                        return Err(io::Error::other(format!("submission answered {status}")));
                    }
                }
                sent += n;
            }
            Ok::<_, io::Error>(())
        }));
    }
    for client in clients {
        client
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    }
    let (_, after) = call(1, addr, "GET", "/stats", "").await?;
    let rss_after = rss_bytes(server.pid())?;
    let (held_after, tasks) = stats(&after);
    ensure(tasks == FLOOD_TASKS as u64, || {
        format!("{tasks} tasks held")
    })?;
    let held = held_after - held_before;
    let rss = rss_after.saturating_sub(rss_before);
    let per = |bytes: u64| bytes as f64 / FLOOD_TASKS as f64;
    let line = format!(
        "{FLOOD_TASKS} tasks of {} B: RSS +{:.1} MB ({:.0} B/task), heldBytes +{:.1} MB ({:.0} B/task: {} B of text + {} B overhead); RSS/heldBytes {:.2}",
        TASK.len(),
        rss as f64 / 1e6,
        per(rss),
        held as f64 / 1e6,
        per(held),
        TASK.len(),
        coordinator::TASK_OVERHEAD_BYTES,
        rss as f64 / held as f64,
    );
    ensure(rss <= 2 * held, || format!("over 2x: {line}"))?;
    Ok(line)
}

/// Case: a result larger than the product's shape allows, and one larger
/// than every byte the coordinator may hold: refused with 413, the task
/// untouched, the right result then taken.
async fn over_limit_results_are_refused_with_413() -> Result<String, String> {
    let server = start(&["--max-held-bytes", "100000"]);
    let addr = server.addr;
    let (_, created) = call(1, addr, "POST", "/task", TASK).await?;
    let id = created["taskId"].as_u64().unwrap_or(0);
    call(2, addr, "GET", "/task/next?workerId=w", "").await?;
    let huge = format!("[[{}]]", vec!["1"; 20_000].join(","));
    let (status, error) = call(
        2,
        addr,
        "POST",
        &format!("/task/{id}/result?workerId=w"),
        &result(&huge),
    )
    .await?;
    ensure(status == 413, || {
        format!(
            "a {}-byte result for a 2x2 product: {status} {error}",
            huge.len()
        )
    })?;
    let shape_error = error["error"].as_str().unwrap_or_default().to_owned();
    let (_, view) = call(1, addr, "GET", &format!("/result/{id}"), "").await?;
    ensure(view["status"] == "processing", || {
        format!("after the 413: {view}")
    })?;
    let (status, _) = call(
        2,
        addr,
        "POST",
        &format!("/task/{id}/result?workerId=w"),
        &result(PRODUCT),
    )
    .await?;
    ensure(status == 200, || format!("the right product: {status}"))?;
    // A task nothing can check, answered with more than the coordinator holds.
    let (_, created) = call(1, addr, "POST", "/task", r#""any""#).await?;
    let other = created["taskId"].as_u64().unwrap_or(0);
    call(3, addr, "GET", "/task/next?workerId=v", "").await?;
    let (status, held) = call(
        3,
        addr,
        "POST",
        &format!("/task/{other}/result?workerId=v"),
        &result(&"x".repeat(150_000)),
    )
    .await?;
    ensure(status == 413, || {
        format!("a 150 kB result with --max-held-bytes 100000: {status} {held}")
    })?;
    Ok(format!(
        "{} B result for a 2x2 product: 413 \"{shape_error}\"; 150 kB result over --max-held-bytes: 413",
        huge.len()
    ))
}

type Case = Pin<Box<dyn Future<Output = Result<String, String>>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_domain_suite() {
    let cases: Vec<(&str, Duration, Case)> = vec![
        (
            "seven fake workers",
            Duration::from_secs(60),
            Box::pin(seven_fake_workers_cannot_fail_a_task()),
        ),
        (
            "a stranger's result and release",
            Duration::from_secs(60),
            Box::pin(strangers_cannot_answer_or_release_anothers_task()),
        ),
        (
            "--replicas 3 --quorum 2 against a liar",
            Duration::from_secs(60),
            Box::pin(a_quorum_outvotes_a_liar()),
        ),
        (
            "300,000 tiny tasks: memory",
            Duration::from_secs(300),
            Box::pin(tiny_tasks_cost_what_held_bytes_says()),
        ),
        (
            "over-limit results",
            Duration::from_secs(60),
            Box::pin(over_limit_results_are_refused_with_413()),
        ),
    ];
    let mut rows = Vec::new();
    for (name, limit, case) in cases {
        let started = Instant::now();
        let outcome = match tokio::time::timeout(limit, case).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("did not finish within {limit:?}")),
        };
        rows.push((name, outcome, started.elapsed()));
    }
    let mut table = String::from("\n| case | outcome | time |\n|---|---|---|\n");
    for (name, outcome, took) in &rows {
        let outcome = match outcome {
            Ok(text) => format!("ok: {text}"),
            Err(text) => format!("FAILED: {text}"),
        };
        table.push_str(&format!("| {name} | {outcome} | {took:.1?} |\n"));
    }
    eprintln!("{table}");
    assert!(
        rows.iter().all(|(_, outcome, _)| outcome.is_ok()),
        "{table}"
    );
}
