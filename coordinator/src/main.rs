//! The coordinator binary: parses the command line, sets up logging, binds
//! and serves until SIGINT or SIGTERM.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use coordinator::config::{
    DEFAULT_BENCH_SECS, DEFAULT_BIND, DEFAULT_DATA_DIR, DEFAULT_KEEP_FINISHED_SECS,
    DEFAULT_LEASE_SECS, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_INFLIGHT_BODY_BYTES, DEFAULT_MAX_LEASES_PER_CLIENT, DEFAULT_MAX_PARTS,
    DEFAULT_MAX_TASKS, DEFAULT_MAX_WAIT_SECS, DEFAULT_PORT, DEFAULT_REJECT_LIMIT, DEFAULT_REPLICAS,
    DEFAULT_SPLIT_MIN_FLOPS, DEFAULT_STATIC_DIR, default_max_held_bytes,
};
use coordinator::{Config, SyncPolicy};
use tracing_subscriber::EnvFilter;

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
    /// Rejected results in a row after which a worker gets no tasks for
    /// `--bench-secs`.
    #[arg(long, default_value_t = DEFAULT_REJECT_LIMIT, value_parser = clap::value_parser!(u32).range(1..))]
    reject_limit: u32,
    /// Seconds a worker with repeated rejected results gets no tasks.
    #[arg(long, default_value_t = DEFAULT_BENCH_SECS)]
    bench_secs: u64,
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

impl Cli {
    fn config(&self) -> Config {
        Config {
            static_dir: self.static_dir.clone(),
            data_dir: (!self.in_memory).then(|| self.data_dir.clone()),
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
            verify: !self.no_verify,
            split_min_flops: (!self.no_split).then_some(self.split_min_flops),
            max_parts: self.max_parts,
            reject_limit: self.reject_limit,
            bench_time: Duration::from_secs(self.bench_secs),
            max_leases_per_client: self.max_leases_per_client,
            require_lease_token: self.require_lease_token,
            replicas: self.replicas,
            quorum: self.quorum.unwrap_or(self.replicas / 2 + 1),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
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
