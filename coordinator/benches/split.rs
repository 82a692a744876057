//! What the coordinator spends on a split, verified multiplication, against
//! the product itself, for n = 512 and 1024 (`BENCH_SIZES=512,1024,2048`
//! to choose), measured in the same run.
//!
//! `cargo bench -p coordinator --bench split`
//!
//! A Dana-style task (`{"A":"..","B":".."}`, integers in -1000..=1000) goes
//! through the real router in process, request by request, as clients and
//! workers send it, and every step is timed in this process's CPU time
//! (all threads: the blocking pool that reads large bodies included):
//! - submit: `POST /task`: reading the body as JSON (which finds `A` and
//!   `B`), planning (reading the operands, preparing the check, writing the
//!   parts' data) and queueing;
//! - lease: every part's `GET /task/next`, its answer's bytes drained;
//! - results: every part's `POST /task/N/result` with the honest product:
//!   reading the body as JSON, checking the rows, completing (the last part
//!   assembles the product);
//! - fetch: `GET /result/N` of the product, its answer's bytes drained.
//!
//! The baseline is the native product of the same matrices on one core
//! (the exact integer kernel, no text). Each figure is the median of
//! [`RUNS`] runs. The target is the coordinator's CPU time below 10% of the
//! product. Only the public HTTP API is used, so the same file measures any
//! version of the coordinator.

#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use coordinator::{AppState, Config, app};
use cpu_time::ProcessTime;
use http_body_util::BodyExt;
use kernel::{Matrix, multiply_exact, text};
use tower::ServiceExt;

/// The binary's allocator, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs per figure.
const RUNS: usize = 5;

/// Part counts measured.
const PARTS: [usize; 2] = [2, 4];

fn ints(n: usize, seed: u64) -> Matrix<i64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let data = (0..n * n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 2001) as i64 - 1000
        })
        .collect();
    Matrix::new(n, n, data).unwrap()
}

/// CPU time of the whole process and wall time of one step.
#[derive(Debug, Clone, Copy, Default)]
struct Spent {
    cpu: Duration,
    wall: Duration,
}

impl std::ops::AddAssign for Spent {
    fn add_assign(&mut self, other: Self) {
        self.cpu += other.cpu;
        self.wall += other.wall;
    }
}

/// One request through the router; the answer's body is drained frame by
/// frame (as a socket writer would send it), its JSON returned when small.
async fn call(router: &Router, method: &str, uri: &str, body: Vec<u8>) -> (u16, Vec<u8>, Spent) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body))
        .unwrap();
    let cpu = ProcessTime::now();
    let wall = Instant::now();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut kept = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data()
            && kept.len() + data.len() <= 4096
        {
            kept.extend_from_slice(&data);
        }
    }
    let spent = Spent {
        cpu: cpu.elapsed(),
        wall: wall.elapsed(),
    };
    (status, kept, spent)
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or(serde_json::Value::Null)
}

/// What one run of a split product spent, step by step.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    submit: Spent,
    lease: Spent,
    results: Spent,
    fetch: Spent,
}

impl Run {
    fn total(&self) -> Duration {
        self.submit.cpu + self.lease.cpu + self.results.cpu + self.fetch.cpu
    }
}

/// Submits `body`, leases every part, posts every part's honest product and
/// fetches the assembled product, on a fresh coordinator that has seen
/// `parts` workers.
async fn run_once(body: &[u8], c: &Matrix<i64>, parts: usize) -> Run {
    let config = Config {
        static_dir: std::env::temp_dir().join("coordinator-bench-no-static"),
        split_min_flops: Some(0),
        max_parts: 64,
        ..Config::default()
    };
    let state = AppState::new(&config);
    let router = app(config, state);
    // Workers seen decide the part count.
    for worker in 0..parts {
        call(
            &router,
            "GET",
            &format!("/task/next?workerId=w{worker}"),
            Vec::new(),
        )
        .await;
    }
    let mut run = Run::default();
    let (status, answer, spent) = call(&router, "POST", "/task", body.to_vec()).await;
    assert_eq!(status, 200, "submit: {}", String::from_utf8_lossy(&answer));
    run.submit = spent;
    let id = json(&answer)["taskId"].as_u64().unwrap();
    let n = c.cols();
    let mut leased = Vec::new();
    for worker in 0..parts {
        let uri = format!("/task/next?workerId=w{worker}");
        let (status, answer, spent) = call(&router, "GET", &uri, Vec::new()).await;
        assert_eq!(status, 200, "part {worker} leased");
        run.lease += spent;
        // The answer starts with `{"taskId":N,`: only the id is kept.
        let head = String::from_utf8_lossy(&answer);
        let part = head
            .trim_start_matches("{\"taskId\":")
            .split(',')
            .next()
            .and_then(|id| id.parse::<u64>().ok())
            .unwrap();
        leased.push(part);
    }
    let rows = balanced(c.rows(), parts);
    for (part, rows) in leased.iter().zip(rows) {
        let block = c.data()[rows.start * n..rows.end * n].to_vec();
        let product = text::write_i64(&Matrix::new(rows.len(), n, block).unwrap());
        let body = serde_json::json!({ "result": product }).to_string();
        let uri = format!("/task/{part}/result?workerId=w0&return=minimal");
        let (status, answer, spent) = call(&router, "POST", &uri, body.into_bytes()).await;
        assert_eq!(status, 200, "result: {}", String::from_utf8_lossy(&answer));
        run.results += spent;
    }
    let (status, _, spent) = call(&router, "GET", &format!("/result/{id}"), Vec::new()).await;
    assert_eq!(status, 200);
    run.fetch = spent;
    run
}

/// The row blocks the coordinator cuts: sizes differ by at most one,
/// larger blocks first.
fn balanced(len: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let (base, extra) = (len / parts, len % parts);
    let mut start = 0;
    (0..parts)
        .map(|p| {
            let end = start + base + usize::from(p < extra);
            let range = start..end;
            start = end;
            range
        })
        .collect()
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![512, 1024]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "coordinator CPU time (all threads) per step of a split, verified product against the native product (median of {RUNS} runs)"
    );
    println!(
        "{:>5} {:>5} {:>11} {:>10} {:>9} {:>11} {:>9} {:>9} {:>9} {:>9}",
        "n",
        "parts",
        "product ms",
        "submit ms",
        "lease ms",
        "results ms",
        "fetch ms",
        "total ms",
        "wall ms",
        "overhead"
    );
    for n in sizes {
        let (a, b) = (ints(n, 1), ints(n, 2));
        let product = median(
            (0..RUNS)
                .map(|_| {
                    let started = Instant::now();
                    drop(black_box(multiply_exact(&a, &b).unwrap()));
                    started.elapsed()
                })
                .collect(),
        );
        let c = multiply_exact(&a, &b).unwrap();
        let body = serde_json::json!({ "A": text::write_i64(&a), "B": text::write_i64(&b) })
            .to_string()
            .into_bytes();
        for parts in PARTS {
            let runs: Vec<Run> = (0..RUNS)
                .map(|_| runtime.block_on(run_once(&body, &c, parts)))
                .collect();
            let step = |pick: fn(&Run) -> Duration| median(runs.iter().map(pick).collect());
            let total = step(Run::total);
            let wall = step(|r| r.submit.wall + r.lease.wall + r.results.wall + r.fetch.wall);
            println!(
                "{n:>5} {parts:>5} {:>11.1} {:>10.1} {:>9.1} {:>11.1} {:>9.1} {:>9.1} {:>9.1} {:>8.1}%",
                ms(product),
                ms(step(|r| r.submit.cpu)),
                ms(step(|r| r.lease.cpu)),
                ms(step(|r| r.results.cpu)),
                ms(step(|r| r.fetch.cpu)),
                ms(total),
                ms(wall),
                100.0 * total.as_secs_f64() / product.as_secs_f64()
            );
        }
    }
    println!("overhead = coordinator CPU time (every step) / native product; target < 10%");
}
