//! The Dana client stubs (`dana/`) tested at the wire.
//!
//! No Dana toolchain runs here, so the bytes are the test. The component
//! (`dana/coordinator/Coordinator.dn`) and the browser main app's loop
//! (`dana/app/MainAppLoop.dn`) are mirrored call by call in Rust (`dana_http::component`,
//! `dana_http::main_loop`); every request they write must be one of the blocks of
//! `dana/wire/WIRE.md`, byte for byte, and is sent over a raw TCP socket to the real
//! coordinator (or, for answers the coordinator never gives, to a small fake server). Each
//! answer is read the way Dana's `HTTPRequest` reads it, and each test asserts what the
//! component returns and what its `lastError()` reports: success, a coordinator that cannot be
//! reached, 404, 400, a failed task, refused submissions and malformed answers. The blocks
//! themselves are checked against a copy of `HTTPRequest`'s request writer and `JSONEncoder`'s
//! output, and the texts of the Rust copies against the Dana sources.
//!
//! With `COORDINATOR_TEST_REDIS=redis://127.0.0.1:PORT` the same replay runs against
//! coordinators that keep their tasks in that Redis (`--redis`), each on a database of its own.

#[allow(dead_code)]
mod dana_http;
#[allow(dead_code)]
mod dana_source;

use std::collections::{BTreeMap, BTreeSet};
use std::future;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use dana_http::component::{
    self, DanaCoordinator, PollPlan, STATUS_COMPLETED, STATUS_ERROR, STATUS_FAILED, STATUS_PENDING,
    STATUS_PROCESSING, STATUS_UNKNOWN, STATUS_UNREACHABLE,
};
use dana_http::main_loop::{self, MainAppLoop, Step};
use dana_http::{DanaAnswer, WireBook};

/// The one place that lists the bytes.
const WIRE: &str = include_str!("../../dana/wire/WIRE.md");
/// The Dana interface (constants: default URL, poll timing, statuses; method list).
const INTERFACE: &str = include_str!("../../dana/resources/coordinator/Coordinator.dn");
/// The Dana component.
const COMPONENT: &str = include_str!("../../dana/coordinator/Coordinator.dn");
/// The blocking example app.
const MAIN_WASM: &str = include_str!("../../dana/app/mainWasm.dn");
/// The browser main app's loop.
const MAIN_APP_LOOP: &str = include_str!("../../dana/app/MainAppLoop.dn");

/// The example matrices of the apps and their product.
const A: &str = "[[1,2],[3,4]]";
const B: &str = "[[5,6],[7,8]]";
const PRODUCT: &str = "[[19,22],[43,50]]";
/// The mismatched task's right matrix, which the coordinator refuses.
const B_MISMATCHED: &str = "[[1],[2],[3]]";
/// The overflowing task's matrices and the worker's error for it.
const A_HUGE: &str = "[[9223372036854775807]]";
const B_DOUBLE: &str = "[[2]]";
const OVERFLOW_ERROR: &str =
    "integer overflow: element (0,0) of the product does not fit in a 64-bit integer";
/// A product with one element wrong, which the coordinator's check rejects.
const WRONG_PRODUCT: &str = "[[19,22],[43,51]]";

/// How long a test drives the browser loop before giving up (a safety net, not a timing check).
const LOOP_DEADLINE: Duration = Duration::from_secs(20);

/// A coordinator on `127.0.0.1:0`, served by its own runtime until dropped.
struct Server {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start() -> Self {
        Self::start_with(coordinator::Config::default())
    }

    /// A coordinator with `config`; on a Redis database of its own when
    /// `COORDINATOR_TEST_REDIS` names a Redis (`redis://127.0.0.1:PORT`,
    /// started with enough databases: `.ci/test.sh` runs the replay so).
    fn start_with(mut config: coordinator::Config) -> Self {
        if let Ok(base) = std::env::var("COORDINATOR_TEST_REDIS") {
            static NEXT_DB: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
            let db = NEXT_DB.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            flush_db(&base, db);
            config.redis = Some(format!("{}/{db}", base.trim_end_matches('/')));
        }
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        runtime.spawn(coordinator::serve(listener, config, future::pending()));
        Self {
            addr,
            _runtime: runtime,
        }
    }

    /// Sends block `name` of WIRE.md and reads the answer as Dana does, checking the framing
    /// rules every answer must follow for Dana to read it whole.
    fn send(&self, book: &WireBook, name: &str) -> DanaAnswer {
        let answer = dana_http::exchange(self.addr, book.request(name))
            .unwrap_or_else(|e| panic!("{name}: exchange failed: {e}"));
        readable_by_dana(name, answer)
    }
}

/// Empties database `db` of the Redis at `base` (other suites and earlier runs use the same
/// databases).
fn flush_db(base: &str, db: u32) {
    let addr = base.trim_start_matches("redis://").trim_end_matches('/');
    let mut stream = TcpStream::connect(addr).expect("the tests' Redis");
    stream
        .write_all(format!("SELECT {db}\r\nFLUSHDB\r\n").as_bytes())
        .expect("write to Redis");
    let mut answer = Vec::new();
    let mut buf = [0; 64];
    while !answer.ends_with(b"+OK\r\n+OK\r\n") {
        let n = stream.read(&mut buf).expect("read from Redis");
        assert!(n > 0, "Redis at {base} closed the connection");
        answer.extend_from_slice(&buf[..n]);
    }
}

/// Checks what every coordinator answer must be for Dana's `HTTPRequest` to read it whole.
fn readable_by_dana(name: &str, answer: DanaAnswer) -> DanaAnswer {
    assert!(
        answer.status_line.starts_with("HTTP/1.1 "),
        "{name}: status line {:?}",
        answer.status_line
    );
    assert!(
        !answer.response_code.is_empty(),
        "{name}: Dana reads no code from the status line {:?}",
        answer.status_line
    );
    assert!(
        answer.leftover.is_empty(),
        "{name}: the server sent {} bytes Dana never reads ({:?}); answer headers {:?}",
        answer.leftover.len(),
        String::from_utf8_lossy(&answer.leftover),
        answer.headers
    );
    // Dana reads a body only by content-length or chunked encoding. The API answers are
    // held to content-length: older HTTPRequest versions read 4 bytes after the last chunk
    // where 2 come, and would wait on a keep-alive connection.
    assert!(
        answer.header("content-length").is_some() || answer.response_code == "204",
        "{name}: an API answer without content-length: {:?}",
        answer.headers
    );
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("*"),
        "{name}: CORS header as Dana reads it"
    );
    answer
}

/// Where the Rust copies' requests go: every request must be a block of WIRE.md; it is sent
/// to `addr` (which a test may move, as if the coordinator restarted elsewhere) and the block
/// names are logged in order. A refused connection is Dana's null answer.
#[derive(Clone)]
struct Wire {
    book: Arc<WireBook>,
    addr: Arc<Mutex<SocketAddr>>,
    sent: Arc<Mutex<Vec<String>>>,
    /// Whether answers are held to the framing rules of [`readable_by_dana`] (not for the fake
    /// servers of the malformed-answer tests).
    strict: bool,
}

impl Wire {
    fn to(addr: SocketAddr) -> Self {
        Self {
            book: Arc::new(book()),
            addr: Arc::new(Mutex::new(addr)),
            sent: Arc::new(Mutex::new(Vec::new())),
            strict: true,
        }
    }

    fn lenient(addr: SocketAddr) -> Self {
        Self {
            strict: false,
            ..Self::to(addr)
        }
    }

    fn point_at(&self, addr: SocketAddr) {
        *self.addr.lock().expect("address") = addr;
    }

    /// Block names sent so far.
    fn sent(&self) -> Vec<String> {
        self.sent.lock().expect("log").clone()
    }

    fn send(&self, name: &str) -> DanaAnswer {
        let addr = *self.addr.lock().expect("address");
        let answer = dana_http::exchange(addr, self.book.request(name))
            .unwrap_or_else(|e| panic!("{name}: exchange failed: {e}"));
        readable_by_dana(name, answer)
    }

    /// `HTTPRequest` as the component sees it.
    fn transport(&self) -> impl FnMut(&[u8]) -> Option<DanaAnswer> + Send + 'static {
        let wire = self.clone();
        move |request| {
            let name = wire
                .book
                .name_of(request)
                .unwrap_or_else(|| {
                    panic!(
                        "the component wrote bytes that WIRE.md does not list:\n{}",
                        String::from_utf8_lossy(request)
                    )
                })
                .to_owned();
            wire.sent.lock().expect("log").push(name.clone());
            let addr = *wire.addr.lock().expect("address");
            match dana_http::exchange(addr, request) {
                Ok(answer) if wire.strict => Some(readable_by_dana(&name, answer)),
                Ok(answer) => Some(answer),
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => None,
                Err(e) => panic!("{name}: exchange failed: {e}"),
            }
        }
    }

    /// A `coordinator.Coordinator` object whose requests go here.
    fn coordinator(
        &self,
    ) -> DanaCoordinator<impl FnMut(&[u8]) -> Option<DanaAnswer> + Send + 'static> {
        DanaCoordinator::new(base_url(), poll_plan(), self.transport())
    }
}

fn book() -> WireBook {
    WireBook::parse(WIRE)
}

fn base_url() -> &'static str {
    dana_http::dana_constant(INTERFACE, "DEFAULT_URL").expect("DEFAULT_URL in the interface")
}

fn dana_int(source: &str, name: &str) -> i64 {
    dana_http::dana_constant(source, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} in the Dana source"))
}

fn poll_plan() -> PollPlan {
    PollPlan {
        first_ms: dana_int(INTERFACE, "POLL_FIRST_MS"),
        max_ms: dana_int(INTERFACE, "POLL_MAX_MS"),
    }
}

/// A port nothing listens on: connecting to it is refused.
fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local address")
}

/// Reads one request (head, then a body by `content-length:`) as the coordinator would.
fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut request = Vec::new();
    let mut byte = [0; 1];
    while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).expect("read") == 1 {
        request.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&request).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse::<usize>().expect("length"));
    let mut body = vec![0; length];
    stream.read_exact(&mut body).expect("body");
    request.extend(body);
    request
}

/// Serves one connection with `answer` (after `release` says so, when given) and closes it,
/// returning what the client wrote.
fn fake_server(
    answer: Vec<u8>,
    release: Option<mpsc::Receiver<()>>,
) -> (SocketAddr, thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local address");
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let request = read_request(&mut stream);
        if let Some(release) = release {
            release.recv().expect("release");
        }
        stream.write_all(&answer).expect("write");
        request
    });
    (addr, handle)
}

#[test]
fn wire_blocks_are_what_dana_http_request_writes() {
    let book = book();
    let url = base_url();
    let json = [("Content-Type", "application/json")];
    let post = |path: &str, headers: &[(&str, &str)], fields: &[(&str, &str)]| {
        dana_http::request_bytes(
            "POST",
            &format!("{url}{path}"),
            headers,
            dana_http::json_from_string_fields(fields).as_bytes(),
        )
    };
    let get = |path: &str| dana_http::request_bytes("GET", &format!("{url}{path}"), &[], b"");
    let cancel = |path: &str| dana_http::request_bytes("POST", &format!("{url}{path}"), &[], b"");
    let expected: [(&str, Vec<u8>); 12] = [
        ("submit_task", post("/task", &json, &[("A", A), ("B", B)])),
        (
            "submit_task_mismatched",
            post("/task", &json, &[("A", A), ("B", B_MISMATCHED)]),
        ),
        (
            "submit_task_overflowing",
            post("/task", &json, &[("A", A_HUGE), ("B", B_DOUBLE)]),
        ),
        ("poll_result_1", get("/result/1")),
        ("poll_result_0", get("/result/0")),
        ("poll_result_999", get("/result/999")),
        ("worker_next", get("/task/next?workerId=dana-wire")),
        (
            "worker_result_1",
            post("/task/1/result", &[], &[("result", PRODUCT)]),
        ),
        (
            "worker_wrong_result_1",
            post("/task/1/result", &[], &[("result", WRONG_PRODUCT)]),
        ),
        (
            "worker_error_1",
            post("/task/1/result", &[], &[("error", OVERFLOW_ERROR)]),
        ),
        ("cancel_task_1", cancel("/task/1/cancel")),
        ("cancel_task_999", cancel("/task/999/cancel")),
    ];
    let mut names: Vec<&str> = expected.iter().map(|(name, _)| *name).collect();
    names.sort_unstable();
    assert_eq!(book.names(), names, "every block of WIRE.md is checked");
    for (name, bytes) in &expected {
        assert_eq!(
            String::from_utf8_lossy(book.request(name)),
            String::from_utf8_lossy(bytes),
            "block {name}"
        );
    }
    // The component sends what the blocks say: the header and the URLs it builds.
    assert!(COMPONENT.contains(r#"new Header("Content-Type", "application/json")"#));
    assert!(COMPONENT.contains(r#"request.post("$baseUrl/task", headers, body)"#));
    assert!(COMPONENT.contains(r#"request.get("$baseUrl/result/$taskId", null)"#));
    assert!(COMPONENT.contains(r#"request.post("$baseUrl/task/$taskId/cancel", null, "")"#));
}

#[test]
fn the_rust_copies_use_the_interfaces_constants() {
    for (name, value) in [
        ("STATUS_PENDING", STATUS_PENDING),
        ("STATUS_PROCESSING", STATUS_PROCESSING),
        ("STATUS_COMPLETED", STATUS_COMPLETED),
        ("STATUS_FAILED", STATUS_FAILED),
        ("STATUS_UNREACHABLE", STATUS_UNREACHABLE),
        ("STATUS_UNKNOWN", STATUS_UNKNOWN),
        ("STATUS_ERROR", STATUS_ERROR),
    ] {
        assert_eq!(
            dana_http::dana_constant(INTERFACE, name),
            Some(value),
            "{name}"
        );
    }
}

/// The string literals passed as argument `argument` (0-based) of calls to `function` in a
/// Dana source.
fn literals_passed_to(source: &str, function: &str, argument: usize) -> Vec<String> {
    let tokens = dana_source::lex(source).expect("lex");
    let mut literals = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let called = token.tok == dana_source::Tok::Ident(function.to_owned())
            && tokens
                .get(i + 1)
                .is_some_and(|t| t.tok == dana_source::Tok::Punct("(".to_owned()));
        if !called {
            continue;
        }
        // the argument-th top-level argument
        let mut depth = 0;
        let mut index = 0;
        for t in &tokens[i + 1..] {
            match &t.tok {
                dana_source::Tok::Punct(p) if p == "(" => depth += 1,
                dana_source::Tok::Punct(p) if p == ")" => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                dana_source::Tok::Punct(p) if p == "," && depth == 1 => index += 1,
                dana_source::Tok::Str(s) if depth == 1 && index == argument => {
                    literals.push(s.text.clone());
                }
                _ => {}
            }
        }
    }
    literals
}

#[test]
fn the_texts_of_the_rust_copies_are_the_dana_sources_own() {
    let set =
        |texts: &[&str]| -> BTreeSet<String> { texts.iter().map(|t| (*t).to_owned()).collect() };
    // The failure texts the component records (fail's second argument), and the copy's.
    let recorded: BTreeSet<String> = literals_passed_to(COMPONENT, "fail", 1)
        .into_iter()
        .collect();
    assert_eq!(recorded, set(component::FAILURE_TEXTS), "lastError() texts");
    for text in [component::NO_STATUS_CODE, component::EMPTY_ANSWER] {
        assert!(COMPONENT.contains(&format!("\"{text}\"")), "{text:?}");
    }
    // The lines the loop prints, and the copy's.
    let printed: BTreeSet<String> = literals_passed_to(MAIN_APP_LOOP, "println", 0)
        .into_iter()
        .chain(literals_passed_to(MAIN_APP_LOOP, "stop", 0))
        .collect();
    assert_eq!(printed, set(main_loop::LOOP_TEXTS), "printed lines");
}

#[test]
fn submitted_task_is_polled_through_pending_processing_completed() {
    let server = Server::start();
    let wire = Wire::to(server.addr);
    let mut c = wire.coordinator();

    assert_eq!(c.submit_task(A, B), 1, "first task of a fresh coordinator");
    assert_eq!(c.last_error(), None);

    assert_eq!(c.status(1), STATUS_PENDING);
    assert_eq!(c.last_error(), None);
    assert_eq!(c.try_result(1), None);
    assert_eq!(c.last_error(), None, "not ready is not a failure");

    let next = wire.send("worker_next");
    assert_eq!(next.response_code, "200");
    let handed = dana_http::parse_document(&next.text()).expect("task/next body");
    assert_eq!(handed.field("taskId"), Some("1"));
    let data = handed.get("data").expect("data field");
    assert_eq!(data.field("A"), Some(A), "data.A as the worker reads it");
    assert_eq!(data.field("B"), Some(B), "data.B as the worker reads it");

    assert_eq!(c.status(1), STATUS_PROCESSING);
    assert_eq!(c.try_result(1), None);
    assert_eq!(c.last_error(), None);

    assert_eq!(wire.send("worker_result_1").response_code, "200");

    assert_eq!(c.status(1), STATUS_COMPLETED);
    assert_eq!(c.try_result(1).as_deref(), Some(PRODUCT));
    assert_eq!(c.last_error(), None);
    assert_eq!(
        wire.sent(),
        [
            "submit_task",
            "poll_result_1",
            "poll_result_1",
            "poll_result_1",
            "poll_result_1",
            "poll_result_1",
            "poll_result_1"
        ]
    );
}

#[test]
fn wait_for_result_sleeps_growing_pauses_until_completed() {
    let server = Server::start();
    let wire = Wire::to(server.addr);
    let mut c = wire.coordinator();
    let plan = poll_plan();
    assert_eq!(c.submit_task(A, B), 1);

    // Each sleep moves the task one step on as a worker would: take it, then report it.
    let mut pauses = Vec::new();
    let result = c.wait_for_result(1, 0, |ms| {
        pauses.push(ms);
        let step = if pauses.len() == 1 {
            "worker_next"
        } else {
            "worker_result_1"
        };
        assert_eq!(wire.send(step).response_code, "200", "{step}");
    });

    assert_eq!(result.as_deref(), Some(PRODUCT));
    assert_eq!(c.last_error(), None);
    assert_eq!(pauses, [plan.first_ms, plan.first_ms * 2]);
    assert_eq!(
        wire.sent(),
        [
            "submit_task",
            "poll_result_1",
            "poll_result_1",
            "poll_result_1"
        ]
    );
}

#[test]
fn wait_for_result_gives_up_after_its_timeout_with_bounded_pauses() {
    let server = Server::start();
    let wire = Wire::to(server.addr);
    let mut c = wire.coordinator();
    let plan = poll_plan();
    let timeout_ms = 5 * plan.max_ms;
    assert_eq!(c.submit_task(A, B), 1);

    // No worker: the task stays pending and every pause is only recorded.
    let mut pauses = Vec::new();
    let result = c.wait_for_result(1, timeout_ms, |ms| pauses.push(ms));

    assert_eq!(result, None);
    assert_eq!(
        c.last_error(),
        Some(
            format!("task 1 not completed after waiting {timeout_ms} ms (last status: pending)")
                .as_str()
        )
    );
    assert_eq!(pauses.iter().sum::<i64>(), timeout_ms);
    assert_eq!(pauses.first(), Some(&plan.first_ms));
    assert!(
        pauses.iter().all(|&ms| ms > 0 && ms <= plan.max_ms),
        "{pauses:?}"
    );
    assert!(
        pauses.windows(2).take_while(|w| w[1] > w[0]).count() >= 3,
        "pauses grow before reaching the cap: {pauses:?}"
    );
}

/// `status()` returns `status`, and `status()`, `tryResult()` and `waitForResult()` of
/// `task_id` each fail at once (no pause) with `lastError()` `error`: three requests.
fn assert_every_poll_fails<T: FnMut(&[u8]) -> Option<DanaAnswer>>(
    c: &mut DanaCoordinator<T>,
    task_id: i64,
    status: &str,
    error: &str,
) {
    assert_eq!(c.status(task_id), status);
    assert_eq!(c.last_error(), Some(error), "after status()");
    assert_eq!(c.try_result(task_id), None);
    assert_eq!(c.last_error(), Some(error), "after tryResult()");
    let waited = c.wait_for_result(task_id, 0, |ms| {
        panic!("task {task_id} is not waited for ({ms} ms)")
    });
    assert_eq!(waited, None);
    assert_eq!(c.last_error(), Some(error), "after waitForResult()");
}

#[test]
fn failed_task_returns_failed_and_the_workers_error() {
    let server = Server::start();
    let wire = Wire::to(server.addr);
    let mut c = wire.coordinator();

    // The overflowing task: submitTask with A = [[i64::MAX]], B = [[2]].
    let mut overflowing = DanaCoordinator::new(base_url(), poll_plan(), wire.transport());
    assert_eq!(overflowing.submit_task(A_HUGE, B_DOUBLE), 1);
    let next = wire.send("worker_next");
    let handed = dana_http::parse_document(&next.text()).expect("task/next body");
    let data = handed.get("data").expect("data field");
    assert_eq!(data.field("B"), Some(B_DOUBLE));
    assert_eq!(wire.send("worker_error_1").response_code, "200");

    let failed = format!("task 1 failed: {OVERFLOW_ERROR}");
    assert_every_poll_fails(&mut c, 1, STATUS_FAILED, &failed);
    assert_eq!(
        wire.sent(),
        [vec!["submit_task_overflowing"], vec!["poll_result_1"; 3]].concat()
    );
}

#[test]
fn mismatched_task_is_refused_at_submission_with_the_reason() {
    let url = base_url();
    let server = Server::start();
    let wire = Wire::to(server.addr);
    let mut c = wire.coordinator();
    assert_eq!(c.submit_task(A, B_MISMATCHED), 0);
    let reason = "Invalid matrix task: shape mismatch: cannot multiply a 2x2 matrix by a \
                  3x1 matrix (2 columns vs 3 rows)";
    assert_eq!(
        c.last_error(),
        Some(format!("coordinator at {url} refused the task: HTTP 400 {reason}").as_str())
    );
    assert_eq!(wire.sent(), ["submit_task_mismatched"]);
    // Nothing was queued: a worker finds no task.
    assert_eq!(wire.send("worker_next").response_code, "204");
}

#[test]
fn refused_submission_returns_0_with_the_coordinators_error() {
    let url = base_url();

    // A body over the limit (a big matrix) is refused with 413.
    let small = Server::start_with(coordinator::Config {
        max_body_bytes: 16,
        ..coordinator::Config::default()
    });
    let wire = Wire::to(small.addr);
    let mut c = wire.coordinator();
    assert_eq!(c.submit_task(A, B), 0);
    let answer = wire.send("submit_task");
    assert_eq!(answer.response_code, "413");
    let error = dana_http::parse_document(&answer.text())
        .ok()
        .and_then(|doc| doc.field("error").map(str::to_owned))
        .expect("413 carries a JSON error");
    assert_eq!(
        c.last_error(),
        Some(format!("coordinator at {url} refused the task: HTTP 413 {error}").as_str())
    );

    // A full queue is refused with 503.
    let full = Server::start_with(coordinator::Config {
        max_tasks: 1,
        ..coordinator::Config::default()
    });
    let wire = Wire::to(full.addr);
    let mut c = wire.coordinator();
    assert_eq!(c.submit_task(A, B), 1);
    assert_eq!(c.submit_task(A, B), 0);
    let error = c.last_error().expect("why").to_owned();
    assert!(
        error.starts_with(&format!("coordinator at {url} refused the task: HTTP 503 ")),
        "{error}"
    );
    assert_eq!(wire.sent(), ["submit_task", "submit_task"]);
}

#[test]
fn unknown_task_returns_unknown_with_the_coordinators_error() {
    let server = Server::start();
    let wire = Wire::to(server.addr);
    let mut c = wire.coordinator();
    let not_found = format!("task 999 not found at {}: Task not found", base_url());
    assert_every_poll_fails(&mut c, 999, STATUS_UNKNOWN, &not_found);
    assert_eq!(wire.sent(), ["poll_result_999"; 3]);
}

#[test]
fn an_app_that_ignores_a_failed_submission_gets_400_instead_of_waiting_for_ever() {
    let server = Server::start();
    let wire = Wire::to(server.addr);
    let mut c = wire.coordinator();

    // submitTask refused the matrix and returned 0; the app waits on task 0 anyway.
    assert_eq!(c.submit_task(A, "[[5,6],[7,\"8]]"), 0);
    let refused = format!(
        "coordinator at {} answered HTTP 400 for task 0: Invalid task ID",
        base_url()
    );
    assert_every_poll_fails(&mut c, 0, STATUS_ERROR, &refused);
    assert_eq!(
        wire.sent(),
        ["poll_result_0"; 3],
        "the matrix check sent nothing"
    );
}

#[test]
fn cancelled_task_fails_for_good_and_no_worker_gets_it() {
    let server = Server::start();
    let wire = Wire::to(server.addr);
    let mut c = wire.coordinator();
    assert_eq!(c.submit_task(A, B), 1);
    assert_eq!(wire.send("worker_next").response_code, "200");

    assert!(c.cancel(1));
    assert_eq!(c.last_error(), None);
    let cancelled = "task 1 failed: Task cancelled";
    assert_every_poll_fails(&mut c, 1, STATUS_FAILED, cancelled);
    // Cancelling again changes nothing and is not a failure.
    assert!(c.cancel(1));
    assert_eq!(c.last_error(), None);
    // The worker that held it: its result does not complete it, and nothing else is handed out.
    let late = wire.send("worker_result_1");
    assert_eq!(late.response_code, "200");
    let report = dana_http::parse_document(&late.text()).expect("result answer");
    assert_eq!(report.field("status"), Some(STATUS_FAILED));
    assert_eq!(wire.send("worker_next").response_code, "204");
    assert_eq!(c.status(1), STATUS_FAILED);
    assert_eq!(c.last_error(), Some(cancelled));
    assert_eq!(
        wire.sent(),
        [
            vec!["submit_task", "cancel_task_1"],
            vec!["poll_result_1"; 3],
            vec!["cancel_task_1", "poll_result_1"],
        ]
        .concat()
    );
}

#[test]
fn cancel_of_a_completed_unknown_or_unreachable_task_is_false_with_the_reason() {
    let url = base_url();
    let server = Server::start();
    let wire = Wire::to(server.addr);
    let mut c = wire.coordinator();
    assert_eq!(c.submit_task(A, B), 1);
    assert_eq!(wire.send("worker_next").response_code, "200");
    assert_eq!(wire.send("worker_result_1").response_code, "200");

    assert!(!c.cancel(1), "a completed task stays completed");
    let error = c.last_error().expect("why").to_owned();
    assert!(
        error.starts_with(&format!(
            "coordinator at {url} answered HTTP 409 for task 1: "
        )),
        "{error}"
    );
    assert_eq!(c.try_result(1).as_deref(), Some(PRODUCT));

    assert!(!c.cancel(999));
    assert_eq!(
        c.last_error(),
        Some(format!("task 999 not found at {url}: Task not found").as_str())
    );
    assert_eq!(
        wire.sent(),
        [
            "submit_task",
            "cancel_task_1",
            "poll_result_1",
            "cancel_task_999"
        ]
    );

    let nowhere = Wire::to(closed_port());
    let mut c = nowhere.coordinator();
    assert!(!c.cancel(1));
    assert_eq!(
        c.last_error(),
        Some(format!("coordinator at {url} could not be reached").as_str())
    );
    assert_eq!(nowhere.sent(), ["cancel_task_1"]);
}

#[test]
fn unreachable_coordinator_gives_failure_values_at_once() {
    let wire = Wire::to(closed_port());
    let mut c = wire.coordinator();
    let unreachable = format!("coordinator at {} could not be reached", base_url());

    assert_eq!(c.submit_task(A, B), 0);
    assert_eq!(c.last_error(), Some(unreachable.as_str()));
    assert_every_poll_fails(&mut c, 1, STATUS_UNREACHABLE, &unreachable);
    // The component wrote its usual bytes each time; no connection took them.
    assert_eq!(
        wire.sent(),
        [vec!["submit_task"], vec!["poll_result_1"; 3]].concat()
    );
}

#[test]
fn matrix_text_that_cannot_be_sent_is_refused_before_any_request() {
    let mut c = DanaCoordinator::new(
        base_url(),
        poll_plan(),
        |request: &[u8]| -> Option<DanaAnswer> {
            panic!("nothing may be sent: {}", String::from_utf8_lossy(request))
        },
    );
    for (a, b, error) in [
        ("", B, "matrix A is empty"),
        (A, "", "matrix B is empty"),
        (
            "[[1,\"2\"]]",
            B,
            "matrix A must not contain quotes, backslashes or control characters",
        ),
        (
            A,
            "[[5,6],\\u0037]",
            "matrix B must not contain quotes, backslashes or control characters",
        ),
        (
            A,
            "[[5,6],\n[7,8]]",
            "matrix B must not contain quotes, backslashes or control characters",
        ),
        (
            "[[1,2],\t[3,4]]",
            B,
            "matrix A must not contain quotes, backslashes or control characters",
        ),
    ] {
        assert_eq!(c.submit_task(a, b), 0, "{a:?} x {b:?}");
        assert_eq!(c.last_error(), Some(error), "{a:?} x {b:?}");
    }
}

#[test]
fn coordinator_url_is_trimmed_and_an_empty_one_refused() {
    let server = Server::start();
    let wire = Wire::to(server.addr);
    let mut c = wire.coordinator();
    assert!(!c.set_coordinator_url("  //  "));
    assert_eq!(c.last_error(), Some(component::URL_EMPTY));
    assert_eq!(c.coordinator_url(), base_url(), "the URL it had is kept");
    assert!(c.set_coordinator_url(&format!(" {}/// ", base_url())));
    assert_eq!(c.last_error(), None);
    assert_eq!(c.coordinator_url(), base_url());
    // Same bytes as with the default URL.
    assert_eq!(c.submit_task(A, B), 1);
    assert_eq!(wire.sent(), ["submit_task"]);
}

/// An answer with `status_line`, a `content-length` header and `body`.
fn answer_with(status_line: &str, body: &str) -> String {
    format!(
        "{status_line}\r\ncontent-length:{}\r\n\r\n{body}",
        body.len()
    )
}

/// One malformed answer a coordinator could give, and what the component makes of it.
struct Malformed {
    what: &'static str,
    answer: String,
    status: &'static str,
    error: String,
}

#[test]
fn malformed_answers_are_failures_that_say_what_came() {
    let url = base_url();
    let ok = "HTTP/1.1 200 OK";
    let submit_cases = [
        (
            "taskId as a string",
            answer_with(ok, r#"{"taskId":"1"}"#),
            format!(r#"coordinator at {url} answered without a valid taskId: {{"taskId":"1"}}"#),
        ),
        (
            "taskId 0",
            answer_with(ok, r#"{"taskId":0}"#),
            format!(r#"coordinator at {url} answered without a valid taskId: {{"taskId":0}}"#),
        ),
        (
            "not JSON",
            answer_with(ok, "<html></html>"),
            format!("coordinator at {url} answered without a valid taskId: <html></html>"),
        ),
        (
            "a status line without a reason phrase",
            answer_with("HTTP/1.1 200", r#"{"taskId":1}"#),
            format!(
                r#"coordinator at {url} refused the task: HTTP (no status code) {{"taskId":1}}"#
            ),
        ),
    ];
    for (what, answer, error) in submit_cases {
        let (addr, server) = fake_server(answer.into_bytes(), None);
        let wire = Wire::lenient(addr);
        let mut c = wire.coordinator();
        assert_eq!(c.submit_task(A, B), 0, "{what}");
        assert_eq!(c.last_error(), Some(error.as_str()), "{what}");
        assert_eq!(
            server.join().expect("fake server"),
            book().request("submit_task"),
            "{what}: the request, byte for byte"
        );
    }

    let poll_cases = [
        Malformed {
            what: "an unknown status",
            answer: answer_with(ok, r#"{"taskId":1,"status":"done"}"#),
            status: STATUS_ERROR,
            error: format!(
                r#"coordinator at {url} answered without a valid status for task 1: {{"taskId":1,"status":"done"}}"#
            ),
        },
        Malformed {
            what: "a status that is not a string",
            answer: answer_with(ok, r#"{"taskId":1,"status":3}"#),
            status: STATUS_ERROR,
            error: format!(
                r#"coordinator at {url} answered without a valid status for task 1: {{"taskId":1,"status":3}}"#
            ),
        },
        Malformed {
            what: "completed without a product",
            answer: answer_with(ok, r#"{"taskId":1,"status":"completed","result":""}"#),
            status: STATUS_ERROR,
            error: format!(
                r#"coordinator at {url} answered task 1 completed without its result: {{"taskId":1,"status":"completed","result":""}}"#
            ),
        },
        Malformed {
            what: "a body without content-length (Dana reads it as empty)",
            answer: "HTTP/1.1 200 OK\r\n\r\n{\"taskId\":1,\"status\":\"pending\"}".to_owned(),
            status: STATUS_ERROR,
            error: format!("coordinator at {url} answered without a valid status for task 1: "),
        },
        Malformed {
            what: "a server error",
            answer: answer_with(
                "HTTP/1.1 500 Internal Server Error",
                r#"{"error":"Internal server error"}"#,
            ),
            status: STATUS_ERROR,
            error: format!(
                "coordinator at {url} answered HTTP 500 for task 1: Internal server error"
            ),
        },
        Malformed {
            what: "an error answer that is not JSON",
            answer: answer_with("HTTP/1.1 502 Bad Gateway", "Bad Gateway"),
            status: STATUS_ERROR,
            error: format!("coordinator at {url} answered HTTP 502 for task 1: Bad Gateway"),
        },
        Malformed {
            what: "an empty 404",
            answer: answer_with("HTTP/1.1 404 Not Found", ""),
            status: STATUS_UNKNOWN,
            error: format!("task 1 not found at {url}: (empty answer)"),
        },
        Malformed {
            what: "a status line without a reason phrase",
            answer: answer_with("HTTP/1.1 200", r#"{"taskId":1,"status":"pending"}"#),
            status: STATUS_ERROR,
            error: format!(
                r#"coordinator at {url} answered HTTP (no status code) for task 1: {{"taskId":1,"status":"pending"}}"#
            ),
        },
    ];
    for case in poll_cases {
        let (addr, server) = fake_server(case.answer.into_bytes(), None);
        let wire = Wire::lenient(addr);
        let mut c = wire.coordinator();
        assert_eq!(c.status(1), case.status, "{}", case.what);
        assert_eq!(c.last_error(), Some(case.error.as_str()), "{}", case.what);
        assert_eq!(
            server.join().expect("fake server"),
            book().request("poll_result_1"),
            "{}: the request, byte for byte",
            case.what
        );
    }
}

#[test]
fn every_answer_a_dana_client_can_get_has_a_reason_phrase() {
    let book = book();
    let mut seen: BTreeMap<String, DanaAnswer> = BTreeMap::new();
    let mut keep = |answer: DanaAnswer| {
        seen.insert(answer.response_code.clone(), answer);
    };

    let server = Server::start();
    keep(server.send(&book, "worker_next")); // 204: nothing to do
    keep(server.send(&book, "submit_task")); // 200
    keep(server.send(&book, "poll_result_0")); // 400
    keep(server.send(&book, "poll_result_999")); // 404
    assert_eq!(server.send(&book, "worker_next").response_code, "200");
    keep(server.send(&book, "worker_wrong_result_1")); // 422: the check rejects it

    // 409: a result posted for a split task's own id.
    let split = Server::start_with(coordinator::Config {
        split_min_flops: Some(1),
        ..coordinator::Config::default()
    });
    assert_eq!(split.send(&book, "submit_task").response_code, "200");
    keep(split.send(&book, "worker_result_1"));

    let small = Server::start_with(coordinator::Config {
        max_body_bytes: 16,
        ..coordinator::Config::default()
    });
    keep(small.send(&book, "submit_task")); // 413

    let full = Server::start_with(coordinator::Config {
        max_tasks: 1,
        ..coordinator::Config::default()
    });
    assert_eq!(full.send(&book, "submit_task").response_code, "200");
    keep(full.send(&book, "submit_task")); // 503

    let expected = [
        ("200", "OK"),
        ("204", "No Content"),
        ("400", "Bad Request"),
        ("404", "Not Found"),
        ("409", "Conflict"),
        ("413", "Payload Too Large"),
        ("422", "Unprocessable Entity"),
        ("503", "Service Unavailable"),
    ];
    let codes: Vec<&str> = seen.keys().map(String::as_str).collect();
    assert_eq!(codes, expected.map(|(code, _)| code));
    for (code, reason) in expected {
        let answer = &seen[code];
        // The bytes up to the first CR, exactly.
        assert_eq!(answer.status_line, format!("HTTP/1.1 {code} {reason}"));
        // What Dana's HTTPRequest makes of them: responseCode, then responseMessage.
        assert_eq!(answer.response_code, code);
        let message = answer
            .status_line
            .split_once(' ')
            .and_then(|(_, rest)| rest.split_once(' '))
            .map(|(_, message)| message);
        assert_eq!(message, Some(reason));
    }
}

/// Drives `app` until its `loop()` returns false, calling `between` after every call; fails
/// after [`LOOP_DEADLINE`].
fn run_loop<T>(app: &mut MainAppLoop<T>, mut between: impl FnMut(&MainAppLoop<T>))
where
    T: FnMut(&[u8]) -> Option<DanaAnswer> + Send + 'static,
{
    let deadline = Instant::now() + LOOP_DEADLINE;
    while app.run_once() {
        between(app);
        assert!(
            Instant::now() < deadline,
            "the loop is still running: {:?}",
            app.printed()
        );
        if app.in_flight() {
            thread::yield_now();
        }
    }
}

fn poll_every_loops() -> u64 {
    u64::try_from(dana_int(MAIN_APP_LOOP, "POLL_EVERY_LOOPS")).expect("positive")
}

#[test]
fn browser_main_loop_submits_polls_every_n_loop_calls_then_fetches_the_product() {
    let server = Server::start();
    let wire = Wire::to(server.addr);
    let every = poll_every_loops();
    let mut app = MainAppLoop::new(wire.coordinator(), None, A, B, every);

    // A worker moves the task on when the loop has seen it pending, then processing.
    let mut moved = Vec::new();
    run_loop(&mut app, |app| {
        let step = match app.last_status() {
            Some("pending") if moved.is_empty() => "worker_next",
            Some("processing") if moved.len() == 1 => "worker_result_1",
            _ => return,
        };
        assert_eq!(wire.send(step).response_code, "200", "{step}");
        moved.push(step);
    });

    let url = base_url();
    assert_eq!(
        app.printed(),
        [
            format!("submitting A x B to {url}"),
            "task 1 submitted".to_owned(),
            "task 1 is pending".to_owned(),
            "task 1 is processing".to_owned(),
            "task 1 is completed".to_owned(),
            format!("A x B = {PRODUCT}"),
        ]
    );
    // The loop's requests, byte for byte as WIRE.md lists them, in order (the worker's are
    // sent by the test directly and not logged).
    assert_eq!(
        wire.sent(),
        [
            "submit_task",
            "poll_result_1",
            "poll_result_1",
            "poll_result_1",
            "poll_result_1"
        ]
    );
    let steps: Vec<Step> = app.started().iter().map(|s| s.step).collect();
    assert_eq!(
        steps,
        [
            Step::Submit,
            Step::Poll,
            Step::Poll,
            Step::Poll,
            Step::Fetch
        ]
    );
    let spacing: Vec<Option<u64>> = app.started().iter().map(|s| s.calls_between).collect();
    assert_eq!(
        spacing,
        [None, Some(every), Some(every), Some(every), Some(0)],
        "polls are spaced by POLL_EVERY_LOOPS loop() calls; the product is fetched at once"
    );
    assert!(!app.run_once(), "a finished loop stays finished");
}

#[test]
fn browser_main_loop_keeps_returning_while_a_request_is_in_flight() {
    let (release, held) = mpsc::channel();
    let answer = b"HTTP/1.1 200 OK\r\ncontent-length:12\r\n\r\n{\"taskId\":7}".to_vec();
    let (addr, server) = fake_server(answer, Some(held));
    let wire = Wire::lenient(addr);
    let mut app = MainAppLoop::new(wire.coordinator(), None, A, B, poll_every_loops());

    assert!(app.run_once(), "the first call starts the submission");
    assert!(app.in_flight());
    // The coordinator holds its answer: every call returns at once and starts nothing else.
    for _ in 0..10_000 {
        assert!(app.run_once());
    }
    assert!(app.in_flight());
    assert_eq!(app.started().len(), 1);
    assert_eq!(
        app.printed(),
        [format!("submitting A x B to {}", base_url())]
    );

    release.send(()).expect("release");
    let deadline = Instant::now() + LOOP_DEADLINE;
    while app.in_flight() {
        assert!(app.run_once());
        assert!(Instant::now() < deadline, "the answer never came");
        thread::yield_now();
    }
    assert_eq!(
        app.printed().last().map(String::as_str),
        Some("task 7 submitted")
    );
    assert_eq!(
        server.join().expect("fake server"),
        book().request("submit_task")
    );
}

#[test]
fn browser_main_loop_stops_with_the_reason_when_the_coordinator_is_unreachable() {
    let wire = Wire::to(closed_port());
    let mut app = MainAppLoop::new(wire.coordinator(), None, A, B, poll_every_loops());
    run_loop(&mut app, |_| {});
    assert_eq!(
        app.printed(),
        [
            format!("submitting A x B to {}", base_url()),
            format!(
                "task not submitted: coordinator at {} could not be reached",
                base_url()
            ),
        ]
    );
    assert_eq!(wire.sent(), ["submit_task"]);
}

#[test]
fn browser_main_loop_stops_with_the_reason_when_the_coordinator_forgets_the_task() {
    let first = Server::start();
    let wire = Wire::to(first.addr);
    let mut app = MainAppLoop::new(wire.coordinator(), None, A, B, poll_every_loops());
    // The coordinator restarts (an empty one answers) once the task is submitted.
    let restarted = Server::start();
    run_loop(&mut app, |app| {
        if app
            .printed()
            .last()
            .is_some_and(|l| l == "task 1 submitted")
        {
            wire.point_at(restarted.addr);
        }
    });
    assert_eq!(
        app.printed()[1..],
        [
            "task 1 submitted".to_owned(),
            "task 1 is unknown".to_owned(),
            format!(
                "no product for task 1: task 1 not found at {}: Task not found",
                base_url()
            ),
        ]
    );
    assert_eq!(wire.sent(), ["submit_task", "poll_result_1"]);
}

#[test]
fn browser_main_loop_stops_with_the_reason_when_the_task_fails() {
    let server = Server::start();
    let wire = Wire::to(server.addr);
    let mut app = MainAppLoop::new(
        wire.coordinator(),
        None,
        A_HUGE,
        B_DOUBLE,
        poll_every_loops(),
    );
    let mut moved = false;
    run_loop(&mut app, |app| {
        if app.last_status() == Some("pending") && !moved {
            assert_eq!(wire.send("worker_next").response_code, "200");
            assert_eq!(wire.send("worker_error_1").response_code, "200");
            moved = true;
        }
    });
    assert_eq!(
        app.printed()[2..],
        [
            "task 1 is pending".to_owned(),
            "task 1 is failed".to_owned(),
            format!("no product for task 1: task 1 failed: {OVERFLOW_ERROR}"),
        ]
    );
    assert_eq!(
        wire.sent(),
        ["submit_task_overflowing", "poll_result_1", "poll_result_1"]
    );
}

#[test]
fn browser_main_loop_refuses_an_empty_coordinator_url_before_any_request() {
    let wire = Wire::to(closed_port());
    let mut app = MainAppLoop::new(wire.coordinator(), Some(" / "), A, B, poll_every_loops());
    assert!(!app.run_once());
    assert_eq!(app.printed(), ["not started: coordinator URL is empty"]);
    assert!(wire.sent().is_empty());
}

#[test]
fn main_wasm_keeps_the_two_seed_lines_and_checks_what_each_returns() {
    let submit = MAIN_WASM
        .find("taskId = coordinator.submitTask(A, B)")
        .expect("the submit seed line");
    let wait = MAIN_WASM
        .find("result = coordinator.waitForResult(taskId)")
        .expect("the wait seed line");
    assert!(submit < wait);
    // Each is followed by a check of the value it returned and an exit with status 1.
    let after_submit = &MAIN_WASM[submit..wait];
    assert!(after_submit.contains("if (taskId == 0)"), "{after_submit}");
    assert!(after_submit.contains("return failed(\"task not submitted\")"));
    let after_wait = &MAIN_WASM[wait..];
    assert!(after_wait.contains("if (result == null)"), "{after_wait}");
    assert!(after_wait.contains("return failed(\"no product for task $taskId\")"));
    assert!(MAIN_WASM.contains("char why[] = coordinator.lastError()"));
    assert!(MAIN_WASM.contains("return 1"));
}

#[test]
fn dana_client_reads_nothing_of_a_body_without_length_or_chunking() {
    let (addr, server) = fake_server(
        b"HTTP/1.1 200 OK\r\nContent-Type:application/json\r\n\r\n{\"taskId\":1}".to_vec(),
        None,
    );
    let answer = dana_http::exchange(addr, b"GET /result/1 HTTP/1.1\r\nhost:localhost\r\n\r\n")
        .expect("exchange");
    assert_eq!(
        server.join().expect("server thread"),
        b"GET /result/1 HTTP/1.1\r\nhost:localhost\r\n\r\n"
    );
    assert_eq!(answer.response_code, "200");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert!(answer.content.is_empty(), "Dana reads no body here");
    assert_eq!(
        answer.leftover, br#"{"taskId":1}"#,
        "the unread body is reported"
    );
}

#[test]
fn dana_client_joins_chunks_and_reads_exact_content_length() {
    let (addr, server) = fake_server(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\n{\"sta\r\nF\r\ntus\":\"pending\"}\r\n0\r\n\r\n".to_vec(),
        None,
    );
    let answer =
        dana_http::exchange(addr, b"GET / HTTP/1.1\r\nhost:localhost\r\n\r\n").expect("exchange");
    server.join().expect("server thread");
    assert_eq!(answer.text(), r#"{"status":"pending"}"#);
    assert!(answer.leftover.is_empty());

    let (addr, server) = fake_server(
        b"HTTP/1.1 404 Not Found\r\nCONTENT-LENGTH: 7\r\n\r\n{\"a\":1}trailing".to_vec(),
        None,
    );
    let answer =
        dana_http::exchange(addr, b"GET / HTTP/1.1\r\nhost:localhost\r\n\r\n").expect("exchange");
    server.join().expect("server thread");
    assert_eq!(answer.response_code, "404");
    assert_eq!(answer.text(), r#"{"a":1}"#);
    assert_eq!(answer.leftover, b"trailing");
}
