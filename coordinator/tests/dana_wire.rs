//! The Dana client stubs (`dana/`) tested at the wire.
//!
//! No Dana toolchain runs here, so the bytes are the test: every request block of
//! `dana/wire/WIRE.md` (the exact bytes the Dana component and a Dana-style worker write) is
//! replayed over a raw TCP socket against the real coordinator, each answer is read the way
//! Dana's `HTTPRequest` reads it, and parsed the way the component parses it (see
//! `dana_http`). The blocks themselves are checked against a copy of `HTTPRequest`'s request
//! writer and `JSONEncoder`'s output, and the example apps against the interface.

mod dana_http;

use std::future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread;

use dana_http::{DanaAnswer, PollPlan, WireBook};

/// The one place that lists the bytes.
const WIRE: &str = include_str!("../../dana/wire/WIRE.md");
/// The Dana interface (constants: default URL, poll timing; method list).
const INTERFACE: &str = include_str!("../../dana/resources/coordinator/Coordinator.dn");
/// The Dana component.
const COMPONENT: &str = include_str!("../../dana/coordinator/Coordinator.dn");
/// The blocking example app.
const MAIN_WASM: &str = include_str!("../../dana/app/mainWasm.dn");
/// The ProcessLoop example app.
const MAIN_LOOP: &str = include_str!("../../dana/app/mainLoop.dn");

/// The example matrices of `mainWasm.dn` and their product.
const A: &str = "[[1,2],[3,4]]";
const B: &str = "[[5,6],[7,8]]";
const PRODUCT: &str = "[[19,22],[43,50]]";
/// The mismatched task's right matrix and the worker's error for it.
const B_MISMATCHED: &str = "[[1],[2],[3]]";
const SHAPE_ERROR: &str = "shape mismatch: A is 2x2, B is 3x1";

/// A coordinator on `127.0.0.1:0`, served by its own runtime until dropped.
struct Server {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start() -> Self {
        Self::start_with(coordinator::Config::default())
    }

    fn start_with(config: coordinator::Config) -> Self {
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
        assert!(
            answer.status_line.starts_with("HTTP/1.1 "),
            "{name}: status line {:?}",
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
}

fn book() -> WireBook {
    WireBook::parse(WIRE)
}

fn base_url() -> &'static str {
    dana_http::dana_constant(INTERFACE, "DEFAULT_URL").expect("DEFAULT_URL in the interface")
}

fn poll_plan() -> PollPlan {
    let constant = |name| {
        dana_http::dana_constant(INTERFACE, name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in the interface"))
    };
    PollPlan {
        first_ms: constant("POLL_FIRST_MS"),
        max_ms: constant("POLL_MAX_MS"),
    }
}

/// Names of the methods the Dana interface declares.
fn interface_methods() -> Vec<&'static str> {
    let body = INTERFACE
        .split_once("interface Coordinator {")
        .expect("interface Coordinator")
        .1;
    body.lines()
        .map(str::trim)
        .filter(|line| {
            !line.starts_with("const")
                && !line.starts_with('/')
                && !line.starts_with('{')
                && !line.starts_with('*')
                && !line.starts_with('"')
        })
        .filter_map(|line| line.split_once('(')?.0.split_whitespace().last())
        .collect()
}

#[test]
fn wire_blocks_are_what_dana_http_request_writes() {
    let book = book();
    let url = base_url();
    let json = [("Content-Type", "application/json")];
    let expected: [(&str, Vec<u8>); 7] = [
        (
            "submit_task",
            dana_http::request_bytes(
                "POST",
                &format!("{url}/task"),
                &json,
                dana_http::json_from_string_fields(&[("A", A), ("B", B)]).as_bytes(),
            ),
        ),
        (
            "submit_task_mismatched",
            dana_http::request_bytes(
                "POST",
                &format!("{url}/task"),
                &json,
                dana_http::json_from_string_fields(&[("A", A), ("B", B_MISMATCHED)]).as_bytes(),
            ),
        ),
        (
            "poll_result_1",
            dana_http::request_bytes("GET", &format!("{url}/result/1"), &[], b""),
        ),
        (
            "poll_result_999",
            dana_http::request_bytes("GET", &format!("{url}/result/999"), &[], b""),
        ),
        (
            "worker_next",
            dana_http::request_bytes(
                "GET",
                &format!("{url}/task/next?workerId=dana-wire"),
                &[],
                b"",
            ),
        ),
        (
            "worker_result_1",
            dana_http::request_bytes(
                "POST",
                &format!("{url}/task/1/result"),
                &[],
                dana_http::json_from_string_fields(&[("result", PRODUCT)]).as_bytes(),
            ),
        ),
        (
            "worker_error_1",
            dana_http::request_bytes(
                "POST",
                &format!("{url}/task/1/result"),
                &[],
                dana_http::json_from_string_fields(&[("error", SHAPE_ERROR)]).as_bytes(),
            ),
        ),
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
}

#[test]
fn submitted_task_is_polled_through_pending_processing_completed() {
    let book = book();
    let server = Server::start();
    let url = base_url();

    let submitted = server.send(&book, "submit_task");
    let task_id = dana_http::submit_task_outcome(&submitted, url).expect("submitTask");
    assert_eq!(
        task_id, 1,
        "first task of a fresh coordinator, as the blocks assume"
    );

    let pending = server.send(&book, "poll_result_1");
    assert_eq!(
        dana_http::status(&pending, url, task_id).as_deref(),
        Ok("pending")
    );
    assert_eq!(dana_http::try_result(&pending, url, task_id), Ok(None));

    let next = server.send(&book, "worker_next");
    assert_eq!(next.response_code, "200");
    let handed = dana_http::parse_document(&next.text()).expect("task/next body");
    assert_eq!(handed.field("taskId"), Some("1"));
    let data = handed.get("data").expect("data field");
    assert_eq!(data.field("A"), Some(A), "data.A as the worker reads it");
    assert_eq!(data.field("B"), Some(B), "data.B as the worker reads it");

    let processing = server.send(&book, "poll_result_1");
    assert_eq!(
        dana_http::status(&processing, url, task_id).as_deref(),
        Ok("processing")
    );
    assert_eq!(dana_http::try_result(&processing, url, task_id), Ok(None));

    let stored = server.send(&book, "worker_result_1");
    assert_eq!(stored.response_code, "200", "{}", stored.text());

    let completed = server.send(&book, "poll_result_1");
    assert_eq!(
        dana_http::status(&completed, url, task_id).as_deref(),
        Ok("completed")
    );
    assert_eq!(
        dana_http::try_result(&completed, url, task_id),
        Ok(Some(PRODUCT.to_owned()))
    );
}

#[test]
fn wait_for_result_sleeps_growing_pauses_until_completed() {
    let book = book();
    let server = Server::start();
    let url = base_url();
    let plan = poll_plan();

    let task_id =
        dana_http::submit_task_outcome(&server.send(&book, "submit_task"), url).expect("submit");

    // Each sleep moves the task one step on as a worker would: take it, then report it.
    let mut statuses = Vec::new();
    let mut pauses = Vec::new();
    let result = dana_http::wait_for_result(
        task_id,
        0,
        plan,
        url,
        || {
            let answer = server.send(&book, "poll_result_1");
            statuses.push(dana_http::status(&answer, url, task_id));
            Ok(answer)
        },
        |ms| {
            pauses.push(ms);
            let step = if pauses.len() == 1 {
                "worker_next"
            } else {
                "worker_result_1"
            };
            assert_eq!(server.send(&book, step).response_code, "200", "{step}");
        },
    );

    assert_eq!(result.as_deref(), Ok(PRODUCT));
    assert_eq!(
        statuses,
        [
            Ok("pending".to_owned()),
            Ok("processing".to_owned()),
            Ok("completed".to_owned())
        ]
    );
    assert_eq!(pauses, [plan.first_ms, plan.first_ms * 2]);
}

#[test]
fn wait_for_result_gives_up_after_its_timeout_with_bounded_pauses() {
    let book = book();
    let server = Server::start();
    let url = base_url();
    let plan = poll_plan();
    let timeout_ms = 5 * plan.max_ms;

    let task_id =
        dana_http::submit_task_outcome(&server.send(&book, "submit_task"), url).expect("submit");

    // No worker: the task stays pending and every pause is only recorded.
    let mut pauses = Vec::new();
    let result = dana_http::wait_for_result(
        task_id,
        timeout_ms,
        plan,
        url,
        || Ok(server.send(&book, "poll_result_1")),
        |ms| pauses.push(ms),
    );

    assert_eq!(
        result,
        Err(format!(
            "task 1 not completed after waiting {timeout_ms} ms (last status: pending)"
        ))
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

#[test]
fn worker_error_fails_the_task_with_the_coordinators_error() {
    let book = book();
    let server = Server::start();
    let url = base_url();

    let task_id =
        dana_http::submit_task_outcome(&server.send(&book, "submit_task_mismatched"), url)
            .expect("submit");
    assert_eq!(task_id, 1);

    let next = server.send(&book, "worker_next");
    let handed = dana_http::parse_document(&next.text()).expect("task/next body");
    let data = handed.get("data").expect("data field");
    assert_eq!(data.field("B"), Some(B_MISMATCHED));

    let reported = server.send(&book, "worker_error_1");
    assert_eq!(reported.response_code, "200", "{}", reported.text());

    let failed = server.send(&book, "poll_result_1");
    let thrown = format!("task 1 failed: {SHAPE_ERROR}");
    assert_eq!(
        dana_http::status(&failed, url, task_id).as_deref(),
        Ok("failed")
    );
    assert_eq!(
        dana_http::try_result(&failed, url, task_id),
        Err(thrown.clone())
    );
    let waited = dana_http::wait_for_result(
        task_id,
        0,
        poll_plan(),
        url,
        || Ok(server.send(&book, "poll_result_1")),
        |ms| panic!("a failed task must not be waited for ({ms} ms)"),
    );
    assert_eq!(waited, Err(thrown));
}

#[test]
fn refused_submission_throws_with_the_coordinators_error() {
    let book = book();
    let url = base_url();

    // A body over the limit (a big matrix) is refused with 413.
    let small = Server::start_with(coordinator::Config {
        max_body_bytes: 16,
        ..coordinator::Config::default()
    });
    let answer = small.send(&book, "submit_task");
    assert_eq!(answer.response_code, "413");
    let thrown = dana_http::submit_task_outcome(&answer, url).expect_err("413 throws");
    let error = dana_http::parse_document(&answer.text())
        .ok()
        .and_then(|doc| doc.field("error").map(str::to_owned))
        .expect("413 carries a JSON error");
    assert_eq!(
        thrown,
        format!("coordinator at {url} refused the task: HTTP 413 {error}")
    );

    // A full queue is refused with 503.
    let full = Server::start_with(coordinator::Config {
        max_tasks: 1,
        ..coordinator::Config::default()
    });
    assert_eq!(
        dana_http::submit_task_outcome(&full.send(&book, "submit_task"), url),
        Ok(1)
    );
    let answer = full.send(&book, "submit_task");
    assert_eq!(answer.response_code, "503");
    let thrown = dana_http::submit_task_outcome(&answer, url).expect_err("503 throws");
    assert!(
        thrown.starts_with(&format!("coordinator at {url} refused the task: HTTP 503 ")),
        "{thrown}"
    );
}

#[test]
fn unknown_task_is_reported_as_not_found() {
    let book = book();
    let server = Server::start();
    let url = base_url();

    let answer = server.send(&book, "poll_result_999");
    assert_eq!(answer.response_code, "404");
    let thrown = dana_http::status(&answer, url, 999).expect_err("404 throws");
    assert!(
        thrown.starts_with(&format!("task 999 not found at {url}: ")),
        "{thrown}"
    );
    let error = dana_http::parse_document(&answer.text())
        .ok()
        .and_then(|doc| doc.field("error").map(str::to_owned))
        .expect("404 carries a JSON error");
    assert!(
        thrown.ends_with(&error),
        "the coordinator's error is passed on: {thrown}"
    );
    assert_eq!(
        dana_http::try_result(&answer, url, 999),
        Err(thrown.clone())
    );
    let waited = dana_http::wait_for_result(
        999,
        0,
        poll_plan(),
        url,
        || Ok(server.send(&book, "poll_result_999")),
        |ms| panic!("an unknown task must not be waited for ({ms} ms)"),
    );
    assert_eq!(waited, Err(thrown));
}

#[test]
fn main_wasm_keeps_the_two_seed_lines_and_the_examples_use_every_method() {
    assert!(MAIN_WASM.contains("taskId = coordinator.submitTask(A, B)"));
    assert!(MAIN_WASM.contains("result = coordinator.waitForResult(taskId)"));
    assert!(MAIN_WASM.contains("requires coordinator.Coordinator coordinator"));
    assert!(MAIN_LOOP.contains("provides App, ProcessLoop"));

    let methods = interface_methods();
    assert_eq!(
        methods,
        [
            "setCoordinatorUrl",
            "getCoordinatorUrl",
            "submitTask",
            "waitForResult",
            "status",
            "tryResult"
        ]
    );
    for method in methods {
        let call = format!("coordinator.{method}(");
        assert!(
            MAIN_WASM.contains(&call) || MAIN_LOOP.contains(&call),
            "no example app calls {method}"
        );
        assert!(
            COMPONENT.contains(&format!("Coordinator:{method}(")),
            "the component does not implement {method}"
        );
    }
}

/// Serves one connection with `answer` and closes it, returning what the client wrote.
fn one_shot_server(answer: &'static [u8]) -> (SocketAddr, thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local address");
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut request = Vec::new();
        let mut byte = [0; 1];
        while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).expect("read") == 1 {
            request.push(byte[0]);
        }
        stream.write_all(answer).expect("write");
        request
    });
    (addr, handle)
}

#[test]
fn dana_client_reads_nothing_of_a_body_without_length_or_chunking() {
    let (addr, server) =
        one_shot_server(b"HTTP/1.1 200 OK\r\nContent-Type:application/json\r\n\r\n{\"taskId\":1}");
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
    let (addr, server) = one_shot_server(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\n{\"sta\r\nF\r\ntus\":\"pending\"}\r\n0\r\n\r\n",
    );
    let answer =
        dana_http::exchange(addr, b"GET / HTTP/1.1\r\nhost:localhost\r\n\r\n").expect("exchange");
    server.join().expect("server thread");
    assert_eq!(answer.text(), r#"{"status":"pending"}"#);
    assert!(answer.leftover.is_empty());

    let (addr, server) =
        one_shot_server(b"HTTP/1.1 404 Not Found\r\nCONTENT-LENGTH: 7\r\n\r\n{\"a\":1}trailing");
    let answer =
        dana_http::exchange(addr, b"GET / HTTP/1.1\r\nhost:localhost\r\n\r\n").expect("exchange");
    server.join().expect("server thread");
    assert_eq!(answer.response_code, "404");
    assert_eq!(answer.text(), r#"{"a":1}"#);
    assert_eq!(answer.leftover, b"trailing");
}
