//! The accept loop: header-read timeout and connection cap, over real
//! sockets with tokio's clock paused (timers fire when the runtime idles,
//! nothing sleeps for real).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Server, config, static_dir};
use coordinator::Config;
use coordinator::server::HEADER_READ_TIMEOUT;
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
    assert!(!answer.contains("200 OK"), "{answer}");

    let mut fresh = TcpStream::connect(server.addr).await.unwrap();
    fresh.write_all(HEALTH).await.unwrap();
    assert!(read_all(&mut fresh).await.starts_with("HTTP/1.1 200 OK"));
}

#[tokio::test(start_paused = true)]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let server = Server::start(Config {
        max_connections: 1,
        ..config(static_dir())
    })
    .await;
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    first
        .write_all(b"GET /health HTTP/1.1\r\nhost:x\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 15];
    first.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 OK");

    // The first connection is kept alive, so the second is not served yet.
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    second.write_all(HEALTH).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(5), read_all(&mut second)).await;
    assert!(waited.is_err(), "served beyond the cap: {waited:?}");

    drop(first);
    let answer = tokio::time::timeout(Duration::from_secs(5), read_all(&mut second))
        .await
        .expect("the waiting connection was not served after a slot freed");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
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

#[tokio::test(start_paused = true)]
async fn uploads_beyond_the_body_budget_wait_their_turn() {
    let server = Server::start(small_budget()).await;
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    first.write_all(PARTIAL_UPLOAD).await.unwrap();
    // Let the server take the first upload's share before the second asks.
    tokio::time::sleep(Duration::from_millis(10)).await;

    let mut second = TcpStream::connect(server.addr).await.unwrap();
    second
        .write_all(
            b"POST /task HTTP/1.1\r\nhost:x\r\ncontent-length:2\r\nconnection:close\r\n\r\n{}",
        )
        .await
        .unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(5), read_all(&mut second)).await;
    assert!(
        waited.is_err(),
        "the second upload did not wait: {waited:?}"
    );

    first.write_all(&[b'x'; 90]).await.unwrap();
    let mut head = [0u8; 15];
    first.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 OK");
    let answer = tokio::time::timeout(Duration::from_secs(5), read_all(&mut second))
        .await
        .expect("the waiting upload was not served once the budget freed");
    assert!(answer.ends_with(r#"{"taskId":2}"#), "{answer}");
}

#[tokio::test(start_paused = true)]
async fn stalled_upload_gets_408_and_frees_its_share() {
    let server = Server::start(small_budget()).await;
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    stalled.write_all(PARTIAL_UPLOAD).await.unwrap();
    let allowed = coordinator::body_budget::body_timeout(100);
    let answer = tokio::time::timeout(allowed * 2, read_all(&mut stalled))
        .await
        .expect("the stalled upload was never answered");
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout"),
        "{answer}"
    );
    assert!(
        answer.contains(r#"{"error":"Request body not received within"#),
        "{answer}"
    );

    let mut next = TcpStream::connect(server.addr).await.unwrap();
    next.write_all(
        b"POST /task HTTP/1.1\r\nhost:x\r\ncontent-length:2\r\nconnection:close\r\n\r\n{}",
    )
    .await
    .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), read_all(&mut next))
        .await
        .unwrap();
    assert!(answer.ends_with(r#"{"taskId":1}"#), "{answer}");
}
