//! Latency of every single submission while 1,000,000 small tasks pile up.
//!
//! `cargo bench -p coordinator --bench submit_latency`
//!
//! A coordinator (in memory, the default limits, as `serve` runs it) takes
//! [`TASKS`] submissions of a 42-byte matrix pair from [`CLIENTS`]
//! keep-alive connections over loopback, each sending its next request when
//! the last is answered. Nothing is leased, so every task stays in the task
//! table, which grows from empty to a million entries. Every request's time
//! is measured by its client; the run prints the quantiles, the slowest
//! requests (with how many tasks were held when each was sent), and whether
//! any took longer than [`LIMIT`]. A table that grew by moving all its
//! entries at once under the lock shows here as a request stalled for as
//! long as the move took (hundreds of milliseconds at a few hundred
//! thousand tasks). `BENCH_TASKS` changes the count.

#![allow(clippy::unwrap_used, missing_docs)]

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use coordinator::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The binary's allocator, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Submissions in all.
const TASKS: usize = 1_000_000;
/// Concurrent client connections.
const CLIENTS: usize = 8;
/// The slowest a single request may be.
const LIMIT: Duration = Duration::from_millis(50);
/// The task data: a Dana-style matrix pair.
const TASK: &str = r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#;

/// Sends `request` on `stream` and reads one answer; its status.
async fn call(stream: &mut TcpStream, request: &[u8], buffer: &mut Vec<u8>) -> io::Result<u16> {
    stream.write_all(request).await?;
    buffer.clear();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buffer[..end]).unwrap_or("");
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                return head
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| io::Error::other("bad status line"));
            }
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::other("connection closed"));
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// One client: sends submissions until `TASKS` are sent in all; the time
/// of each, with the count sent before it.
async fn client(addr: SocketAddr, sent: Arc<AtomicUsize>, total: usize) -> Vec<(Duration, usize)> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let request = format!(
        "POST /task HTTP/1.1\r\nhost:localhost\r\ncontent-length:{}\r\n\r\n{TASK}",
        TASK.len()
    )
    .into_bytes();
    let mut buffer = Vec::with_capacity(1024);
    let mut times = Vec::with_capacity(total / CLIENTS + 1);
    loop {
        let index = sent.fetch_add(1, Ordering::Relaxed);
        if index >= total {
            return times;
        }
        let started = Instant::now();
        let status = call(&mut stream, &request, &mut buffer).await.unwrap();
        times.push((started.elapsed(), index));
        assert_eq!(status, 200, "submission {index} answered {status}");
    }
}

fn main() {
    let total = std::env::var("BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(TASKS);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = Config {
            static_dir: std::env::temp_dir().join("coordinator-bench-no-static"),
            max_tasks: total.max(Config::default().max_tasks),
            ..Config::default()
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(coordinator::serve(listener, config, async move {
            let _ = stopped.await;
        }));
        let sent = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| tokio::spawn(client(addr, Arc::clone(&sent), total)))
            .collect();
        let mut times = Vec::with_capacity(total);
        for c in clients {
            times.extend(c.await.unwrap());
        }
        let elapsed = started.elapsed();
        let _ = stop.send(());
        let _ = server.await;
        times.sort_unstable();
        let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize].0;
        println!(
            "{} submissions from {CLIENTS} connections in {:.1} s ({:.0}/s)",
            times.len(),
            elapsed.as_secs_f64(),
            times.len() as f64 / elapsed.as_secs_f64()
        );
        println!(
            "p50 {:.2} ms, p99 {:.2} ms, p99.99 {:.2} ms, max {:.2} ms",
            at(0.5).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            at(0.9999).as_secs_f64() * 1e3,
            at(1.0).as_secs_f64() * 1e3
        );
        println!("slowest requests (time, tasks held when sent):");
        for (took, index) in times.iter().rev().take(5) {
            println!("  {:.2} ms at {index}", took.as_secs_f64() * 1e3);
        }
        let max = at(1.0);
        let over = times.iter().filter(|(t, _)| *t > LIMIT).count();
        println!(
            "max {:.2} ms: {} (limit {} ms; {over} requests over it)",
            max.as_secs_f64() * 1e3,
            if max <= LIMIT { "ok" } else { "OVER" },
            LIMIT.as_millis()
        );
    });
}
