//! The accept loop and the body budget: head timeout, connection cap and
//! idle connections, bodies metered as they arrive, over real sockets with
//! tokio's clock paused (timers fire when the runtime idles, nothing sleeps
//! for real).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Server, config, static_dir};
use coordinator::Config;
use coordinator::server::{HEADER_READ_TIMEOUT, IDLE_TIMEOUT_UNDER_PRESSURE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nhost:x\r\nconnection:close\r\n\r\n";

async fn read_all(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(start_paused = true)]
async fn unfinished_headers_are_cut_off_after_the_timeout() {
    let server = Server::start(config(static_dir())).await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nhost:x\r\n")
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let answer = tokio::time::timeout(HEADER_READ_TIMEOUT * 2, read_all(&mut slow))
        .await
        .expect("the half-sent request was never cut off");
    assert!(started.elapsed() >= HEADER_READ_TIMEOUT);
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout"),
        "{answer}"
    );
    assert!(answer.contains(r#"{"error":"Request head not received within"#));

    let mut fresh = TcpStream::connect(server.addr).await.unwrap();
    fresh.write_all(HEALTH).await.unwrap();
    assert!(read_all(&mut fresh).await.starts_with("HTTP/1.1 200 OK"));
}

#[tokio::test(start_paused = true)]
async fn a_busy_connection_at_the_cap_keeps_its_slot() {
    let server = Server::start(Config {
        max_connections: 1,
        ..config(static_dir())
    })
    .await;
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    first
        .write_all(b"GET /task/next?workerId=w&wait=20 HTTP/1.1\r\nhost:x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;

    // The first connection is in a long poll, so the second is not served yet.
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    second.write_all(HEALTH).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(5), read_all(&mut second)).await;
    assert!(waited.is_err(), "served beyond the cap: {waited:?}");

    let mut head = [0u8; 23];
    first.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 204 No Content");
    // Now idle while connections run short, the first makes way.
    let answer = tokio::time::timeout(IDLE_TIMEOUT_UNDER_PRESSURE * 3, read_all(&mut second))
        .await
        .expect("the waiting connection was not served after the slot freed");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
}

#[tokio::test(start_paused = true)]
async fn idle_connections_make_way_when_connections_run_short() {
    let server = Server::start(Config {
        max_connections: 4,
        ..config(static_dir())
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"GET /health HTTP/1.1\r\nhost:x\r\n\r\n")
            .await
            .unwrap();
        let mut head = [0u8; 15];
        stream.read_exact(&mut head).await.unwrap();
        idle.push(stream);
    }
    let started = tokio::time::Instant::now();
    let mut fresh = TcpStream::connect(server.addr).await.unwrap();
    fresh.write_all(HEALTH).await.unwrap();
    let answer = tokio::time::timeout(IDLE_TIMEOUT_UNDER_PRESSURE * 3, read_all(&mut fresh))
        .await
        .expect("idle connections held every slot");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(started.elapsed() < IDLE_TIMEOUT_UNDER_PRESSURE * 3);
    assert!(started.elapsed() < coordinator::config::EdgeLimits::default().idle);
}

fn small_budget() -> Config {
    Config {
        max_body_bytes: 100,
        max_inflight_body_bytes: 100,
        ..config(static_dir())
    }
}

const PARTIAL_UPLOAD: &[u8] =
    b"POST /task HTTP/1.1\r\nhost:x\r\ncontent-length:100\r\n\r\n0123456789";

const SMALL_TASK: &[u8] =
    b"POST /task HTTP/1.1\r\nhost:x\r\ncontent-length:2\r\nconnection:close\r\n\r\n{}";

#[tokio::test(start_paused = true)]
async fn a_declared_length_takes_no_budget_before_its_bytes_arrive() {
    let server = Server::start(small_budget()).await;
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    first.write_all(PARTIAL_UPLOAD).await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;

    let mut second = TcpStream::connect(server.addr).await.unwrap();
    second.write_all(SMALL_TASK).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(1), read_all(&mut second))
        .await
        .expect("a declared length blocked another upload");
    assert!(answer.ends_with(r#"{"taskId":1}"#), "{answer}");
}

#[tokio::test(start_paused = true)]
async fn uploads_beyond_the_body_budget_wait_their_turn() {
    let server = Server::start(small_budget()).await;
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    first.write_all(PARTIAL_UPLOAD).await.unwrap();
    first.write_all(&[b' '; 85]).await.unwrap();
    // Let the server take the first upload's 95 bytes before the second asks.
    tokio::time::sleep(Duration::from_millis(10)).await;

    let mut second = TcpStream::connect(server.addr).await.unwrap();
    second
        .write_all(b"POST /task HTTP/1.1\r\nhost:x\r\ncontent-length:12\r\nconnection:close\r\n\r\n{\"x\":\"abcd\"}")
        .await
        .unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(2), read_all(&mut second)).await;
    assert!(
        waited.is_err(),
        "the second upload did not wait: {waited:?}"
    );

    first.write_all(&[b' '; 5]).await.unwrap();
    let mut head = [0u8; 15];
    first.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 OK");
    let answer = tokio::time::timeout(Duration::from_secs(5), read_all(&mut second))
        .await
        .expect("the waiting upload was not served once the budget freed");
    assert!(answer.ends_with(r#"{"taskId":2}"#), "{answer}");
}

#[tokio::test(start_paused = true)]
async fn an_upload_that_finds_no_room_in_time_gets_503() {
    let mut config = small_budget();
    config.edge.body_budget_wait = Duration::from_secs(2);
    let server = Server::start(config).await;
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    first.write_all(PARTIAL_UPLOAD).await.unwrap();
    first.write_all(&[b' '; 89]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;

    let mut second = TcpStream::connect(server.addr).await.unwrap();
    second.write_all(SMALL_TASK).await.unwrap();
    let wait = Duration::from_secs(2);
    let answer = tokio::time::timeout(wait * 2, read_all(&mut second))
        .await
        .expect("the waiting upload was never answered");
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable"),
        "{answer}"
    );
    assert!(answer.contains("Too many uploads in progress"), "{answer}");
}

#[tokio::test(start_paused = true)]
async fn stalled_upload_gets_408_and_frees_its_share() {
    let server = Server::start(small_budget()).await;
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    stalled.write_all(PARTIAL_UPLOAD).await.unwrap();
    let edge = coordinator::config::EdgeLimits::default();
    let started = tokio::time::Instant::now();
    let answer = tokio::time::timeout(edge.body_grace * 2, read_all(&mut stalled))
        .await
        .expect("the stalled upload was never answered");
    assert!(started.elapsed() >= edge.body_grace);
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout"),
        "{answer}"
    );
    assert!(
        answer.contains(r#"{"error":"Request body arrived slower than"#),
        "{answer}"
    );

    let mut next = TcpStream::connect(server.addr).await.unwrap();
    next.write_all(SMALL_TASK).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), read_all(&mut next))
        .await
        .unwrap();
    assert!(answer.ends_with(r#"{"taskId":1}"#), "{answer}");
}

#[tokio::test(start_paused = true)]
async fn pipelined_requests_are_answered_in_order_up_to_a_malformed_one() {
    let server = Server::start(config(static_dir())).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(
            b"POST /task HTTP/1.1\r\nhost:x\r\ncontent-length:2\r\n\r\n{}\
              POST /task HTTP/1.1\r\nhost:x\r\ntransfer-encoding:chunked\r\n\r\n2;x=y\r\n[]\r\n0\r\nx-t: 1\r\n\r\n\
              GET /health HTTP/1.1\r\nhost:x\r\n\r\n\
              GET /\xff HTTP/1.1\r\nhost:x\r\n\r\n\
              GET /health HTTP/1.1\r\nhost:x\r\n\r\n",
        )
        .await
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), read_all(&mut stream))
        .await
        .expect("the connection was not closed after the malformed request");
    let first = answer.find(r#"{"taskId":1}"#).expect(&answer);
    let second = answer.find(r#"{"taskId":2}"#).expect(&answer);
    let health = answer.find(r#"{"status":"ok""#).expect(&answer);
    let refused = answer.find("HTTP/1.1 400 Bad Request").expect(&answer);
    assert!(
        first < second && second < health && health < refused,
        "{answer}"
    );
    let tail = &answer[refused..];
    assert!(tail.contains("content-type: application/json"), "{tail}");
    assert!(
        tail.contains("cross-origin-embedder-policy: require-corp"),
        "{tail}"
    );
    assert!(
        tail.contains(r#"{"error":"Malformed request: invalid request target"}"#),
        "{tail}"
    );
    assert_eq!(
        answer.matches("HTTP/1.1 ").count(),
        4,
        "nothing after the refusal: {answer}"
    );
}
