//! Several coordinators (the real binary) on one Redis (`--redis`).
//!
//! - A task submitted through one coordinator is leased through a second
//!   (whose long poll the submission wakes), answered through a third and
//!   reads the same through all three; a dishonest product is rejected
//!   whichever coordinator it is posted to; a split task's parts are
//!   leased and answered through different coordinators and assembled.
//! - Concurrent submitters and honest workers reach three coordinators
//!   through nginx (the README's block, round robin) while one coordinator
//!   is killed with SIGKILL and restarted on its port: every
//!   acknowledged task completes once with the right product, no task is
//!   handed to a second worker inside a live lease, and `/stats` agrees
//!   through every coordinator. The counts checked are printed.
//!
//! - A replicated task (`--replicas 3 --quorum 2`) on two coordinators:
//!   its replicas go to three addresses through both, no address gets two
//!   and no fourth is handed out, and votes posted through the coordinator
//!   that did not hand out the lease outvote a liar.
//!
//! - A lease through the coordinator a task was submitted to takes it in
//!   one write, from that coordinator's copy, and never before an older
//!   task submitted elsewhere (a write that finds one first answers with
//!   it, and the lease takes that one instead).
//! - A result read through the coordinator that completed the task comes
//!   from its own copy, without reading Redis, and a Redis restarted
//!   empty (ids counting from 1 again) is not answered from that copy.
//!
//! - While Redis is down, requests answer 503 with `Retry-After` and a
//!   JSON error and `/health` says so; the coordinator reconnects by
//!   itself when it is back.
//!
//! Each test starts its own `redis-server` (`common::redis_server`) and
//! fails, saying what to install, where there is none.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::nginx::{Nginx, free_port};
use common::process::{Process, call, call_from};
use common::redis_server::RedisServer;
use common::static_dir;
use serde_json::{Value, json};

/// Lease seconds in these tests: short, so abandoned leases come back
/// within the test.
const LEASE_SECS: u64 = 2;

fn start(redis: &RedisServer, extra: &[&str]) -> Process {
    start_at(redis, 0, extra)
}

/// A coordinator on `port` of 127.0.0.1 (`0`: a free one) on `redis`.
fn start_at(redis: &RedisServer, port: u16, extra: &[&str]) -> Process {
    let url = redis.url(0);
    let lease = LEASE_SECS.to_string();
    let mut args = vec!["--redis", &url, "--lease-secs", &lease];
    args.extend_from_slice(extra);
    Process::start_at(port, &[], &args, &static_dir()).unwrap()
}

/// The README's nginx block for several coordinators, for coordinators on
/// `ports`, listening on `listen` of 127.0.0.1.
fn readme_nginx(ports: [u16; 3], listen: u16) -> String {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("\n## Running several coordinators\n")
        .nth(1)
        .expect("the README has a \"Running several coordinators\" section");
    let block = section
        .split("```nginx\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("that section has an nginx block");
    let mut adapted = block.replace("listen 8080;", &format!("listen 127.0.0.1:{listen};"));
    for (k, port) in ports.iter().enumerate() {
        let line = format!("server 127.0.0.1:{};", 8081 + k);
        assert!(adapted.contains(&line), "the README's block has {line}");
        adapted = adapted.replace(&line, &format!("server 127.0.0.1:{port};"));
    }
    adapted
}

fn json_call(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, Value) {
    let (status, body) = call(addr, method, path, body.as_bytes()).unwrap();
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, value)
}

fn product(data: &str) -> String {
    let value: Value = serde_json::from_str(data).unwrap();
    kernel::multiply_text(value["A"].as_str().unwrap(), value["B"].as_str().unwrap()).unwrap()
}

/// The contract's four counters and the failed count, through `addr`.
fn counters(addr: SocketAddr) -> [u64; 5] {
    let (status, stats) = json_call(addr, "GET", "/stats", "");
    assert_eq!(status, 200);
    [
        "totalTasks",
        "completedTasks",
        "activeTasks",
        "queueSize",
        "failedTasks",
    ]
    .map(|name| stats[name].as_u64().unwrap())
}

#[test]
fn a_task_moves_between_three_coordinators_on_one_redis() {
    let redis = RedisServer::start();
    let split = ["--split-min-flops", "3000", "--max-parts", "3"];
    let [a, b, c] = [0, 1, 2].map(|_| start(&redis, &split));
    let (a, b, c) = (a.addr, b.addr, c.addr);

    // A long poll on B is woken by a submission through A.
    let poll = std::thread::spawn(move || {
        let (status, lease) = json_call(b, "GET", "/task/next?workerId=w1&wait=10&token=1", "");
        (status, lease, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(500));
    let data = r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#;
    let submitted_at = Instant::now();
    let (status, submitted) = json_call(a, "POST", "/task", data);
    assert_eq!((status, submitted["taskId"].as_u64()), (200, Some(1)));
    let (status, lease, leased_at) = poll.join().unwrap();
    assert_eq!(status, 200, "{lease}");
    assert_eq!(lease["taskId"], 1);
    let woken_ms = leased_at.duration_since(submitted_at).as_millis();
    println!("long poll on B answered {woken_ms} ms after the submission to A was sent");
    assert!(woken_ms < 1000, "woken after {woken_ms} ms");

    // A result waiter on A is woken by the result posted through C.
    let waiter = std::thread::spawn(move || json_call(a, "GET", "/result/1?wait=10", ""));
    std::thread::sleep(Duration::from_millis(300));
    let token = lease["leaseToken"].as_str().unwrap().to_owned();
    let path = format!("/task/1/result?workerId=w1&leaseToken={token}");
    let (status, done) = json_call(c, "POST", &path, r#"{"result":"[[19,22],[43,50]]"}"#);
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "completed");
    let (status, waited) = waiter.join().unwrap();
    assert_eq!((status, &waited["status"]), (200, &json!("completed")));
    for addr in [a, b, c] {
        let (status, read) = json_call(addr, "GET", "/result/1", "");
        assert_eq!(status, 200);
        assert_eq!(read["status"], "completed");
        assert_eq!(read["result"], "[[19,22],[43,50]]");
    }
    // A second result does not overwrite the first, whichever coordinator.
    let (status, again) = json_call(
        b,
        "POST",
        "/task/1/result?workerId=w9",
        r#"{"result":"[[0]]"}"#,
    );
    assert_eq!(status, 200);
    assert_eq!(again["result"], "[[19,22],[43,50]]");

    // A dishonest product is rejected through any coordinator.
    let (_, second) = json_call(a, "POST", "/task", data);
    let id = second["taskId"].as_u64().unwrap();
    let (status, lease) = json_call(c, "GET", "/task/next?workerId=liar&token=1", "");
    assert_eq!((status, lease["taskId"].as_u64()), (200, Some(id)));
    let token = lease["leaseToken"].as_str().unwrap();
    let path = format!("/task/{id}/result?workerId=liar&leaseToken={token}");
    // The check is kept prepared with the task: B, which never saw the
    // submission, checks without the operands (taken away for the while).
    let key = format!("coordinator:task:{id}");
    assert_eq!(
        redis.command_args(&["HEXISTS", &key, "c"]).unwrap(),
        ":1\r\n"
    );
    assert_eq!(redis.command_args(&["HDEL", &key, "d"]).unwrap(), ":1\r\n");
    let (status, refused) = json_call(b, "POST", &path, r#"{"result":"[[19,22],[43,51]]"}"#);
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("Freivalds"),
        "{refused}"
    );
    assert_eq!(
        redis.command_args(&["HSET", &key, "d", data]).unwrap(),
        ":1\r\n"
    );
    for addr in [b, a] {
        let (status, refused) = json_call(addr, "POST", &path, r#"{"result":"[[19,22],[43,51]]"}"#);
        assert!((400..500).contains(&status), "{status} {refused}");
        assert_ne!(
            json_call(c, "GET", &format!("/result/{id}"), "").1["status"],
            "completed"
        );
    }

    // A split task: parts leased and answered through different coordinators.
    let n = 12;
    let rows = |r: usize, k: usize| {
        let m: Vec<Vec<i64>> = (0..r)
            .map(|i| (0..k).map(|j| (i * 7 + j * 3) as i64 % 11 - 5).collect())
            .collect();
        serde_json::to_string(&m).unwrap()
    };
    let big = json!({"A": rows(n, n + 1), "B": rows(n + 1, n)}).to_string();
    let (status, split_task) = json_call(b, "POST", "/task", &big);
    assert_eq!(status, 200);
    let split_id = split_task["taskId"].as_u64().unwrap();
    let coordinators = [a, b, c];
    let mut parts = 0;
    for turn in 0..10 {
        let via = coordinators[turn % 3];
        let (status, lease) = json_call(via, "GET", "/task/next?workerId=honest&token=1", "");
        if status == 204 {
            break;
        }
        let id = lease["taskId"].as_u64().unwrap();
        let data = lease["data"].to_string();
        let token = lease["leaseToken"].as_str().unwrap();
        let result = json!({ "result": product(&data) }).to_string();
        let answer_via = coordinators[(turn + 1) % 3];
        let path = format!("/task/{id}/result?workerId=honest&leaseToken={token}");
        let (status, answer) = json_call(answer_via, "POST", &path, &result);
        assert_eq!(status, 200, "{answer}");
        // Part ids count down from i32::MAX; the dishonest task comes first.
        if id > 1_000_000 {
            parts += 1;
        }
    }
    assert!(parts >= 2, "the product was split into {parts} parts");
    let expected = product(&big);
    for addr in coordinators {
        let (status, read) = json_call(addr, "GET", &format!("/result/{split_id}"), "");
        assert_eq!(status, 200);
        assert_eq!(read["status"], "completed", "{read}");
        assert_eq!(read["result"].as_str().unwrap(), expected);
    }
    let stats = coordinators.map(counters);
    assert!(stats.iter().all(|s| *s == stats[0]), "{stats:?}");
    println!(
        "split task {split_id} assembled from {parts} parts; /stats through A, B, C: {:?}",
        stats[0]
    );
}

/// A lease as a worker saw it.
#[derive(Debug, Clone)]
struct Grant {
    worker: usize,
    lease: u64,
    at: Instant,
    /// When its answer was acknowledged (never for an abandoned lease).
    answered: Option<Instant>,
}

#[derive(Default)]
struct Seen {
    /// Acknowledged submissions: id to data.
    acked: HashMap<u64, String>,
    /// Every lease handed out, by task.
    grants: HashMap<u64, Vec<Grant>>,
    submit_errors: u64,
    worker_errors: u64,
}

/// Where clients send their requests (nginx, in front of the three).
type Addrs = Arc<Mutex<Vec<SocketAddr>>>;

fn pick(addrs: &Addrs, turn: u64) -> SocketAddr {
    let addrs = addrs.lock().unwrap();
    addrs[turn as usize % addrs.len()]
}

fn task_data(seed: u64) -> String {
    let n = 2 + (seed % 4) as usize;
    let m = |r: usize, k: usize, salt: u64| {
        let m: Vec<Vec<i64>> = (0..r)
            .map(|i| {
                (0..k)
                    .map(|j| ((seed + salt + i as u64 * 31 + j as u64 * 17) % 19) as i64 - 9)
                    .collect()
            })
            .collect();
        serde_json::to_string(&m).unwrap()
    };
    json!({"A": m(n, n + 1, 1), "B": m(n + 1, n, 2)}).to_string()
}

fn submitter(k: u64, addrs: Addrs, stop: Arc<AtomicBool>, seen: Arc<Mutex<Seen>>) {
    let mut turn = k;
    while !stop.load(Ordering::Relaxed) {
        turn += 1;
        let data = task_data(turn * 7919 + k);
        match call(pick(&addrs, turn), "POST", "/task", data.as_bytes()) {
            Ok((200, body)) => {
                let id = serde_json::from_slice::<Value>(&body).unwrap()["taskId"]
                    .as_u64()
                    .unwrap();
                let mut seen = seen.lock().unwrap();
                assert!(
                    seen.acked.insert(id, data).is_none(),
                    "id {id} given out twice"
                );
            }
            _ => seen.lock().unwrap().submit_errors += 1,
        }
        std::thread::sleep(Duration::from_millis(15));
    }
}

fn worker(
    k: usize,
    addrs: Addrs,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    leases: Arc<AtomicU64>,
) {
    let mut turn = k as u64;
    let path = format!("/task/next?workerId=w{k}&wait=1&token=1");
    while !stop.load(Ordering::Relaxed) {
        turn += 1;
        let Ok((200, body)) = call(pick(&addrs, turn), "GET", &path, b"") else {
            continue;
        };
        let lease: Value = serde_json::from_slice(&body).unwrap();
        let id = lease["taskId"].as_u64().unwrap();
        let token = lease["leaseToken"].as_str().unwrap().to_owned();
        let number = u64::from_str_radix(token.split('-').next().unwrap(), 16).unwrap();
        let n = leases.fetch_add(1, Ordering::Relaxed);
        let grant = Grant {
            worker: k,
            lease: number,
            at: Instant::now(),
            answered: None,
        };
        let index = {
            let mut seen = seen.lock().unwrap();
            let grants = seen.grants.entry(id).or_default();
            grants.push(grant);
            grants.len() - 1
        };
        if n % 10 == 3 {
            continue; // abandoned: its lease expires and the task comes back
        }
        let result = json!({ "result": product(&lease["data"].to_string()) }).to_string();
        let answer = format!("/task/{id}/result?workerId=w{k}&leaseToken={token}");
        // A coordinator killed mid-answer: the same token works on another.
        for attempt in 0..6 {
            match call(
                pick(&addrs, turn + attempt),
                "POST",
                &answer,
                result.as_bytes(),
            ) {
                Ok((200, _)) => {
                    seen.lock().unwrap().grants.get_mut(&id).unwrap()[index].answered =
                        Some(Instant::now());
                    break;
                }
                _ => seen.lock().unwrap().worker_errors += 1,
            }
        }
    }
}

#[test]
fn behind_nginx_a_killed_coordinator_loses_no_acknowledged_task_and_no_lease_is_shared() {
    let redis = RedisServer::start();
    let no_split = ["--no-split"];
    let ports = [free_port(), free_port(), free_port()];
    let mut processes: Vec<Process> = ports
        .iter()
        .map(|&port| start_at(&redis, port, &no_split))
        .collect();
    // Clients reach the three through nginx, as the README sets it up.
    let lb_port = free_port();
    let nginx = Nginx::start(&readme_nginx(ports, lb_port), lb_port);
    let addrs: Addrs = Arc::new(Mutex::new(vec![nginx.addr]));
    let stop_submitting = Arc::new(AtomicBool::new(false));
    let stop_working = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let leases = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for k in 0..2 {
        let (addrs, stop, seen) = (addrs.clone(), stop_submitting.clone(), seen.clone());
        threads.push(std::thread::spawn(move || submitter(k, addrs, stop, seen)));
    }
    let mut workers = Vec::new();
    for k in 0..4 {
        let (addrs, stop, seen, leases) = (
            addrs.clone(),
            stop_working.clone(),
            seen.clone(),
            leases.clone(),
        );
        workers.push(std::thread::spawn(move || {
            worker(k, addrs, stop, seen, leases)
        }));
    }
    std::thread::sleep(Duration::from_secs(2));
    // SIGKILL the second coordinator mid-run; restart it two seconds later.
    processes.remove(1).kill();
    std::thread::sleep(Duration::from_secs(2));
    processes.insert(1, start_at(&redis, ports[1], &no_split));
    std::thread::sleep(Duration::from_secs(2));
    stop_submitting.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
    // Drain: abandoned leases expire and are handed out again.
    let first = processes[0].addr;
    let drained = Instant::now();
    loop {
        let [total, completed, active, queued, failed] = counters(first);
        if active == 0 && queued == 0 && completed + failed == total {
            break;
        }
        assert!(
            drained.elapsed() < Duration::from_secs(40),
            "not drained: {total} {completed} {active} {queued}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    stop_working.store(true, Ordering::Relaxed);
    for thread in workers {
        thread.join().unwrap();
    }

    let seen = seen.lock().unwrap();
    let addrs: Vec<SocketAddr> = processes.iter().map(|p| p.addr).collect();
    for (n, (id, data)) in seen.acked.iter().enumerate() {
        let (status, read) = json_call(addrs[n % 3], "GET", &format!("/result/{id}"), "");
        assert_eq!(status, 200, "task {id}: {read}");
        assert_eq!(read["status"], "completed", "task {id}: {read}");
        assert_eq!(read["result"].as_str().unwrap(), product(data), "task {id}");
    }
    // No task handed to a second worker inside a live lease: each later
    // lease of a task starts after the earlier one was answered or expired
    // (less 300 ms for the time an answer takes to reach the worker).
    let lease = Duration::from_secs(LEASE_SECS) - Duration::from_millis(300);
    let mut rehanded = 0;
    for (id, grants) in &seen.grants {
        for pair in grants.windows(2) {
            let (earlier, later) = (&pair[0], &pair[1]);
            assert!(
                later.lease > earlier.lease,
                "task {id}: lease numbers {grants:?}"
            );
            let ended = earlier
                .answered
                .map_or(earlier.at + lease, |t| t.min(earlier.at + lease));
            assert!(
                later.at >= ended,
                "task {id} handed to worker {} inside worker {}'s lease: {grants:?}",
                later.worker,
                earlier.worker
            );
            rehanded += 1;
        }
    }
    let mut stats: Vec<[u64; 5]> = addrs.iter().map(|&a| counters(a)).collect();
    stats.push(counters(nginx.addr));
    assert!(
        stats.iter().all(|s| *s == stats[0]),
        "/stats differ: {stats:?}"
    );
    let [total, completed, _, _, failed] = stats[0];
    assert_eq!(failed, 0);
    assert_eq!(completed, total, "every task completed exactly once");
    assert!(seen.acked.len() as u64 <= total);
    assert!(
        seen.acked.len() > 20,
        "too little load: {}",
        seen.acked.len()
    );
    println!(
        "acknowledged {} tasks ({} submissions failed while a coordinator was down), \
         {} leases ({} handed out again after an expiry or a lost answer), \
         {} worker calls failed; /stats through all three and nginx: total {total}, completed {completed}, failed {failed}",
        seen.acked.len(),
        seen.submit_errors,
        leases.load(Ordering::Relaxed),
        rehanded,
        seen.worker_errors,
    );
}

/// One request; the status, the `Retry-After` header and the body.
fn raw(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, Option<String>, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let retry = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("retry-after")
            .then(|| value.trim().to_owned())
    });
    (status, retry, body.to_owned())
}

#[test]
fn while_redis_is_down_requests_answer_503_and_the_coordinator_reconnects() {
    let mut redis = RedisServer::start();
    let coordinator = start(&redis, &[]);
    let addr = coordinator.addr;
    let data = r#"{"A":"[[2]]","B":"[[21]]"}"#;
    assert_eq!(raw(addr, "POST", "/task", data).0, 200);
    redis.kill();
    let started = Instant::now();
    for (method, path, body) in [
        ("POST", "/task", data),
        ("GET", "/task/next?workerId=w1", ""),
        ("GET", "/result/1", ""),
        ("GET", "/stats", ""),
        ("GET", "/health", ""),
    ] {
        let (status, retry, body) = raw(addr, method, path, body);
        assert_eq!(status, 503, "{method} {path}: {body}");
        assert!(retry.is_some(), "{method} {path}: no Retry-After");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert!(error["error"].as_str().unwrap().contains("Redis"), "{body}");
    }
    println!(
        "five requests answered 503 in {} ms with Redis down",
        started.elapsed().as_millis()
    );
    redis.restart();
    let back = Instant::now();
    while raw(addr, "GET", "/health", "").0 != 200 {
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "no reconnection:\n{}",
            coordinator.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "healthy again {} ms after Redis came back",
        back.elapsed().as_millis()
    );
    // The restarted Redis kept nothing (no persistence): ids start again.
    let (status, _, body) = raw(addr, "POST", "/task", data);
    assert_eq!((status, body.as_str()), (200, r#"{"taskId":1}"#));
    let (status, _, lease) = raw(addr, "GET", "/task/next?workerId=w1", "");
    assert_eq!(status, 200, "{lease}");
}

/// Two coordinators on `redis` that do not split tasks.
fn two_unsplit(redis: &RedisServer) -> [Process; 2] {
    [0, 1].map(|_| start(redis, &["--no-split"]))
}

/// Task reads (`HSTRLEN` runs in every read of a task without its data)
/// Redis has answered so far.
fn task_reads(redis: &RedisServer) -> u64 {
    redis.calls("hstrlen")
}

#[test]
fn a_result_completed_here_is_read_from_this_coordinators_copy_until_redis_restarts() {
    let mut redis = RedisServer::start();
    let [a, b] = two_unsplit(&redis);
    let (a, b) = (a.addr, b.addr);
    let data = r#"{"A":"[[2]]","B":"[[21]]"}"#;
    assert_eq!(json_call(a, "POST", "/task", data).1["taskId"], 1);
    let (status, lease) = json_call(a, "GET", "/task/next?workerId=w1", "");
    assert_eq!(status, 200, "{lease}");
    let path = "/task/1/result?workerId=w1";
    assert_eq!(json_call(a, "POST", path, r#"{"result":"[[42]]"}"#).0, 200);

    // Through A, which completed it: its copy, no read of Redis.
    let before = task_reads(&redis);
    let (status, view) = json_call(a, "GET", "/result/1", "");
    assert_eq!((status, &view["result"]), (200, &json!("[[42]]")), "{view}");
    let through_a = task_reads(&redis) - before;
    // Through B, which never saw it: read from Redis, the same answer.
    let before = task_reads(&redis);
    let (status, view_b) = json_call(b, "GET", "/result/1", "");
    assert_eq!((status, &view_b), (200, &view));
    let through_b = task_reads(&redis) - before;
    println!("task reads of Redis for GET /result/1: {through_a} through A, {through_b} through B");
    assert_eq!(through_a, 0);
    assert!(through_b >= 1);

    // Redis restarts empty and ids count from 1 again: the new task 1 is
    // not answered with the old one's result.
    redis.restart();
    let back = Instant::now();
    while [a, b]
        .iter()
        .any(|&addr| call(addr, "GET", "/health", b"").unwrap().0 != 200)
    {
        assert!(back.elapsed() < Duration::from_secs(15), "no reconnection");
        std::thread::sleep(Duration::from_millis(100));
    }
    let other = r#"{"A":"[[3]]","B":"[[5]]"}"#;
    assert_eq!(json_call(b, "POST", "/task", other).1["taskId"], 1);
    let (status, view) = json_call(a, "GET", "/result/1", "");
    assert_eq!(
        (status, &view["status"]),
        (200, &json!("pending")),
        "{view}"
    );
}

/// Script runs (`EVALSHA`) Redis has answered so far: one for each write
/// and one for each read of the head of the queue.
fn script_runs(redis: &RedisServer) -> u64 {
    redis.calls("evalsha")
}

/// `coordinator_shared_writes_total` of the coordinator at `addr`, by its
/// labels as written (`decision="lease",from="copy",outcome="written"`).
fn shared_writes(addr: SocketAddr) -> HashMap<String, u64> {
    let (status, body) = call(addr, "GET", "/metrics", b"").unwrap();
    assert_eq!(status, 200);
    String::from_utf8(body)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("coordinator_shared_writes_total{"))
        .filter_map(|rest| rest.split_once("} "))
        .map(|(labels, count)| (labels.to_owned(), count.parse().unwrap()))
        .collect()
}

/// How much each count of `after` grew since `before` (the counts that
/// did not grow left out).
fn grown(before: &HashMap<String, u64>, after: &HashMap<String, u64>) -> HashMap<String, u64> {
    after
        .iter()
        .map(|(labels, n)| (labels.clone(), n - before.get(labels).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[test]
fn a_lease_takes_a_task_submitted_through_its_coordinator_in_one_round_trip_in_queue_order() {
    let redis = RedisServer::start();
    let [a, b] = two_unsplit(&redis);
    let (a, b) = (a.addr, b.addr);
    let task = |n: u64| format!(r#"{{"A":"[[{n}]]","B":"[[1]]"}}"#);
    let submit = |addr, n| {
        let (status, body) = json_call(addr, "POST", "/task", &task(n));
        assert_eq!(status, 200, "{body}");
        body["taskId"].as_u64().unwrap()
    };
    let lease = |addr| {
        let (status, body) = json_call(addr, "GET", "/task/next?workerId=w1", "");
        assert_eq!(status, 200, "{body}");
        (body["taskId"].as_u64().unwrap(), body["data"]["A"].clone())
    };

    // Submitted through A and leased through A: the lease is one write
    // decided on A's copy of the task (with its data), no read.
    let first = submit(a, 1);
    let (runs, reads) = (script_runs(&redis), task_reads(&redis));
    assert_eq!(lease(a), (first, json!("[[1]]")));
    let lease_runs = script_runs(&redis) - runs;
    println!("a lease through the coordinator the task was submitted to: {lease_runs} script run");
    assert_eq!((lease_runs, task_reads(&redis) - reads), (1, 0));

    // Tasks submitted through one coordinator are leased in their order.
    let (p, q) = (submit(a, 2), submit(a, 3));
    assert_eq!((lease(a).0, lease(a).0), (p, q));

    // A task submitted through B first is at the head of the queue: a
    // lease through A takes it before A's own, and A's own next.
    let older = submit(b, 4);
    let newer = submit(a, 5);
    assert_eq!(lease(a), (older, json!("[[4]]")));
    assert_eq!(lease(a), (newer, json!("[[5]]")));
    // And through B, a task submitted through A.
    let from_a = submit(a, 6);
    assert_eq!(lease(b), (from_a, json!("[[6]]")));
}

#[test]
fn a_lease_that_finds_another_coordinators_task_first_takes_it_without_a_second_read() {
    let redis = RedisServer::start();
    let [a, b] = two_unsplit(&redis);
    let (a, b) = (a.addr, b.addr);
    let data = r#"{"A":"[[2]]","B":"[[3]]"}"#;
    // Each round a task through B, then one through A, both leased
    // through A: B's comes first. A's first lease tries its copy of its
    // own task; the write finds B's at the head, writes nothing and
    // answers with it, and the lease takes it (two script runs, as a read
    // of the head and a write). The second lease takes A's task from the
    // copy (one). With the two submissions: five a round.
    let rounds = 40;
    let mut runs = 0;
    let mut writes = [HashMap::new(), HashMap::new()];
    // The first round loads the scripts into Redis (a first call that
    // Redis refuses, then the call again): counting starts after it.
    for round in 0..=rounds {
        if round == 1 {
            runs = script_runs(&redis);
            writes = [shared_writes(a), shared_writes(b)];
        }
        let older = json_call(b, "POST", "/task", data).1["taskId"].clone();
        let newer = json_call(a, "POST", "/task", data).1["taskId"].clone();
        let leased: Vec<Value> = (0..2)
            .map(|_| json_call(a, "GET", "/task/next?workerId=w1", "").1["taskId"].clone())
            .collect();
        assert_eq!(leased, vec![older, newer]);
    }
    let used = script_runs(&redis) - runs;
    println!("{rounds} rounds with another coordinator's task first: {used} script runs");
    assert_eq!(used, 5 * rounds);
    // The metrics tell the same: on A, per round, a lease on its copy
    // found B's task first, a lease on that read wrote, a lease on its copy
    // wrote, and a submission wrote; on B a submission; nothing stale.
    let label = |decision: &str, from: &str, outcome: &str| {
        format!(r#"decision="{decision}",from="{from}",outcome="{outcome}""#)
    };
    let on_a = grown(&writes[0], &shared_writes(a));
    let expected_a = HashMap::from([
        (label("lease", "copy", "behind"), rounds),
        (label("lease", "read", "written"), rounds),
        (label("lease", "copy", "written"), rounds),
        (label("submit", "copy", "written"), rounds),
    ]);
    assert_eq!(on_a, expected_a);
    let on_b = grown(&writes[1], &shared_writes(b));
    let expected_b = HashMap::from([(label("submit", "copy", "written"), rounds)]);
    assert_eq!(on_b, expected_b);
}

/// The `/stats` line of worker `id` on the coordinator at `addr`.
fn worker_line(addr: SocketAddr, id: &str) -> Value {
    let (_, stats) = json_call(addr, "GET", "/stats", "");
    stats["workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["workerId"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} is not in {stats}"))
}

#[test]
fn a_result_decided_on_a_stale_copy_is_counted_once_as_it_was_written() {
    let redis = RedisServer::start();
    let [a, b] = two_unsplit(&redis);
    let (a, b) = (a.addr, b.addr);
    let (status, created) = json_call(
        a,
        "POST",
        "/task",
        r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#,
    );
    assert_eq!(status, 200, "{created}");
    let id = created["taskId"].as_u64().unwrap();
    // Leased through A by w1: A keeps its copy of the task as leased.
    let (_, lease) = json_call(a, "GET", "/task/next?workerId=w1", "");
    assert_eq!(lease["taskId"], id);
    // Given back through B and leased there by w2: A's copy is behind.
    let (status, _) = json_call(b, "POST", &format!("/task/{id}/release?workerId=w1"), "");
    assert_eq!(status, 200);
    let (_, lease) = json_call(b, "GET", "/task/next?workerId=w2", "");
    assert_eq!(lease["taskId"], id);
    // w1, no longer the holder, posts a wrong product through A: refused,
    // and counted against nobody.
    let wrong = r#"{"result":"[[0,0],[0,0]]"}"#;
    let (status, answer) = json_call(a, "POST", &format!("/task/{id}/result?workerId=w1"), wrong);
    assert_eq!(status, 422, "{answer}");
    let w1 = worker_line(a, "w1");
    assert_eq!(w1["resultsRejected"], 0, "{w1}");
    // w2 answers right through A, whose copy still has w1 holding the
    // task: decided on that copy, the write is refused; decided again on
    // a read, it completes the task. The credit counts once (twice when
    // the refused decision's credit was kept).
    let right = r#"{"result":"[[19,22],[43,50]]"}"#;
    let (status, answer) = json_call(a, "POST", &format!("/task/{id}/result?workerId=w2"), right);
    assert_eq!(status, 200, "{answer}");
    let w2 = worker_line(a, "w2");
    assert_eq!(w2["tasksCompleted"], 1, "{w2}");
}

#[test]
fn max_tasks_holds_for_the_cluster_under_concurrent_submissions() {
    let redis = RedisServer::start();
    let limit = ["--max-tasks", "20", "--no-split"];
    let (a, b) = (start(&redis, &limit), start(&redis, &limit));
    let addrs = [a.addr, b.addr];
    let submitters: Vec<_> = (0..8)
        .map(|k| {
            std::thread::spawn(move || {
                let mut accepted = 0;
                for n in 0..10 {
                    let data = format!(r#"{{"k":{k},"n":{n}}}"#);
                    let (status, _) = json_call(addrs[(k + n) % 2], "POST", "/task", &data);
                    assert!(status == 200 || status == 503, "{status}");
                    accepted += usize::from(status == 200);
                }
                accepted
            })
        })
        .collect();
    let accepted: usize = submitters.into_iter().map(|t| t.join().unwrap()).sum();
    let (_, stats) = json_call(a.addr, "GET", "/stats", "");
    println!(
        "80 concurrent submissions through two coordinators, --max-tasks 20: {accepted} accepted, heldTasks {}",
        stats["heldTasks"]
    );
    assert_eq!(accepted, 20, "the cluster holds exactly its limit");
    assert_eq!(stats["heldTasks"], 20);
    assert_eq!(stats["totalTasks"], 20);
}

#[test]
fn a_quorum_counts_votes_posted_through_different_coordinators() {
    let redis = RedisServer::start();
    let flags = ["--replicas", "3", "--quorum", "2", "--no-split"];
    let (a, b) = (start(&redis, &flags), start(&redis, &flags));
    // A task nothing can check: only the quorum decides its result.
    let (status, created) = json_call(a.addr, "POST", "/task", r#""tally the votes""#);
    assert_eq!(status, 200, "{created}");
    let id = created["taskId"].as_u64().unwrap();
    let workers = [
        (2u8, "liar", "lie"),
        (3, "honest-a", "truth"),
        (4, "honest-b", "truth"),
    ];
    let lease_via = [a.addr, b.addr, a.addr];
    let mut tokens = Vec::new();
    for ((n, name, _), via) in workers.iter().zip(lease_via) {
        let path = format!("/task/next?workerId={name}&token=1");
        let (status, body) = call_from(*n, via, "GET", &path, b"").unwrap();
        let lease: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        assert_eq!(
            (status, lease["taskId"].as_u64()),
            (200, Some(id)),
            "{name}: {lease}"
        );
        tokens.push(lease["leaseToken"].as_str().unwrap().to_owned());
    }
    // Neither coordinator hands out a second replica to an address that
    // holds one, or a fourth replica at all.
    for (n, via) in [(2u8, b.addr), (3, a.addr), (5, a.addr), (5, b.addr)] {
        let (status, body) = call_from(n, via, "GET", "/task/next?workerId=another", b"").unwrap();
        assert_eq!(
            status,
            204,
            "127.0.0.{n}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    // Each vote goes through the coordinator that did not lease it.
    let mut statuses = Vec::new();
    for (((n, name, answer), via), token) in
        workers.iter().zip([b.addr, a.addr, b.addr]).zip(&tokens)
    {
        let path = format!("/task/{id}/result?workerId={name}&leaseToken={token}");
        let body = json!({ "result": answer }).to_string();
        let (status, view) = call_from(*n, via, "POST", &path, body.as_bytes()).unwrap();
        let view: Value = serde_json::from_slice(&view).unwrap_or(Value::Null);
        assert_eq!(status, 200, "{name}: {view}");
        statuses.push(view["status"].as_str().unwrap_or("?").to_owned());
    }
    for addr in [a.addr, b.addr] {
        let (status, view) = json_call(addr, "GET", &format!("/result/{id}"), "");
        assert_eq!(status, 200);
        assert_eq!(
            (view["status"].as_str(), view["result"].as_str()),
            (Some("completed"), Some("truth")),
            "{view}"
        );
    }
    let [total, completed, active, queued, failed] = counters(a.addr);
    assert_eq!(counters(b.addr), [total, completed, active, queued, failed]);
    assert_eq!([total, completed, active, queued, failed], [1, 1, 0, 0, 0]);
    println!(
        "3 replicas leased through two coordinators, none twice to an address, no fourth; votes lie, truth, truth through the others left the task {statuses:?}; completed once with \"truth\""
    );
}
