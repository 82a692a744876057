//! Load benchmark: full task cycles over loopback against a trivial axum
//! endpoint measured in the same run.
//!
//! `cargo bench -p coordinator --bench load`
//!
//! Twelve servers run side by side on loopback: a one-route axum router
//! answering `GET /ping` (the ceiling), the same router under `axum::serve`
//! (a reference for the accept loop), and coordinators: holding 1,000 tasks
//! (leased for an hour; the cycles' own finished tasks are evicted within
//! about 60 ms, so the count held stays near the prefill) in memory and in
//! a durable store, holding 100,000 (40,000 pending ahead of the cycles'
//! own, 30,000 leased, 30,000 completed and kept an hour: the count grows
//! with the cycles) in memory and in a durable store, the same four again
//! driven by [`SATURATING_CLIENTS`] connections, and two more holding
//! 1,000 in memory: one with metrics off (`--no-metrics`), one with the
//! per-task log lines on. All but the reference use the coordinator's
//! accept loop ([`coordinator::server`]). Metrics are on (the default)
//! everywhere else. Log lines are off except in the windows of the logging
//! phase: one log subscriber (the binary's text format, at `info`, writing
//! to `/dev/null`) has its filter switched on for those windows only.
//! [`CLIENTS`] keep-alive connections drive one server at a time for a
//! short window, the servers take turns for a number of rounds, and each
//! server's windows are summed: a machine that gets busier or quieter
//! during the run slows all of them alike. Against a coordinator every
//! client runs cycles of `POST /task` -> `GET /task/next` ->
//! `POST /task/N/result` -> `GET /result/N`. The client is a minimal
//! HTTP/1.1 writer/reader over `TcpStream`, the same for every server, so
//! the ratio compares servers, not clients. Client and servers share the
//! machine's cores, and no log subscriber is installed. `BENCH_WINDOWS`
//! sets the rounds (default 10), `BENCH_CLIENTS` the connections of the
//! phases not marked with their own (default 32), `BENCH_WINDOW_SECS` the
//! seconds per window (default 1).

#![allow(clippy::unwrap_used, missing_docs)]

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::routing::get;
use coordinator::{AppState, Asker, Caller, ClientKey, Config, WorkerId};

mod support;

use support::{Conn, RESULT, TASK, client_count, process_cpu_secs, task_id};

/// The binary's allocator, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Concurrent client connections, unless `BENCH_CLIENTS` says otherwise.
const CLIENTS: usize = 32;

/// Concurrent client connections of the phases that compare the durable
/// store with memory when the CPUs are busy: 32 connections leave a
/// durable coordinator's CPUs partly idle (each cycle waits for two syncs),
/// so those phases measure what durability costs in latency; at this many,
/// both kinds keep the CPUs busy, and the phases measure what it costs in
/// throughput.
const SATURATING_CLIENTS: usize = 128;
/// Warm-up before each measured window.
const WARMUP: Duration = Duration::from_millis(250);
/// What one phase measured.
struct Measured {
    ops: u64,
    secs: f64,
    /// CPU time this process (client and server) used in the window.
    cpu_secs: f64,
    latencies_us: Vec<u32>,
}

impl Measured {
    fn empty() -> Self {
        Self {
            ops: 0,
            secs: 0.0,
            cpu_secs: 0.0,
            latencies_us: Vec::new(),
        }
    }

    /// Adds one window's figures to this phase's totals.
    fn add(&mut self, window: Measured) {
        self.ops += window.ops;
        self.secs += window.secs;
        self.cpu_secs += window.cpu_secs;
        self.latencies_us.extend(window.latencies_us);
    }

    /// Sorts the latencies; call before asking for percentiles.
    fn finish(&mut self) {
        self.latencies_us.sort_unstable();
    }

    fn rate(&self) -> f64 {
        self.ops as f64 / self.secs
    }

    /// Operations per CPU-second of this process: less sensitive than
    /// [`Measured::rate`] to other programs taking the CPUs.
    fn per_cpu_sec(&self) -> f64 {
        self.ops as f64 / self.cpu_secs
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        f64::from(self.latencies_us[index]) / 1000.0
    }
}

/// Runs `clients` loops of `op` for a warm-up and then `secs`, counting and
/// timing the operations done in the measured window only.
async fn drive<F, Fut>(addr: SocketAddr, clients: usize, secs: Duration, op: F) -> Measured
where
    F: Fn(Conn, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = (Conn, io::Result<()>)> + Send,
{
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut loops = Vec::new();
    for client in 0..clients {
        let op = op.clone();
        let (measuring, stop) = (Arc::clone(&measuring), Arc::clone(&stop));
        loops.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await.unwrap();
            let mut latencies = Vec::new();
            let mut ops = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let (back, outcome) = op(conn, client).await;
                conn = back;
                outcome.unwrap();
                if measuring.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                    ops += 1;
                    latencies.push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
            }
            (ops, latencies)
        }));
    }
    tokio::time::sleep(WARMUP).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let cpu_started = process_cpu_secs();
    tokio::time::sleep(secs).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = process_cpu_secs() - cpu_started;
    let mut total = Measured {
        ops: 0,
        secs: elapsed,
        cpu_secs: cpu,
        latencies_us: Vec::new(),
    };
    for client in loops {
        let (ops, latencies) = client.await.unwrap();
        total.ops += ops;
        total.latencies_us.extend(latencies);
    }
    total
}

/// One full cycle on `conn`, as client `client`.
async fn cycle(mut conn: Conn, client: usize) -> (Conn, io::Result<()>) {
    let outcome = async {
        let status = conn.call("POST", "/task", TASK).await?;
        let submitted = task_id(&conn.body).filter(|_| status == 200);
        let submitted = submitted.ok_or_else(|| io::Error::other("submit failed"))?;
        let status = conn
            .call("GET", &format!("/task/next?workerId=bench{client}"), b"")
            .await?;
        if status == 200 {
            let leased = task_id(&conn.body).ok_or_else(|| io::Error::other("bad lease"))?;
            let status = conn
                .call("POST", &format!("/task/{leased}/result"), RESULT)
                .await?;
            if status != 200 {
                return Err(io::Error::other(format!("result answered {status}")));
            }
        }
        let status = conn
            .call("GET", &format!("/result/{submitted}"), b"")
            .await?;
        // 404 only when the result was already evicted (the bench keeps
        // finished tasks for milliseconds).
        if status != 200 && status != 404 {
            return Err(io::Error::other(format!("result poll answered {status}")));
        }
        Ok(())
    }
    .await;
    (conn, outcome)
}

async fn ping(mut conn: Conn, _client: usize) -> (Conn, io::Result<()>) {
    let outcome = conn.call("GET", "/ping", b"").await.and_then(|status| {
        if status == 200 {
            Ok(())
        } else {
            Err(io::Error::other(format!("ping answered {status}")))
        }
    });
    (conn, outcome)
}

/// Serves `router` on 127.0.0.1 with the coordinator's own accept loop
/// until the returned sender is dropped.
async fn serve(router: Router) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(coordinator::server::serve_router(
        listener,
        router,
        coordinator::server::ServeOptions::default(),
        async move {
            let _ = rx.await;
        },
    ));
    (addr, tx)
}

/// Serves `router` with `axum::serve` until the returned sender is dropped.
async fn serve_with_axum(router: Router) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    (addr, tx)
}

/// Finished tasks are evicted this long after they finish, in the phases
/// holding 1,000 tasks, so the number held stays close to the prefill.
const BENCH_KEEP_FINISHED: Duration = Duration::from_millis(50);
/// How often the bench's tick evicts finished tasks.
const BENCH_TICK: Duration = Duration::from_millis(10);
/// Requests of the prefill in flight at once (so a durable store's group
/// commit fills quickly).
const PREFILL_BATCH: usize = 500;

/// What a coordinator holds before a phase starts.
#[derive(Debug, Clone, Copy)]
struct Held {
    /// Tasks waiting in the queue ahead of the cycles' own.
    pending: usize,
    /// Tasks leased for an hour.
    leased: usize,
    /// Tasks completed and kept (retention of an hour).
    finished: usize,
}

impl Held {
    fn total(self) -> usize {
        self.pending + self.leased + self.finished
    }
}

/// Runs `make(k)` for `k` in `0..count` as spawned tasks,
/// [`PREFILL_BATCH`] at a time.
async fn in_batches<F, Fut>(count: usize, make: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut start = 0;
    while start < count {
        let end = (start + PREFILL_BATCH).min(count);
        let mut batch = tokio::task::JoinSet::new();
        for k in start..end {
            batch.spawn(make(k));
        }
        while let Some(done) = batch.join_next().await {
            done.unwrap();
        }
        start = end;
    }
}

/// A coordinator that already holds `held`, kept in `data_dir` (or in
/// memory), with a tick that requeues and evicts as the server's does.
/// With nothing finished held, finished tasks are evicted within
/// [`BENCH_KEEP_FINISHED`] plus [`BENCH_TICK`], so the count held stays at
/// the prefill; otherwise they are kept an hour and the count grows with
/// the cycles.
async fn coordinator_holding(
    held: Held,
    data_dir: Option<std::path::PathBuf>,
    metrics: bool,
) -> (SocketAddr, AppState, tokio::sync::oneshot::Sender<()>) {
    let keep_finished = if held.finished == 0 {
        BENCH_KEEP_FINISHED
    } else {
        Duration::from_secs(3600)
    };
    let config = Config {
        static_dir: std::env::temp_dir().join("coordinator-bench-no-static"),
        lease: Duration::from_secs(3600),
        max_tasks: 10_000_000,
        // The fill leases many tasks from one (unknown) address.
        max_leases_per_client: usize::MAX,
        keep_finished,
        data_dir,
        metrics,
        ..Config::default()
    };
    let state = AppState::open(&config).unwrap();
    in_batches(held.total(), |_| {
        let state = state.clone();
        async move {
            state.submit(Bytes::from_static(TASK)).await.unwrap();
        }
    })
    .await;
    let worker = Asker {
        client: ClientKey::Unknown,
        worker: WorkerId::from_param(Some("prefill")),
        tokened: false,
    };
    let mut leased = Vec::new();
    for _ in 0..held.leased + held.finished {
        leased.push(state.lease(&worker, Duration::ZERO).await.unwrap().id);
    }
    let finished = std::sync::Arc::new(leased[..held.finished].to_vec());
    in_batches(finished.len(), |k| {
        let (state, id) = (state.clone(), finished[k]);
        async move {
            state
                .answer(id, &Caller::anonymous(None), Bytes::from_static(RESULT))
                .await
                .unwrap();
        }
    })
    .await;
    let ticker_state = state.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(BENCH_TICK);
        loop {
            interval.tick().await;
            ticker_state.tick(Instant::now());
        }
    });
    let (addr, stop) = serve(coordinator::app(config, state.clone())).await;
    (addr, state, stop)
}

/// Bytes this process has had written to storage (`/proc/self/io`
/// `write_bytes`; 0 where it cannot tell).
fn storage_bytes_written() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|line| line.strip_prefix("write_bytes:"))
                .and_then(|value| value.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Switches the log lines on and off: the filter of the one log subscriber.
type LogSwitch = tracing_subscriber::reload::Handle<
    tracing_subscriber::filter::LevelFilter,
    tracing_subscriber::Registry,
>;

/// Installs the log subscriber, its lines off: the binary's text format at
/// `info`, written to `/dev/null` (or thrown away where there is none).
fn install_logs() -> LogSwitch {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let (filter, switch) =
        tracing_subscriber::reload::Layer::new(tracing_subscriber::filter::LevelFilter::OFF);
    let null = std::fs::OpenOptions::new().write(true).open("/dev/null");
    let writer: Box<dyn io::Write + Send> = match null {
        Ok(file) => Box::new(file),
        Err(_) => Box::new(io::sink()),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(writer)),
        )
        .init();
    switch
}

/// One server under test and what was measured against it.
struct Phase {
    name: String,
    addr: SocketAddr,
    /// Concurrent client connections.
    clients: usize,
    state: Option<AppState>,
    _stop: tokio::sync::oneshot::Sender<()>,
    total: Measured,
    window_rates: Vec<f64>,
    held: (u64, u64),
    /// Bytes written to storage during this phase's windows.
    written: u64,
    /// Syncs and records of the durable store during this phase's windows.
    synced: (u64, u64),
    /// Log lines on during this phase's windows.
    logs: Option<LogSwitch>,
}

impl Phase {
    async fn run_window(&mut self, secs: Duration) {
        let level = |level| {
            if let Some(switch) = &self.logs {
                switch.reload(level).unwrap();
            }
        };
        let written = storage_bytes_written();
        let store_before = self.store_totals();
        level(tracing_subscriber::filter::LevelFilter::INFO);
        let window = if self.state.is_some() {
            drive(self.addr, self.clients, secs, cycle).await
        } else {
            drive(self.addr, self.clients, secs, ping).await
        };
        level(tracing_subscriber::filter::LevelFilter::OFF);
        self.written += storage_bytes_written().saturating_sub(written);
        let store_after = self.store_totals();
        self.synced.0 += store_after.0 - store_before.0;
        self.synced.1 += store_after.1 - store_before.1;
        self.window_rates.push(window.rate());
        self.total.add(window);
        if let Some(state) = &self.state {
            let held = state.stats().stats.held_tasks;
            self.held = (self.held.0.min(held), self.held.1.max(held));
        }
    }

    /// The durable store's syncs and records so far (zero in memory).
    fn store_totals(&self) -> (u64, u64) {
        self.state.as_ref().map_or((0, 0), |state| {
            let totals = state.stats().store.totals;
            (totals.batches, totals.records)
        })
    }

    fn report(&mut self) -> (f64, f64) {
        self.total.finish();
        let rate = self.total.rate();
        let per_cpu = self.total.per_cpu_sec();
        let (low, high) = self
            .window_rates
            .iter()
            .fold((f64::MAX, 0.0f64), |(l, h), &r| (l.min(r), h.max(r)));
        let unit = if self.state.is_some() {
            "cycles/s"
        } else {
            "req/s"
        };
        let held = if self.state.is_some() {
            format!("  tasks held {}..{}", self.held.0, self.held.1)
        } else {
            String::new()
        };
        println!(
            "{:<34} {rate:>8.0} {unit:<8} (windows {low:.0}..{high:.0}; {per_cpu:.0} per CPU-second)  p50 {:>6.2} ms  p99 {:>6.2} ms{held}",
            self.name,
            self.total.percentile_ms(0.50),
            self.total.percentile_ms(0.99),
        );
        (rate, per_cpu)
    }
}

impl Phase {
    fn new(
        name: String,
        addr: SocketAddr,
        state: Option<AppState>,
        stop: tokio::sync::oneshot::Sender<()>,
    ) -> Self {
        Self {
            name,
            addr,
            clients: client_count(CLIENTS),
            state,
            _stop: stop,
            total: Measured::empty(),
            window_rates: Vec::new(),
            held: (u64::MAX, 0),
            written: 0,
            synced: (0, 0),
            logs: None,
        }
    }
}

fn main() {
    let env = |name: &str| std::env::var(name).ok().and_then(|s| s.parse::<f64>().ok());
    let window = Duration::from_secs_f64(env("BENCH_WINDOW_SECS").unwrap_or(1.0));
    let windows = env("BENCH_WINDOWS").map_or(10, |n| n.max(1.0) as u32);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let store_root =
        std::env::temp_dir().join(format!("coordinator-bench-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&store_root);
    let logs = install_logs();
    runtime.block_on(async {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        println!(
            "coordinator load benchmark: {} keep-alive clients ({SATURATING_CLIENTS} in the phases marked so); {windows} rounds of {} s windows on each of 12 servers in turn ({} s warm-up per window); {cpus} CPUs shared by client and server",
            client_count(CLIENTS),
            window.as_secs_f64(),
            WARMUP.as_secs_f64()
        );
        let (ping_addr, ping_stop) =
            serve(Router::new().route("/ping", get(|| async { "ok" }))).await;
        let mut phases = vec![Phase::new("ceiling: trivial axum GET /ping".to_owned(), ping_addr, None, ping_stop)];
        // For reference only: the same router under `axum::serve`, to show
        // what the coordinator's own accept loop costs or saves.
        let (axum_addr, axum_stop) = serve_with_axum(Router::new().route("/ping", get(|| async { "ok" }))).await;
        phases.push(Phase::new("reference: same, under axum::serve".to_owned(), axum_addr, None, axum_stop));
        let small = Held { pending: 0, leased: 1_000, finished: 0 };
        let large = Held { pending: 40_000, leased: 30_000, finished: 30_000 };
        for (held, label) in [(small, "1,000 held"), (large, "100,000 held")] {
            for durable in [false, true] {
                let data_dir = durable.then(|| store_root.join(label.replace([',', ' '], "")));
                let prefilled = Instant::now();
                let (addr, state, stop) = coordinator_holding(held, data_dir, true).await;
                let kind = if durable { "durable" } else { "in memory" };
                println!("  prefilled {label} ({kind}) in {:.1} s", prefilled.elapsed().as_secs_f64());
                phases.push(Phase::new(format!("cycles, {kind}: {label}"), addr, Some(state), stop));
            }
        }
        // The same comparisons with the CPUs busy on both sides.
        for (held, label) in [(small, "1,000 held"), (large, "100,000 held")] {
            for durable in [false, true] {
                let dir = format!("{}-saturating", label.replace([',', ' '], ""));
                let data_dir = durable.then(|| store_root.join(dir));
                let (addr, state, stop) = coordinator_holding(held, data_dir, true).await;
                let kind = if durable { "durable" } else { "in memory" };
                let name = format!("cycles, {kind}: {label}, {SATURATING_CLIENTS} clients");
                let mut phase = Phase::new(name, addr, Some(state), stop);
                phase.clients = SATURATING_CLIENTS;
                phases.push(phase);
            }
        }
        for (metrics, log_lines, name) in [
            (false, false, "cycles, in memory: 1,000 held, metrics off"),
            (true, true, "cycles, in memory: 1,000 held, log lines on"),
        ] {
            let (addr, state, stop) = coordinator_holding(small, None, metrics).await;
            let mut phase = Phase::new(name.to_owned(), addr, Some(state), stop);
            phase.logs = log_lines.then(|| logs.clone());
            phases.push(phase);
        }
        for _ in 0..windows {
            for phase in &mut phases {
                phase.run_window(window).await;
            }
        }
        let figures: Vec<(f64, f64)> = phases.iter_mut().map(Phase::report).collect();
        let [
            (ceiling, ceiling_cpu),
            _,
            (small, small_cpu),
            (small_disk, _),
            (large, large_cpu),
            (large_disk, _),
            (small_busy, _),
            (small_disk_busy, _),
            (large_busy, _),
            (large_disk_busy, _),
            (no_metrics, no_metrics_cpu),
            (logged, logged_cpu),
        ] = figures[..]
        else {
            unreachable!("twelve phases");
        };
        println!(
            "cycle latency is one submit -> next -> result -> get; cycles/s x 4 = {:.0} req/s with 1,000 held in memory",
            small * 4.0
        );
        println!(
            "ratio: cycle requests/s / ceiling = {:.1}% wall-clock, {:.1}% per CPU-second (target >= 40%)",
            small * 4.0 / ceiling * 100.0,
            small_cpu * 4.0 / ceiling_cpu * 100.0
        );
        println!(
            "scale: 100,000 held vs 1,000 held (in memory) = {:+.1}% cycles/s wall-clock, {:+.1}% per CPU-second",
            (large / small - 1.0) * 100.0,
            (large_cpu / small_cpu - 1.0) * 100.0
        );
        println!(
            "durable / in memory, {} clients: {:.1}% of cycles/s with 1,000 held, {:.1}% with 100,000 held (the cost in latency: the durable side's CPUs are partly idle)",
            client_count(CLIENTS),
            small_disk / small * 100.0,
            large_disk / large * 100.0
        );
        println!(
            "durable / in memory, {SATURATING_CLIENTS} clients: {:.1}% of cycles/s with 1,000 held, {:.1}% with 100,000 held (the cost in throughput, CPUs busy on both sides; target >= 60%)",
            small_disk_busy / small_busy * 100.0,
            large_disk_busy / large_busy * 100.0
        );
        println!(
            "metrics: on vs off (1,000 held) = {:.1}% cycles/s wall-clock, {:.1}% per CPU-second (target >= 95%)",
            small / no_metrics * 100.0,
            small_cpu / no_metrics_cpu * 100.0
        );
        println!(
            "log lines: on vs off (1,000 held, metrics on) = {:.1}% cycles/s wall-clock, {:.1}% per CPU-second",
            logged / small * 100.0,
            logged_cpu / small_cpu * 100.0
        );
        for phase in phases.iter().filter(|p| p.name.contains("durable")) {
            let task_bytes = phase.total.ops as f64 * TASK.len() as f64;
            println!(
                "{}: {:.1} bytes written to storage per byte of task data ({} MB in the windows)",
                phase.name,
                phase.written as f64 / task_bytes,
                phase.written / 1_000_000
            );
            // Syncs are counted over the warm-ups too.
            let (syncs, records) = phase.synced;
            let secs = phase.total.secs + WARMUP.as_secs_f64() * phase.window_rates.len() as f64;
            println!(
                "{}: {:.0} syncs/s, {:.1} records per sync",
                phase.name,
                syncs as f64 / secs,
                records as f64 / syncs.max(1) as f64,
            );
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    let _ = std::fs::remove_dir_all(&store_root);
}
