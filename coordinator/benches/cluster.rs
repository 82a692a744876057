//! Cluster benchmark: full task cycles against coordinators in memory, on
//! the embedded store, and on a shared Redis with one and with two
//! coordinators, in one run; then in memory and on Redis with one
//! coordinator again with [`BUSY_CLIENTS`] connections, enough to keep
//! the CPUs busy on both (each compared with in memory at the same
//! number of connections).
//!
//! `cargo bench -p coordinator --bench cluster` (needs `redis-server`,
//! Debian's package; the bench starts its own on a free port with no
//! persistence, so Redis's own disk writes are not measured).
//!
//! [`CLIENTS`] keep-alive connections run cycles of `POST /task` ->
//! `GET /task/next` -> `POST /task/N/result` -> `GET /result/N` against one
//! setup at a time for a window; the setups take turns for a number of
//! rounds and each setup's windows are summed, so a machine that gets
//! busier or quieter slows all of them alike. Against two coordinators
//! the clients alternate between them (half the connections each), and a
//! cycle's requests go to one coordinator, as a load balancer that keeps
//! connections would send them. For the Redis setups the bench reads
//! `INFO commandstats` before and after each window and reports Redis
//! commands per cycle (commands run inside the write script included).
//! Redis, the coordinators and the load generator share the machine's
//! cores. `BENCH_WINDOWS` sets the rounds (default 5), `BENCH_CLIENTS` the
//! connections (default 8), `BENCH_WINDOW_SECS` the seconds per window
//! (default 1), and `BENCH_ONLY` keeps only the setups whose name holds
//! it (with in memory, the baseline).

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use coordinator::Config;
use tokio::net::TcpListener;

mod support;

use support::{Conn, RESULT, TASK, client_count, process_cpu_secs, task_id};

/// The binary's allocator, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Concurrent client connections, unless `BENCH_CLIENTS` says otherwise.
const CLIENTS: usize = 8;
/// Connections of the two more setups that keep the CPUs busy: in memory
/// and Redis with one coordinator.
const BUSY_CLIENTS: usize = 32;
/// Warm-up before each measured window.
const WARMUP: Duration = Duration::from_millis(250);

/// One full cycle; `Err` when any step answers unexpectedly.
async fn cycle(conn: &mut Conn, worker: &str) -> io::Result<()> {
    let bad = |what: &str, status: u16| io::Error::other(format!("{what}: {status}"));
    let status = conn.call("POST", "/task", TASK).await?;
    if status != 200 {
        return Err(bad("submit", status));
    }
    let status = conn
        .call("GET", &format!("/task/next?workerId={worker}"), b"")
        .await?;
    if status != 200 {
        return Err(bad("lease", status));
    }
    let id = task_id(&conn.body).ok_or_else(|| bad("lease id", status))?;
    let status = conn
        .call(
            "POST",
            &format!("/task/{id}/result?workerId={worker}"),
            RESULT,
        )
        .await?;
    if status != 200 {
        return Err(bad("result", status));
    }
    let status = conn.call("GET", &format!("/result/{id}"), b"").await?;
    if status != 200 {
        return Err(bad("read", status));
    }
    Ok(())
}

#[derive(Default)]
struct Measured {
    cycles: u64,
    secs: f64,
    latencies_us: Vec<u64>,
    errors: u64,
    redis_calls: BTreeMap<String, u64>,
    /// CPU seconds redis-server spent in the windows.
    redis_cpu: f64,
    /// CPU seconds this process (load generator and coordinators) spent.
    own_cpu: f64,
}

impl Measured {
    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

/// One setup the bench drives.
struct Setup {
    name: &'static str,
    addrs: Vec<SocketAddr>,
    on_redis: bool,
    clients: usize,
}

impl Setup {
    fn new(name: &'static str, addrs: Vec<SocketAddr>, on_redis: bool, clients: usize) -> Self {
        Self {
            name,
            addrs,
            on_redis,
            clients,
        }
    }
}

/// Drives `addrs` with `clients` connections spread over them for
/// `window`, after a warm-up.
async fn drive(
    addrs: &[SocketAddr],
    clients: usize,
    window: Duration,
    into: &mut Measured,
    redis: Option<&Redis>,
) {
    let mut conns = Vec::new();
    for k in 0..clients {
        conns.push(Conn::open(addrs[k % addrs.len()]).await.unwrap());
    }
    let run = |conns: Vec<Conn>, secs: Duration| async move {
        let handles: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(k, mut conn)| {
                tokio::spawn(async move {
                    let worker = format!("w{k}");
                    let (mut lat, mut errors) = (Vec::new(), 0u64);
                    let end = Instant::now() + secs;
                    while Instant::now() < end {
                        let started = Instant::now();
                        match cycle(&mut conn, &worker).await {
                            Ok(()) => lat.push(started.elapsed().as_micros() as u64),
                            Err(_) => {
                                errors += 1;
                                conn = Conn::open(conn.stream.get_ref().peer_addr().unwrap())
                                    .await
                                    .unwrap();
                            }
                        }
                    }
                    (conn, lat, errors)
                })
            })
            .collect();
        let mut out = Vec::new();
        for handle in handles {
            out.push(handle.await.unwrap());
        }
        out
    };
    let warmed = run(conns, WARMUP).await;
    let conns = warmed.into_iter().map(|(c, _, _)| c).collect();
    let before = redis.map(Redis::calls);
    let redis_cpu = redis.map(Redis::cpu_secs);
    let own_cpu = process_cpu_secs();
    let started = Instant::now();
    let measured = run(conns, window).await;
    into.secs += started.elapsed().as_secs_f64();
    into.own_cpu += process_cpu_secs() - own_cpu;
    if let (Some(redis), Some(before)) = (redis, redis_cpu) {
        into.redis_cpu += redis.cpu_secs() - before;
    }
    if let (Some(redis), Some(before)) = (redis, before) {
        for (name, calls) in redis.calls() {
            let delta = calls - before.get(&name).copied().unwrap_or(0);
            *into.redis_calls.entry(name).or_default() += delta;
        }
    }
    for (_, lat, errors) in measured {
        into.cycles += lat.len() as u64;
        into.latencies_us.extend(lat);
        into.errors += errors;
    }
}

/// A redis-server of the bench's own.
struct Redis {
    child: Child,
    addr: SocketAddr,
    dir: std::path::PathBuf,
}

impl Redis {
    fn start() -> Self {
        let port = StdListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("coordinator-bench-redis-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package) is needed for this bench");
        let redis = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        };
        for _ in 0..200 {
            if redis.command("PING").is_ok_and(|a| a.starts_with("+PONG")) {
                return redis;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start");
    }

    fn command(&self, command: &str) -> io::Result<String> {
        let mut stream = StdStream::connect(self.addr)?;
        stream.write_all(format!("{command}\r\n").as_bytes())?;
        let mut buf = vec![0; 64 * 1024];
        let n = stream.read(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// CPU seconds (user and system) redis-server's main process used.
    fn cpu_secs(&self) -> f64 {
        let info = self.command("INFO cpu").unwrap_or_default();
        info.lines()
            .filter_map(|line| {
                let (name, value) = line.split_once(':')?;
                matches!(name, "used_cpu_sys" | "used_cpu_user")
                    .then(|| value.trim().parse::<f64>().ok())?
            })
            .sum()
    }

    fn calls(&self) -> BTreeMap<String, u64> {
        let info = self.command("INFO commandstats").unwrap_or_default();
        info.lines()
            .filter_map(|line| {
                let (name, fields) = line.strip_prefix("cmdstat_")?.split_once(':')?;
                let calls = fields.split(',').find_map(|f| f.strip_prefix("calls="))?;
                Some((name.to_owned(), calls.parse().ok()?))
            })
            .filter(|(name, _)| name != "info")
            .collect()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn serve(config: Config) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(coordinator::serve(listener, config, std::future::pending()));
    // Let it connect (to Redis) before the first window.
    tokio::time::sleep(Duration::from_millis(300)).await;
    addr
}

fn main() {
    let env = |name: &str| std::env::var(name).ok().and_then(|s| s.parse::<f64>().ok());
    let window = Duration::from_secs_f64(env("BENCH_WINDOW_SECS").unwrap_or(1.0));
    let rounds = env("BENCH_WINDOWS").map_or(5, |n| n.max(1.0) as u32);
    let redis = Redis::start();
    let data_dir =
        std::env::temp_dir().join(format!("coordinator-bench-cluster-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        println!(
            "cluster benchmark: {} keep-alive clients ({BUSY_CLIENTS} in the setups marked so); {rounds} rounds of {} s windows per setup; \
             {cpus} CPUs shared by the load generator, the coordinators (one process) and redis-server",
            client_count(CLIENTS),
            window.as_secs_f64()
        );
        let base = Config { split_min_flops: None, ..Config::default() };
        let memory = serve(base.clone()).await;
        let embedded = serve(Config { data_dir: Some(data_dir.clone()), ..base.clone() }).await;
        let url = format!("redis://{}/0", redis.addr);
        let on_redis = Config { redis: Some(url), ..base.clone() };
        let first = serve(on_redis.clone()).await;
        let second = serve(on_redis).await;
        let clients = client_count(CLIENTS);
        let setups: Vec<Setup> = vec![
            Setup::new("in memory", vec![memory], false, clients),
            Setup::new("embedded store (SQLite, fsync)", vec![embedded], false, clients),
            Setup::new("Redis, one coordinator", vec![first], true, clients),
            Setup::new("Redis, two coordinators", vec![first, second], true, clients),
            Setup::new("in memory", vec![memory], false, BUSY_CLIENTS),
            Setup::new("Redis, one coordinator", vec![first], true, BUSY_CLIENTS),
        ];
        // `BENCH_ONLY=Redis` keeps the setups whose name holds it, and the
        // in-memory ones the others are measured against.
        let only = std::env::var("BENCH_ONLY").unwrap_or_default();
        let setups: Vec<Setup> = setups
            .into_iter()
            .filter(|s| s.name == "in memory" || s.name.contains(only.as_str()))
            .collect();
        let mut measured: Vec<Measured> = setups.iter().map(|_| Measured::default()).collect();
        for _ in 0..rounds {
            for (setup, into) in setups.iter().zip(measured.iter_mut()) {
                let redis = setup.on_redis.then_some(&redis);
                drive(&setup.addrs, setup.clients, window, into, redis).await;
            }
        }
        for m in &mut measured {
            m.latencies_us.sort_unstable();
        }
        let rate = |m: &Measured| m.cycles as f64 / m.secs;
        let memory_rate = |clients: usize| {
            setups
                .iter()
                .zip(&measured)
                .find(|(s, _)| s.name == "in memory" && s.clients == clients)
                .map_or(f64::NAN, |(_, m)| rate(m))
        };
        println!(
            "| setup | clients | cycles/s | vs in memory (same clients) | p50 ms | p99 ms | errors | CPU µs per cycle: coordinators + load, Redis | Redis commands per cycle |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        let mut one_on_redis = Vec::new();
        for (setup, m) in setups.iter().zip(&measured) {
            let per_cycle = if m.redis_calls.is_empty() {
                "".to_owned()
            } else {
                let total: u64 = m.redis_calls.values().sum();
                let parts: Vec<String> = m
                    .redis_calls
                    .iter()
                    .filter(|(_, n)| **n > 0)
                    .map(|(name, n)| format!("{name} {:.2}", *n as f64 / m.cycles as f64))
                    .collect();
                format!("{:.1} ({})", total as f64 / m.cycles as f64, parts.join(", "))
            };
            let cycles = m.cycles.max(1) as f64;
            let share = 100.0 * rate(m) / memory_rate(setup.clients);
            if setup.name == "Redis, one coordinator" {
                one_on_redis.push(format!("{share:.1}% with {} clients", setup.clients));
            }
            println!(
                "| {} | {} | {:.0} | {share:.0}% | {:.2} | {:.2} | {} | {:.0}, {:.0} | {per_cycle} |",
                setup.name,
                setup.clients,
                rate(m),
                m.percentile_ms(0.5),
                m.percentile_ms(0.99),
                m.errors,
                1e6 * m.own_cpu / cycles,
                1e6 * m.redis_cpu / cycles,
            );
        }
        if !one_on_redis.is_empty() {
            println!(
                "Redis, one coordinator / in memory: {} (target >= 40%; Redis, the coordinators and the load generator share the CPUs)",
                one_on_redis.join(", ")
            );
        }
    });
    let _ = std::fs::remove_dir_all(&data_dir);
}
