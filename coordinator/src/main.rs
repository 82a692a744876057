//! The coordinator binary: parses the command line, sets up logging, binds
//! and serves until SIGINT or SIGTERM.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use coordinator::config::{
    DEFAULT_BENCH_SECS, DEFAULT_BIND, DEFAULT_BODY_BUDGET_WAIT_SECS, DEFAULT_BODY_GRACE_SECS,
    DEFAULT_BODY_MIN_BYTES_PER_SEC, DEFAULT_DATA_DIR, DEFAULT_IDLE_SECS,
    DEFAULT_KEEP_FINISHED_SECS, DEFAULT_LEASE_SECS, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_CLIENT, DEFAULT_MAX_INFLIGHT_BODY_BYTES,
    DEFAULT_MAX_INFLIGHT_BODY_BYTES_PER_CLIENT, DEFAULT_MAX_LEASES_PER_CLIENT, DEFAULT_MAX_PARTS,
    DEFAULT_MAX_TASKS, DEFAULT_MAX_WAIT_SECS, DEFAULT_PORT, DEFAULT_RATE_LIMIT_PER_SEC,
    DEFAULT_REJECT_LIMIT, DEFAULT_REPLICAS, DEFAULT_SHUTDOWN_GRACE_SECS, DEFAULT_SPLIT_MIN_FLOPS,
    DEFAULT_STATIC_DIR, EdgeLimits, default_max_held_bytes,
};
use coordinator::forwarded::{AddrBlock, TrustedProxies};
use coordinator::{Config, SyncPolicy};
use tracing_subscriber::EnvFilter;

/// The allocator: a request allocates and frees dozens of small buffers
/// (heads, headers, futures, answers), and mimalloc's thread-local free
/// lists take a fraction of the instructions glibc's allocator does
/// (`coordinator/benches/instructions.sh`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hands matrix-multiplication tasks to pulling workers over the Dana
/// coordinator's HTTP contract.
#[derive(Debug, Parser)]
#[command(version, about, args_override_self = true)]
struct Cli {
    /// Port to listen on (0 picks a free one; the log says which).
    #[arg(default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = DEFAULT_BIND)]
    bind: IpAddr,
    /// Folder of static files (`/` serves its xdana.html).
    #[arg(long, default_value = DEFAULT_STATIC_DIR)]
    static_dir: PathBuf,
    /// Folder where tasks and results are kept, so a restart loses none
    /// (created if missing; one coordinator at a time).
    #[arg(long, default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// Keep tasks and results in memory only: lost when the process stops
    /// (wins over --data-dir).
    #[arg(long)]
    in_memory: bool,
    /// Keep tasks and results in this shared Redis
    /// (`redis://host:port/db`), so that several coordinators serve the
    /// same tasks (wins over --data-dir and --in-memory).
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
    /// Sync writes to disk before acknowledging them; `--fsync=false`
    /// acknowledges first (a machine crash can lose the last writes).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    fsync: bool,
    /// Seconds a worker holds a task before it goes back to the queue.
    #[arg(long, default_value_t = DEFAULT_LEASE_SECS, value_parser = clap::value_parser!(u64).range(1..))]
    lease_secs: u64,
    /// Times a task is handed out before it fails.
    #[arg(long, default_value_t = DEFAULT_MAX_ATTEMPTS, value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: u32,
    /// Largest request body in bytes (413 beyond it).
    #[arg(long, default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Most tasks held at once, in any state (503 beyond it; finished tasks
    /// older than a minute are evicted, oldest first, to make room). A small
    /// task takes about 600 bytes of memory.
    #[arg(long, default_value_t = DEFAULT_MAX_TASKS)]
    max_tasks: usize,
    /// Most bytes of task data and results held at once, each task's fixed
    /// overhead included (503 beyond it; a result larger than this, 413).
    /// Default: a quarter of the machine's memory, at most 2 GiB.
    #[arg(long, default_value_t = default_max_held_bytes())]
    max_held_bytes: usize,
    /// Seconds a finished task is kept before `GET /result/N` answers 404.
    #[arg(long, default_value_t = DEFAULT_KEEP_FINISHED_SECS)]
    keep_finished_secs: u64,
    /// Cap on the `wait` seconds of a long poll (`GET /task/next?wait=S`).
    #[arg(long, default_value_t = DEFAULT_MAX_WAIT_SECS)]
    max_wait_secs: u64,
    /// Most client connections open at once (more wait to be accepted).
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Most bytes of request bodies being received at once (more uploads wait).
    #[arg(long, default_value_t = DEFAULT_MAX_INFLIGHT_BODY_BYTES)]
    max_inflight_body_bytes: usize,
    /// Most client connections open at once from one address (more are
    /// answered 429); 0 for no cap. Trusted proxies are exempt.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS_PER_CLIENT)]
    max_connections_per_client: usize,
    /// Most bytes of request bodies being received at once from one address
    /// (its further uploads wait).
    #[arg(long, default_value_t = DEFAULT_MAX_INFLIGHT_BODY_BYTES_PER_CLIENT)]
    max_inflight_body_bytes_per_client: usize,
    /// Slowest average upload rate in bytes per second after
    /// --body-grace-secs (slower bodies are answered 408).
    #[arg(long, default_value_t = DEFAULT_BODY_MIN_BYTES_PER_SEC)]
    body_min_bytes_per_sec: u64,
    /// Seconds every request body gets before its rate counts.
    #[arg(long, default_value_t = DEFAULT_BODY_GRACE_SECS)]
    body_grace_secs: u64,
    /// Seconds an upload waits for room in the body budget (then 503).
    #[arg(long, default_value_t = DEFAULT_BODY_BUDGET_WAIT_SECS)]
    body_budget_wait_secs: u64,
    /// Seconds a keep-alive connection may stay idle (1 s while three
    /// quarters of the connections are open).
    #[arg(long, default_value_t = DEFAULT_IDLE_SECS, value_parser = clap::value_parser!(u64).range(1..))]
    idle_secs: u64,
    /// Requests per second allowed from one address (429 beyond it, after
    /// a pause of up to 1 s); 0 turns the limit off.
    #[arg(long, default_value_t = DEFAULT_RATE_LIMIT_PER_SEC)]
    rate_limit_per_sec: u32,
    /// Requests one address may send at once above its rate (0: as many as
    /// --rate-limit-per-sec).
    #[arg(long, default_value_t = 0)]
    rate_limit_burst: u32,
    /// A proxy (ADDR or ADDR/PREFIX) whose X-Forwarded-For names the client;
    /// may be given more than once. None is trusted by default.
    #[arg(long = "trusted-proxy", value_name = "ADDR[/PREFIX]")]
    trusted_proxies: Vec<AddrBlock>,
    /// Seconds given to requests in flight after SIGTERM; then every
    /// connection is closed and the process exits.
    #[arg(long, default_value_t = DEFAULT_SHUTDOWN_GRACE_SECS)]
    shutdown_grace_secs: u64,
    /// Send and take only the contract's forms: no compressed answers, no
    /// compressed uploads (415), operands always inline (what the pages
    /// got before).
    #[arg(long)]
    plain_wire: bool,
    /// Accept matrix results without checking them (trusted workers only).
    #[arg(long)]
    no_verify: bool,
    /// Split products of at least this many floating point operations
    /// (2 m k n) into row-block parts.
    #[arg(long, default_value_t = DEFAULT_SPLIT_MIN_FLOPS)]
    split_min_flops: u64,
    /// Never split tasks.
    #[arg(long)]
    no_split: bool,
    /// Most parts a task is split into (by default as many as workers seen
    /// in the last minute, at least 2).
    #[arg(long, default_value_t = DEFAULT_MAX_PARTS)]
    max_parts: usize,
    /// Cut split tasks into equal parts handed out in order, one copy
    /// each, instead of sizing them by the workers' measured speeds with
    /// backup copies for stragglers (the old behaviour, as a baseline).
    #[arg(long)]
    equal_parts: bool,
    /// Rejected results in a row after which a worker gets no tasks for
    /// `--bench-secs`.
    #[arg(long, default_value_t = DEFAULT_REJECT_LIMIT, value_parser = clap::value_parser!(u32).range(1..))]
    reject_limit: u32,
    /// Seconds a worker with repeated rejected results gets no tasks.
    #[arg(long, default_value_t = DEFAULT_BENCH_SECS)]
    bench_secs: u64,
    /// Record no counters, histograms or request latencies (`GET /metrics`
    /// then answers only the gauges).
    #[arg(long)]
    no_metrics: bool,
    /// Log lines as text for people or as one JSON object a line for log
    /// shippers (`RUST_LOG` sets the level, default `info`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Most leases the workers of one client address hold at once.
    #[arg(long, default_value_t = DEFAULT_MAX_LEASES_PER_CLIENT)]
    max_leases_per_client: usize,
    /// Refuse (409) results and give-backs without the lease's token, and
    /// hand every lease out with one (deployments with only this project's
    /// worker pages; Dana workers send no token).
    #[arg(long)]
    require_lease_token: bool,
    /// Hand each task that cannot be checked (not a matrix product) to this
    /// many workers on distinct addresses (1: no replication).
    #[arg(long, default_value_t = DEFAULT_REPLICAS, value_parser = clap::value_parser!(u32).range(1..=16))]
    replicas: u32,
    /// Identical answers that complete a replicated task (at most
    /// --replicas; default a majority of them).
    #[arg(long)]
    quorum: Option<u32>,
}

/// How log lines are written. (Plain comments on the variants: doc
/// comments would turn `--help` into its long form.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    // Human-readable text, coloured on a terminal.
    Text,
    // One JSON object a line: timestamp, level, target, fields.
    Json,
}

impl Cli {
    fn config(&self) -> Config {
        Config {
            static_dir: self.static_dir.clone(),
            data_dir: (!self.in_memory && self.redis.is_none()).then(|| self.data_dir.clone()),
            redis: self.redis.clone(),
            sync: if self.fsync {
                SyncPolicy::Always
            } else {
                SyncPolicy::Never
            },
            lease: Duration::from_secs(self.lease_secs),
            max_attempts: self.max_attempts,
            max_body_bytes: self.max_body_bytes,
            max_tasks: self.max_tasks,
            max_held_bytes: self.max_held_bytes,
            keep_finished: Duration::from_secs(self.keep_finished_secs),
            max_wait: Duration::from_secs(self.max_wait_secs),
            max_connections: self.max_connections,
            max_inflight_body_bytes: self.max_inflight_body_bytes,
            edge: EdgeLimits {
                max_connections_per_client: self.max_connections_per_client,
                max_inflight_body_bytes_per_client: self.max_inflight_body_bytes_per_client,
                body_min_bytes_per_sec: self.body_min_bytes_per_sec,
                body_grace: Duration::from_secs(self.body_grace_secs),
                body_budget_wait: Duration::from_secs(self.body_budget_wait_secs),
                idle: Duration::from_secs(self.idle_secs),
                rate_limit_per_sec: self.rate_limit_per_sec,
                rate_limit_burst: self.rate_limit_burst,
                trusted_proxies: TrustedProxies::new(self.trusted_proxies.clone()),
                shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
                plain_wire: self.plain_wire,
            },
            verify: !self.no_verify,
            split_min_flops: (!self.no_split).then_some(self.split_min_flops),
            max_parts: self.max_parts,
            equal_parts: self.equal_parts,
            reject_limit: self.reject_limit,
            bench_time: Duration::from_secs(self.bench_secs),
            metrics: !self.no_metrics,
            max_leases_per_client: self.max_leases_per_client,
            require_lease_token: self.require_lease_token,
            replicas: self.replicas,
            quorum: self.quorum.unwrap_or(self.replicas / 2 + 1),
        }
    }
}

/// Time the runtime gives work still running off the async threads (a
/// body being planned) once the server has stopped.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(1);

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(run());
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    result
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    match cli.log_format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_current_span(false)
            .with_env_filter(filter)
            .init(),
    }
    let listener = tokio::net::TcpListener::bind((cli.bind, cli.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", cli.bind, cli.port))?;
    coordinator::serve(listener, cli.config(), shutdown_signal())
        .await
        .context("server failed")
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
