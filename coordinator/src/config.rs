//! The coordinator's settings and their documented defaults.
//!
//! Every limit has a named constant here; the command line (`--help`) and the
//! docs point to them. Parsing the command line is the binary's job.

use std::path::PathBuf;
use std::time::Duration;

use crate::check::Quorum;
use crate::forwarded::TrustedProxies;
use crate::queue::{QueueLimits, RejectPolicy, TASK_OVERHEAD_BYTES};
use crate::store::SyncPolicy;

/// Default port, as the Dana coordinator used.
pub const DEFAULT_PORT: u16 = 8080;
/// Default bind address: all interfaces.
pub const DEFAULT_BIND: &str = "0.0.0.0";
/// Default folder of static files, relative to the current directory.
pub const DEFAULT_STATIC_DIR: &str = "webserver";
/// Default data directory of the binary, relative to the current
/// directory (`run-coordinator.sh` passes the repository's `data/`).
pub const DEFAULT_DATA_DIR: &str = "data";
/// Default lease: a worker has this many seconds to post a result.
pub const DEFAULT_LEASE_SECS: u64 = 60;
/// Default number of times a task is handed out before it fails.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// Default largest request body: 64 MiB (a 1000x1000 matrix pair in Dana
/// text is about 8 MB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Default most tasks held at once, in any state. Each task costs about
/// [`TASK_OVERHEAD_BYTES`] beyond its text (counted in `heldBytes`), and
/// about 600 bytes of resident memory for a small task: a million small
/// tasks take about 0.6 GB (see the README's memory figures).
pub const DEFAULT_MAX_TASKS: usize = 1_000_000;
/// Default most bytes of task data, results and errors held at once, each
/// task's overhead included: 2 GiB, or a quarter of the machine's memory
/// when that is less ([`default_max_held_bytes`]).
pub const DEFAULT_MAX_HELD_BYTES: usize = 2 * 1024 * 1024 * 1024;
/// Default time a finished task is kept for `GET /result/N`: one hour.
pub const DEFAULT_KEEP_FINISHED_SECS: u64 = 3600;
/// Default cap on a long poll's `wait` parameter, in seconds.
pub const DEFAULT_MAX_WAIT_SECS: u64 = 30;
/// Default most bytes of request bodies being read at once: 512 MiB.
pub const DEFAULT_MAX_INFLIGHT_BODY_BYTES: usize = 512 * 1024 * 1024;
/// Default most client connections open at once; beyond it new ones wait
/// in the kernel's accept backlog. The server lowers it to fit the
/// process's open-file limit (see [`crate::server::fd_limit`]).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default most connections open at once from one client address (the TCP
/// peer; trusted proxies are exempt): a browser opens about six per host,
/// and a school or office behind one NAT address runs many browsers.
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 256;
/// Default most bytes of request bodies being received at once from one
/// client address: 128 MiB, two of the largest bodies, a quarter of the
/// whole budget.
pub const DEFAULT_MAX_INFLIGHT_BODY_BYTES_PER_CLIENT: usize = 128 * 1024 * 1024;
/// Default slowest upload allowed: 16 KiB/s on average, after
/// [`DEFAULT_BODY_GRACE_SECS`] (a body that has not received `r` bytes by
/// `grace + r / rate` after its head is answered 408).
pub const DEFAULT_BODY_MIN_BYTES_PER_SEC: u64 = 16 * 1024;
/// Default seconds every request body gets before its rate is held to
/// [`DEFAULT_BODY_MIN_BYTES_PER_SEC`].
pub const DEFAULT_BODY_GRACE_SECS: u64 = 10;
/// Default seconds an upload may wait for room in the body budget before it
/// is answered 503.
pub const DEFAULT_BODY_BUDGET_WAIT_SECS: u64 = 10;
/// Default seconds a keep-alive connection may stay idle between requests.
pub const DEFAULT_IDLE_SECS: u64 = 15;
/// Default requests per second allowed from one client address; 0 turns
/// the rate limit off (the default: many honest clients can share one
/// address behind a NAT or a proxy).
pub const DEFAULT_RATE_LIMIT_PER_SEC: u32 = 0;
/// Default seconds given after SIGTERM for the requests in flight; then
/// every connection is closed and the process exits.
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 10;
/// Default smallest product, in floating point operations (`2 m k n`),
/// that is split into parts: 2e9, about a 1000 x 1000 x 1000 product, which
/// keeps one browser worker busy for around half a second or more. Below
/// that, sending `B` to every part's worker and reading it there costs a
/// good share of what splitting saves. `--split-min-flops` lowers it.
pub const DEFAULT_SPLIT_MIN_FLOPS: u64 = 2_000_000_000;
/// Default most parts a task is split into.
pub const DEFAULT_MAX_PARTS: usize = 16;
/// Default number of rejected results in a row that bench a worker.
pub const DEFAULT_REJECT_LIMIT: u32 = crate::queue::DEFAULT_REJECT_LIMIT;
/// Default seconds a benched worker gets no tasks.
pub const DEFAULT_BENCH_SECS: u64 = crate::queue::DEFAULT_BENCH_TIME.as_secs();
/// Default most leases the workers of one address hold at once.
pub const DEFAULT_MAX_LEASES_PER_CLIENT: usize = crate::queue::DEFAULT_MAX_LEASES_PER_CLIENT;
/// Default workers a task nothing can check is handed to: 1 (no
/// replication).
pub const DEFAULT_REPLICAS: u32 = 1;
/// How often the background tick requeues expired leases and evicts
/// finished tasks.
pub const TICK_INTERVAL: Duration = Duration::from_millis(500);

/// Everything the server needs to know besides the socket it listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Folder served for `GET` requests that are not API routes.
    pub static_dir: PathBuf,
    /// Where the task state is kept; `None` keeps it in memory only (the
    /// library's default; the binary's is [`DEFAULT_DATA_DIR`]).
    pub data_dir: Option<PathBuf>,
    /// The shared Redis the tasks live in (`redis://host:port/db`), for
    /// several coordinators serving the same tasks; wins over `data_dir`.
    pub redis: Option<String>,
    /// Whether acknowledged writes are synced to disk first.
    pub sync: SyncPolicy,
    /// How long a worker holds a task ([`DEFAULT_LEASE_SECS`]).
    pub lease: Duration,
    /// How many times a task is handed out before it fails
    /// ([`DEFAULT_MAX_ATTEMPTS`]).
    pub max_attempts: u32,
    /// Largest accepted request body ([`DEFAULT_MAX_BODY_BYTES`]).
    pub max_body_bytes: usize,
    /// Most tasks held at once ([`DEFAULT_MAX_TASKS`]); beyond it
    /// `POST /task` answers 503.
    pub max_tasks: usize,
    /// Most bytes held at once ([`DEFAULT_MAX_HELD_BYTES`]); beyond it
    /// `POST /task` answers 503.
    pub max_held_bytes: usize,
    /// How long a finished task is kept ([`DEFAULT_KEEP_FINISHED_SECS`]).
    pub keep_finished: Duration,
    /// Cap on a long poll ([`DEFAULT_MAX_WAIT_SECS`]).
    pub max_wait: Duration,
    /// Most connections open at once ([`DEFAULT_MAX_CONNECTIONS`]).
    pub max_connections: usize,
    /// Most bytes of request bodies read at once
    /// ([`DEFAULT_MAX_INFLIGHT_BODY_BYTES`]); more uploads wait.
    pub max_inflight_body_bytes: usize,
    /// The limits that keep one client from taking the server from others:
    /// connections, upload bytes, request rate, timeouts.
    pub edge: EdgeLimits,
    /// Whether every matrix result is checked before it is accepted
    /// (default on; off only for trusted workers).
    pub verify: bool,
    /// Products of at least this many floating point operations are split
    /// into parts ([`DEFAULT_SPLIT_MIN_FLOPS`]); `None` never splits.
    pub split_min_flops: Option<u64>,
    /// Most parts a task is split into ([`DEFAULT_MAX_PARTS`]).
    pub max_parts: usize,
    /// Whether split tasks are cut into equal parts handed out in order,
    /// one copy each, as before parts were sized by measured speeds (a
    /// baseline for benchmarks; default off).
    pub equal_parts: bool,
    /// Rejected results in a row that bench a worker
    /// ([`DEFAULT_REJECT_LIMIT`]).
    pub reject_limit: u32,
    /// How long a benched worker gets no tasks ([`DEFAULT_BENCH_SECS`]).
    pub bench_time: Duration,
    /// Whether counters, histograms and request latencies are recorded
    /// (default on; `GET /metrics` still answers the gauges when off).
    pub metrics: bool,
    /// Most leases the workers of one address hold at once
    /// ([`DEFAULT_MAX_LEASES_PER_CLIENT`]).
    pub max_leases_per_client: usize,
    /// Whether answers and give-backs must carry the lease's token (every
    /// lease then carries one, asked or not).
    pub require_lease_token: bool,
    /// Workers (on distinct addresses) a task that cannot be checked is
    /// handed to ([`DEFAULT_REPLICAS`]: no replication).
    pub replicas: u32,
    /// Identical answers that complete a replicated task.
    pub quorum: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            static_dir: PathBuf::from(DEFAULT_STATIC_DIR),
            data_dir: None,
            redis: None,
            sync: SyncPolicy::Always,
            lease: Duration::from_secs(DEFAULT_LEASE_SECS),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_tasks: DEFAULT_MAX_TASKS,
            max_held_bytes: DEFAULT_MAX_HELD_BYTES,
            keep_finished: Duration::from_secs(DEFAULT_KEEP_FINISHED_SECS),
            max_wait: Duration::from_secs(DEFAULT_MAX_WAIT_SECS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_inflight_body_bytes: DEFAULT_MAX_INFLIGHT_BODY_BYTES,
            edge: EdgeLimits::default(),
            verify: true,
            split_min_flops: Some(DEFAULT_SPLIT_MIN_FLOPS),
            max_parts: DEFAULT_MAX_PARTS,
            equal_parts: false,
            reject_limit: DEFAULT_REJECT_LIMIT,
            bench_time: Duration::from_secs(DEFAULT_BENCH_SECS),
            metrics: true,
            max_leases_per_client: DEFAULT_MAX_LEASES_PER_CLIENT,
            require_lease_token: false,
            replicas: DEFAULT_REPLICAS,
            quorum: DEFAULT_REPLICAS,
        }
    }
}

/// The HTTP edge's limits against clients that are broken or hostile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeLimits {
    /// Most connections open at once from one client address, 0 for no
    /// cap ([`DEFAULT_MAX_CONNECTIONS_PER_CLIENT`]).
    pub max_connections_per_client: usize,
    /// Most bytes of bodies received at once from one client address
    /// ([`DEFAULT_MAX_INFLIGHT_BODY_BYTES_PER_CLIENT`]).
    pub max_inflight_body_bytes_per_client: usize,
    /// Slowest average upload rate allowed after `body_grace`
    /// ([`DEFAULT_BODY_MIN_BYTES_PER_SEC`]).
    pub body_min_bytes_per_sec: u64,
    /// Time every body gets before its rate counts
    /// ([`DEFAULT_BODY_GRACE_SECS`]).
    pub body_grace: Duration,
    /// How long an upload waits for room in the body budget
    /// ([`DEFAULT_BODY_BUDGET_WAIT_SECS`]).
    pub body_budget_wait: Duration,
    /// How long a keep-alive connection may stay idle
    /// ([`DEFAULT_IDLE_SECS`]; shorter when connections run short).
    pub idle: Duration,
    /// Requests per second allowed from one client address, with bursts
    /// of `rate_limit_burst`; 0 is no limit ([`DEFAULT_RATE_LIMIT_PER_SEC`]).
    pub rate_limit_per_sec: u32,
    /// Requests one client address may send at once above its rate (0:
    /// as many as `rate_limit_per_sec`).
    pub rate_limit_burst: u32,
    /// Proxies whose `X-Forwarded-For` names the client (none by default).
    pub trusted_proxies: TrustedProxies,
    /// Time given to requests in flight after shutdown begins
    /// ([`DEFAULT_SHUTDOWN_GRACE_SECS`]).
    pub shutdown_grace: Duration,
    /// Send and take only the contract's forms: answers are never
    /// compressed, compressed request bodies are refused (415), and parts
    /// carry their operands inline even to workers that ask for references
    /// (what clients got before these savings; off by default).
    pub plain_wire: bool,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        Self {
            max_connections_per_client: DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
            max_inflight_body_bytes_per_client: DEFAULT_MAX_INFLIGHT_BODY_BYTES_PER_CLIENT,
            body_min_bytes_per_sec: DEFAULT_BODY_MIN_BYTES_PER_SEC,
            body_grace: Duration::from_secs(DEFAULT_BODY_GRACE_SECS),
            body_budget_wait: Duration::from_secs(DEFAULT_BODY_BUDGET_WAIT_SECS),
            idle: Duration::from_secs(DEFAULT_IDLE_SECS),
            rate_limit_per_sec: DEFAULT_RATE_LIMIT_PER_SEC,
            rate_limit_burst: 0,
            trusted_proxies: TrustedProxies::default(),
            shutdown_grace: Duration::from_secs(DEFAULT_SHUTDOWN_GRACE_SECS),
            plain_wire: false,
        }
    }
}

impl Config {
    /// The part of the settings the task queue enforces.
    pub(crate) fn queue_limits(&self) -> QueueLimits {
        QueueLimits {
            lease: self.lease,
            max_attempts: self.max_attempts.max(1),
            max_tasks: self.max_tasks,
            max_held_bytes: self.max_held_bytes,
            keep_finished: self.keep_finished,
            task_overhead_bytes: TASK_OVERHEAD_BYTES,
            by_speed: self.parts_by_speed(),
        }
    }

    /// Whether split tasks are cut by measured speeds and stragglers get
    /// backup copies: not with `--equal-parts`, and not on a shared Redis,
    /// where the speeds a coordinator measures are its own and a split
    /// task's plan is not shared.
    pub(crate) fn parts_by_speed(&self) -> bool {
        !self.equal_parts && self.redis.is_none()
    }

    /// The quorum of a task that cannot be checked, when replication is on.
    pub(crate) fn quorum(&self) -> Option<Quorum> {
        Quorum::new(self.replicas, self.quorum)
    }

    /// When the queue benches workers for wrong results.
    pub(crate) fn reject_policy(&self) -> RejectPolicy {
        RejectPolicy {
            limit: self.reject_limit.max(1),
            bench_time: self.bench_time,
            max_leases_per_client: self.max_leases_per_client.max(1),
        }
    }
}

/// The default of `--max-held-bytes` on this machine: a quarter of its
/// memory (`MemTotal` in `/proc/meminfo`), at most
/// [`DEFAULT_MAX_HELD_BYTES`]; that default where the memory cannot be read.
pub fn default_max_held_bytes() -> usize {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| mem_total_bytes(&info));
    total.map_or(DEFAULT_MAX_HELD_BYTES, |total| {
        (total / 4).min(DEFAULT_MAX_HELD_BYTES)
    })
}

/// `MemTotal` of `/proc/meminfo` text, in bytes.
fn mem_total_bytes(meminfo: &str) -> Option<usize> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_read_from_meminfo() {
        let info = "MemTotal:       24576000 kB\nMemFree:  1 kB\n";
        assert_eq!(mem_total_bytes(info), Some(24_576_000 * 1024));
        assert_eq!(mem_total_bytes("nothing"), None);
        let limit = default_max_held_bytes();
        assert!(limit > 0 && limit <= DEFAULT_MAX_HELD_BYTES);
    }
}
