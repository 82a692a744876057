//! Hostile clients at the HTTP edge, against the real binary over real
//! sockets: stalled uploads, an over-limit declared body, a flood from
//! another address, malformed requests, idle sockets, and SIGTERM with an
//! upload stalled. Other hosts are other loopback addresses (127.0.0.2 and
//! up), which a client socket can bind.
//!
//! One test runs every case in turn, each bounded in time, and prints a
//! table of case, outcome and time (`cargo test -p coordinator --test
//! hostile_edge -- --nocapture` shows it); it fails if any case failed.

#![allow(clippy::unwrap_used)]

mod common;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::CONTRACT_HEADERS;
use common::process::Process;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The victim's address; attackers use 127.0.0.2 and up.
const VICTIM: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
/// A small task, as a Dana main app submits it (31 bytes; matrices that
/// multiply, since a pair that does not is refused with 400).
const TASK: &str = r#"{"A":"[[1,2]]","B":"[[3],[4]]"}"#;

/// A connection from `from` to `addr`.
async fn connect_from(from: Ipv4Addr, addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// One answer read off a connection.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }

    /// Why this is not a 4xx JSON error with the contract's headers, if it
    /// is not one.
    fn contract_error_problem(&self) -> Option<String> {
        if !(400..500).contains(&self.status) {
            return Some(format!("status {}", self.status));
        }
        if self.header("content-type") != Some("application/json") {
            return Some(format!("content-type {:?}", self.header("content-type")));
        }
        for (name, value) in CONTRACT_HEADERS {
            if self.header(name) != Some(value) {
                return Some(format!("header {name}: {:?}", self.header(name)));
            }
        }
        match serde_json::from_slice::<serde_json::Value>(&self.body) {
            Ok(json) if json["error"].as_str().is_some_and(|e| !e.is_empty()) => None,
            _ => Some(format!("body {:?}", String::from_utf8_lossy(&self.body))),
        }
    }
}

/// Reads one answer (head, then a `content-length` body).
async fn read_answer(stream: &mut TcpStream) -> io::Result<Answer> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "closed before a whole head: {:?}",
                    String::from_utf8_lossy(&bytes)
                ),
            ));
        }
        bytes.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line: {head:?}")))?;
    let mut answer = Answer {
        status,
        head,
        body: bytes[head_end + 4..].to_vec(),
    };
    let length: usize = answer
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while answer.body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::other("answer cut short"));
        }
        answer.body.extend_from_slice(&chunk[..n]);
    }
    answer.body.truncate(length);
    Ok(answer)
}

/// A request with a body, as the Dana client writes it.
fn post(path: &str, body: &str, close: bool) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nhost:localhost\r\ncontent-length:{}\r\n{}\r\n{body}",
        body.len(),
        if close { "connection:close\r\n" } else { "" }
    )
    .into_bytes()
}

/// Sends `request` on a fresh connection from `from` and reads the answer.
async fn call_from(from: Ipv4Addr, addr: SocketAddr, request: &[u8]) -> io::Result<Answer> {
    let mut stream = connect_from(from, addr).await?;
    stream.write_all(request).await?;
    read_answer(&mut stream).await
}

fn start(args: &[&str]) -> Process {
    start_under(&[], args)
}

fn start_under(wrapper: &[&str], args: &[&str]) -> Process {
    let mut all = vec!["--in-memory"];
    all.extend_from_slice(args);
    Process::start_under(wrapper, &all, &common::static_dir()).unwrap()
}

/// Case: eight uploads that declare 64 MiB (or chunked) and send one byte,
/// then another client's submission and result.
async fn stalled_uploads_do_not_block_others() -> Result<String, String> {
    let server = start(&[]);
    let mut stalled = Vec::new();
    for i in 0..8 {
        let mut stream = connect_from(Ipv4Addr::new(127, 0, 0, 2), server.addr)
            .await
            .map_err(|e| e.to_string())?;
        let head = if i % 2 == 0 {
            "POST /task HTTP/1.1\r\nhost:x\r\ncontent-length:67108864\r\n\r\n{"
        } else {
            "POST /task/1/result HTTP/1.1\r\nhost:x\r\ntransfer-encoding:chunked\r\n\r\n1\r\n{"
        };
        stream
            .write_all(head.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        stalled.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut worst = Duration::ZERO;
    let requests = [
        post("/task", TASK, true),
        b"GET /task/next?workerId=honest HTTP/1.1\r\nhost:x\r\nconnection:close\r\n\r\n".to_vec(),
        post(
            "/task/1/result?workerId=honest",
            r#"{"result":"[[11]]"}"#,
            true,
        ),
    ];
    for request in &requests {
        let started = Instant::now();
        let answer = tokio::time::timeout(
            Duration::from_secs(1),
            call_from(VICTIM, server.addr, request),
        )
        .await
        .map_err(|_| {
            format!(
                "not answered within 1 s: {}",
                String::from_utf8_lossy(request)
            )
        })?
        .map_err(|e| e.to_string())?;
        if answer.status != 200 {
            return Err(format!("answered {}: {:?}", answer.status, answer.body));
        }
        worst = worst.max(started.elapsed());
    }
    drop(stalled);
    Ok(format!(
        "8 stalled uploads held; submit, lease and result answered, slowest {worst:.1?}"
    ))
}

/// Case: a declared body over the limit, with `Expect: 100-continue`.
async fn over_limit_body_is_refused_before_continue() -> Result<String, String> {
    let server = start(&[]);
    let mut stream = connect_from(VICTIM, server.addr)
        .await
        .map_err(|e| e.to_string())?;
    stream
        .write_all(
            b"POST /task HTTP/1.1\r\nhost:x\r\ncontent-length:67108865\r\nexpect:100-continue\r\n\r\n",
        )
        .await
        .map_err(|e| e.to_string())?;
    let answer = tokio::time::timeout(Duration::from_secs(2), read_answer(&mut stream))
        .await
        .map_err(|_| "no answer within 2 s".to_owned())?
        .map_err(|e| e.to_string())?;
    if answer.status == 100 {
        return Err("sent 100 Continue for an over-limit body".to_owned());
    }
    if answer.status != 413 {
        return Err(format!("answered {}", answer.status));
    }
    if let Some(problem) = answer.contract_error_problem() {
        return Err(problem);
    }
    Ok(format!(
        "413 {} without 100 Continue",
        String::from_utf8_lossy(&answer.body)
    ))
}

/// Case: 32 connections from 127.0.0.2 submit as fast as they can while
/// the victim submits about 100 tasks a second; its p99 must stay under
/// 20 ms with the rate limit on.
async fn a_flood_from_one_address_leaves_others_fast() -> Result<String, String> {
    const SUBMISSIONS: usize = 300;
    let server = start(&["--rate-limit-per-sec", "200", "--rate-limit-burst", "50"]);
    let addr = server.addr;
    let mut quiet = tokio::task::spawn_blocking(move || victim_submits(addr, 100))
        .await
        .map_err(|e| e.to_string())??;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut flooders = Vec::new();
    for _ in 0..32 {
        let stop = std::sync::Arc::clone(&stop);
        flooders.push(tokio::spawn(async move {
            let (mut answered, mut limited) = (0u64, 0u64);
            let Ok(mut stream) = connect_from(Ipv4Addr::new(127, 0, 0, 2), addr).await else {
                return (answered, limited);
            };
            let request = post("/task", TASK, false);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if stream.write_all(&request).await.is_err() {
                    break;
                }
                match read_answer(&mut stream).await {
                    Ok(answer) if answer.status == 429 => limited += 1,
                    Ok(_) => answered += 1,
                    Err(_) => break,
                }
            }
            (answered, limited)
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The victim runs on its own thread with blocking sockets, so that the
    // flood's tasks in this process do not delay its clock readings.
    let latencies = tokio::task::spawn_blocking(move || victim_submits(addr, SUBMISSIONS))
        .await
        .map_err(|e| e.to_string())?;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut answered, mut limited) = (0, 0);
    for flooder in flooders {
        if let Ok(Ok((a, l))) = tokio::time::timeout(Duration::from_secs(3), flooder).await {
            answered += a;
            limited += l;
        }
    }
    let mut latencies = latencies?;
    let (p50, p99, max) = percentiles(&mut latencies);
    let (quiet_p50, quiet_p99, _) = percentiles(&mut quiet);
    let summary = format!(
        "victim p50 {p50:.1?} p99 {p99:.1?} max {max:.1?} (without the flood: p50 {quiet_p50:.1?} p99 {quiet_p99:.1?}); flood: {answered} accepted, {limited} answered 429"
    );
    if p99 >= Duration::from_millis(20) {
        return Err(summary);
    }
    Ok(summary)
}

/// The median, 99th percentile and largest of `latencies`.
fn percentiles(latencies: &mut [Duration]) -> (Duration, Duration, Duration) {
    latencies.sort();
    let at = |q: usize| latencies[(latencies.len() * q / 100).min(latencies.len() - 1)];
    (at(50), at(99), at(100))
}

/// The victim: `count` submissions, about a hundred a second, on one keep-alive
/// connection from [`VICTIM`] with blocking sockets; each one's latency.
fn victim_submits(addr: SocketAddr, count: usize) -> Result<Vec<Duration>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let stream = runtime
        .block_on(connect_from(VICTIM, addr))
        .map_err(|e| e.to_string())?
        .into_std()
        .map_err(|e| e.to_string())?;
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let mut stream = std::io::BufReader::new(stream);
    let request = post("/task", TASK, false);
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        std::io::Write::write_all(stream.get_mut(), &request).map_err(|e| e.to_string())?;
        let status = read_blocking_answer(&mut stream)?;
        latencies.push(started.elapsed());
        if status != 200 {
            return Err(format!("the victim's submission answered {status}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(latencies)
}

/// Reads one answer with a `content-length` body off a blocking stream; its
/// status.
fn read_blocking_answer(stream: &mut impl std::io::BufRead) -> Result<u16, String> {
    let mut line = String::new();
    stream.read_line(&mut line).map_err(|e| e.to_string())?;
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {line:?}"))?;
    let mut length = 0;
    loop {
        line.clear();
        stream.read_line(&mut line).map_err(|e| e.to_string())?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().map_err(|_| "bad content-length")?;
        }
    }
    let mut body = vec![0; length];
    std::io::Read::read_exact(stream, &mut body).map_err(|e| e.to_string())?;
    Ok(status)
}

/// The malformed requests: a name and the raw bytes. `true` when the
/// client closes its side after sending.
fn malformed_requests() -> Vec<(&'static str, Vec<u8>, bool)> {
    let mut random = Vec::with_capacity(256);
    let mut x: u32 = 0x2545_f491;
    for _ in 0..256 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        random.push(x as u8);
    }
    let many_headers = {
        let mut head = b"GET /health HTTP/1.1\r\nhost:x\r\n".to_vec();
        for i in 0..150 {
            head.extend_from_slice(format!("x-h{i}: {i}\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        head
    };
    let huge_header = format!(
        "GET /health HTTP/1.1\r\nhost:x\r\nx-big: {}\r\n\r\n",
        "a".repeat(70 * 1024)
    )
    .into_bytes();
    let long_target =
        format!("GET /{} HTTP/1.1\r\nhost:x\r\n\r\n", "a".repeat(66_000)).into_bytes();
    vec![
        ("random bytes", random, true),
        ("random bytes, then a blank line", {
            let mut r = b"\x8f\x01\xfe\x7f garbage \x00\x13".to_vec();
            r.extend_from_slice(b"\r\n\r\n");
            r
        }, false),
        ("0xff in the path", b"GET /\xff\xfe HTTP/1.1\r\nhost:x\r\n\r\n".to_vec(), false),
        ("negative content-length", b"POST /task HTTP/1.1\r\nhost:x\r\ncontent-length: -1\r\n\r\n".to_vec(), false),
        ("content-length not a number", b"POST /task HTTP/1.1\r\nhost:x\r\ncontent-length: 12abc\r\n\r\n".to_vec(), false),
        ("content-length overflowing u64", b"POST /task HTTP/1.1\r\nhost:x\r\ncontent-length: 99999999999999999999999\r\n\r\n".to_vec(), false),
        ("two differing content-lengths", b"POST /task HTTP/1.1\r\nhost:x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nx".to_vec(), false),
        ("HTTP/0.9 request line", b"GET /health\r\n".to_vec(), false),
        ("HTTP/2.0 request line", b"GET /health HTTP/2.0\r\nhost:x\r\n\r\n".to_vec(), false),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(), false),
        ("lower-case version", b"GET /health http/1.1\r\nhost:x\r\n\r\n".to_vec(), false),
        ("bad method token", b"G(T /health HTTP/1.1\r\nhost:x\r\n\r\n".to_vec(), false),
        ("header line without a colon", b"GET /health HTTP/1.1\r\nhost x\r\n\r\n".to_vec(), false),
        ("space before the colon", b"GET /health HTTP/1.1\r\nhost :x\r\n\r\n".to_vec(), false),
        ("NUL in a header value", b"GET /health HTTP/1.1\r\nhost:x\r\nx-a: a\x00b\r\n\r\n".to_vec(), false),
        ("empty header name", b"GET /health HTTP/1.1\r\n: x\r\n\r\n".to_vec(), false),
        ("obsolete line folding", b"GET /health HTTP/1.1\r\nhost:x\r\nx-a: a\r\n b\r\n\r\n".to_vec(), false),
        ("transfer-encoding not ending in chunked", b"POST /task HTTP/1.1\r\nhost:x\r\ntransfer-encoding: gzip\r\n\r\n".to_vec(), false),
        ("chunked in HTTP/1.0", b"POST /task HTTP/1.0\r\nhost:x\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), false),
        ("bad chunk size", b"POST /task HTTP/1.1\r\nhost:x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n".to_vec(), false),
        ("150 header lines", many_headers, false),
        ("70 KiB header", huge_header, false),
        ("66,000-byte target", long_target, false),
        ("CONNECT", b"CONNECT example.org:443 HTTP/1.1\r\nhost:example.org\r\n\r\n".to_vec(), false),
        ("head cut off by the client", b"GET /health HTTP/1.1\r\nhost:x\r\n".to_vec(), true),
        ("blank lines then garbage", b"\r\n\r\n\x01\x02\x03 / HTTP/1.1\r\n\r\n".to_vec(), false),
    ]
}

/// Case: every malformed request gets a 4xx JSON error with the headers.
async fn malformed_requests_get_json_errors() -> Result<String, String> {
    let server = start(&[]);
    let cases = malformed_requests();
    let mut problems = Vec::new();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for (name, bytes, close) in &cases {
        let outcome = tokio::time::timeout(Duration::from_secs(5), async {
            let mut stream = connect_from(VICTIM, server.addr).await?;
            stream.write_all(bytes).await?;
            if *close {
                stream.shutdown().await?;
            }
            read_answer(&mut stream).await
        })
        .await;
        match outcome {
            Err(_) => problems.push(format!("{name}: no answer within 5 s")),
            Ok(Err(e)) => problems.push(format!("{name}: {e}")),
            Ok(Ok(answer)) => {
                *statuses.entry(answer.status).or_default() += 1;
                if let Some(problem) = answer.contract_error_problem() {
                    problems.push(format!("{name}: {problem}"));
                }
            }
        }
    }
    let answered = statuses
        .iter()
        .map(|(status, n)| format!("{n}x{status}"))
        .collect::<Vec<_>>()
        .join(" ");
    if problems.is_empty() {
        Ok(format!(
            "{} requests: {answered}, all JSON with the contract headers",
            cases.len()
        ))
    } else {
        Err(problems.join("; "))
    }
}

/// Case: 1,000 idle sockets from four other addresses, reopened as soon as
/// the server closes them, under an open-file limit of 1,024, while the
/// victim opens a connection and asks for `/health` again and again.
async fn idle_sockets_do_not_lock_others_out() -> Result<String, String> {
    let server = start_under(
        &["prlimit", "--nofile=1024:1024", "--"],
        &["--max-connections", "1000"],
    );
    let addr = server.addr;
    let deadline = Instant::now() + Duration::from_secs(6);
    let mut attackers = Vec::new();
    for i in 0..1000u32 {
        let from = Ipv4Addr::new(127, 0, 0, 2 + (i % 4) as u8);
        attackers.push(tokio::spawn(async move {
            let mut opened = 0u32;
            while Instant::now() < deadline {
                let Ok(mut stream) = connect_from(from, addr).await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                opened += 1;
                let mut byte = [0u8; 1];
                let left = deadline.saturating_duration_since(Instant::now());
                let _ = tokio::time::timeout(left, stream.read(&mut byte)).await;
            }
            opened
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut worst = Duration::ZERO;
    let mut served = 0;
    while Instant::now() + Duration::from_secs(3) < deadline {
        let started = Instant::now();
        let answer = tokio::time::timeout(
            Duration::from_secs(3),
            call_from(
                VICTIM,
                addr,
                b"GET /health HTTP/1.1\r\nhost:x\r\nconnection:close\r\n\r\n",
            ),
        )
        .await
        .map_err(|_| format!("locked out for 3 s after {served} requests"))?
        .map_err(|e| e.to_string())?;
        if answer.status != 200 {
            return Err(format!("/health answered {}", answer.status));
        }
        worst = worst.max(started.elapsed());
        served += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut opened = 0;
    for attacker in attackers {
        opened += attacker.await.unwrap_or(0);
    }
    let log = server.log_tail();
    if log.contains("Too many open files") {
        return Err("the server ran out of file descriptors".to_owned());
    }
    let lowered = if log.contains("connection cap lowered") {
        "cap lowered to fit 1,024 files"
    } else {
        "cap kept"
    };
    Ok(format!(
        "{opened} idle connections opened; victim served {served} times, slowest {worst:.0?}; {lowered}"
    ))
}

/// Case: SIGTERM while a submission and a result upload are stalled.
async fn sigterm_with_a_stalled_upload_exits_in_time() -> Result<String, String> {
    let grace = Duration::from_secs(3);
    let server = start(&["--shutdown-grace-secs", "3"]);
    let addr = server.addr;
    let mut submission = connect_from(Ipv4Addr::new(127, 0, 0, 2), addr)
        .await
        .map_err(|e| e.to_string())?;
    submission
        .write_all(b"POST /task HTTP/1.1\r\nhost:x\r\ncontent-length:1000\r\n\r\n{")
        .await
        .map_err(|e| e.to_string())?;
    let mut result = connect_from(Ipv4Addr::new(127, 0, 0, 2), addr)
        .await
        .map_err(|e| e.to_string())?;
    result
        .write_all(b"POST /task/1/result HTTP/1.1\r\nhost:x\r\ncontent-length:1000\r\n\r\n{")
        .await
        .map_err(|e| e.to_string())?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waited =
        tokio::task::spawn_blocking(move || server.terminate(grace + Duration::from_secs(3)))
            .await
            .map_err(|e| e.to_string())??;
    let (status, took) = waited;
    let answer = tokio::time::timeout(Duration::from_secs(1), read_answer(&mut submission))
        .await
        .map_err(|_| "the stalled submission got no answer".to_owned())?
        .map_err(|e| e.to_string())?;
    if answer.status != 503 || answer.header("content-type") != Some("application/json") {
        return Err(format!(
            "the stalled submission got {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ));
    }
    if !status.success() {
        return Err(format!("exit status {status}"));
    }
    if took > grace + Duration::from_secs(2) {
        return Err(format!("exited after {took:?}, over the {grace:?} grace"));
    }
    let refused = TcpStream::connect(addr).await.is_err();
    Ok(format!(
        "exited {status} after {took:.1?} (grace {grace:?}); stalled submission answered 503; new connections {}",
        if refused { "refused" } else { "still accepted" }
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_edge_suite() {
    type Case = std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>>>>;
    let cases: Vec<(&str, Duration, Case)> = vec![
        (
            "8 stalled uploads, others submit",
            Duration::from_secs(20),
            Box::pin(stalled_uploads_do_not_block_others()),
        ),
        (
            "declared body over the limit",
            Duration::from_secs(20),
            Box::pin(over_limit_body_is_refused_before_continue()),
        ),
        (
            "32-connection flood, rate limit on",
            Duration::from_secs(40),
            Box::pin(a_flood_from_one_address_leaves_others_fast()),
        ),
        (
            "malformed requests",
            Duration::from_secs(60),
            Box::pin(malformed_requests_get_json_errors()),
        ),
        (
            "1,000 idle sockets",
            Duration::from_secs(40),
            Box::pin(idle_sockets_do_not_lock_others_out()),
        ),
        (
            "SIGTERM with a stalled upload",
            Duration::from_secs(30),
            Box::pin(sigterm_with_a_stalled_upload_exits_in_time()),
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
