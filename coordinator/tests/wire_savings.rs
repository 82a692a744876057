//! Fewer bytes on the wire for clients that ask: compressed answers
//! (`Accept-Encoding`), compressed uploads (`Content-Encoding: gzip`, the
//! inflated size held to `--max-body-bytes`), and a split task's `B` sent
//! by content address (`operands=ref`), and products posted packed
//! (`Content-Type: application/x-packed-int-matrix`). A client that asks for
//! none of it gets the contract's bytes, and `--plain-wire` turns all of it
//! off.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::process::Process;
use common::{Answer, TestApp, config, static_dir};
use coordinator::Config;
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

fn gzip(data: &[u8]) -> Vec<u8> {
    gzip_at(data, Compression::fast())
}

/// A body that inflates about a thousandfold: `data` at the best level.
fn bomb(data: &[u8]) -> Vec<u8> {
    gzip_at(data, Compression::best())
}

fn gzip_at(data: &[u8], level: Compression) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), level);
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn with_headers(method: &str, uri: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Body::from(body)).unwrap()
}

/// A square integer matrix as Dana text, values -99..99.
fn matrix(n: usize, seed: usize) -> String {
    let rows: Vec<String> = (0..n)
        .map(|i| {
            let values: Vec<String> = (0..n)
                .map(|j| (((i * 31 + j * 17 + seed * 7) % 199) as i64 - 99).to_string())
                .collect();
            format!("[{}]", values.join(","))
        })
        .collect();
    format!("[{}]", rows.join(","))
}

fn pair(n: usize) -> String {
    format!(r#"{{"A":"{}","B":"{}"}}"#, matrix(n, 1), matrix(n, 2))
}

fn splitting(plain_wire: bool) -> Config {
    let mut config = Config {
        split_min_flops: Some(1),
        ..config(static_dir())
    };
    config.edge.plain_wire = plain_wire;
    config
}

#[tokio::test]
async fn answers_are_compressed_only_for_clients_that_ask() {
    let app = TestApp::with_config(splitting(false));
    let id = app.submit(&pair(40)).await;
    let plain = app.get(&format!("/result/{id}")).await;
    assert_eq!(plain.header("content-encoding"), None);
    assert!(plain.header("content-length").is_some());
    for (asked, coding) in [("gzip", "gzip"), ("gzip, deflate, br, zstd", "zstd")] {
        let answer = app
            .send(with_headers(
                "GET",
                "/stats",
                &[("accept-encoding", asked)],
                Vec::new(),
            ))
            .await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header("content-encoding"), Some(coding), "{asked}");
        answer.assert_contract_headers();
    }
    // A lease of a part, compressed, inflates to the same bytes as a plain one.
    let lease = app
        .send(with_headers(
            "GET",
            "/task/next?workerId=w1",
            &[("accept-encoding", "gzip")],
            Vec::new(),
        ))
        .await;
    assert_eq!(lease.header("content-encoding"), Some("gzip"));
    let mut inflated = String::new();
    flate2::read::GzDecoder::new(&lease.body[..])
        .read_to_string(&mut inflated)
        .unwrap();
    assert!(inflated.starts_with("{\"taskId\":"), "{inflated}");
    assert!(inflated.contains(&matrix(40, 2)));
}

#[tokio::test]
async fn plain_wire_compresses_nothing_and_refuses_compressed_bodies() {
    let app = TestApp::with_config(splitting(true));
    let answer = app
        .send(with_headers(
            "GET",
            "/stats",
            &[("accept-encoding", "gzip, zstd")],
            Vec::new(),
        ))
        .await;
    assert_eq!(answer.header("content-encoding"), None);
    let answer = app
        .send(with_headers(
            "POST",
            "/task",
            &[("content-encoding", "gzip")],
            gzip(pair(4).as_bytes()),
        ))
        .await;
    answer.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(answer.header("accept-encoding"), Some("identity"));
    assert_eq!(app.get("/stats").await.json()["totalTasks"], 0);
}

#[tokio::test]
async fn a_gzip_upload_is_taken_as_the_body_it_inflates_to() {
    let app = TestApp::with_config(config(static_dir()));
    let data = r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#;
    let answer = app
        .send(with_headers(
            "POST",
            "/task",
            &[("content-encoding", "gzip")],
            gzip(data.as_bytes()),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let id = answer.json()["taskId"].as_u64().unwrap();
    let lease = app.get("/task/next?workerId=w1").await;
    assert_eq!(lease.text(), format!(r#"{{"taskId":{id},"data":{data}}}"#));
    let answer = app
        .send(with_headers(
            "POST",
            &format!("/task/{id}/result?workerId=w1"),
            &[("content-encoding", "gzip")],
            gzip(br#"{"result":"[[19,22],[43,50]]"}"#),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["result"], "[[19,22],[43,50]]");
    // Other codings are refused, naming the one taken.
    let answer = app
        .send(with_headers(
            "POST",
            "/task",
            &[("content-encoding", "br")],
            b"x".to_vec(),
        ))
        .await;
    answer.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(answer.header("accept-encoding"), Some("gzip"));
    // A body that says gzip and is not.
    let answer = app
        .send(with_headers(
            "POST",
            "/task",
            &[("content-encoding", "gzip")],
            data.as_bytes().to_vec(),
        ))
        .await;
    answer.assert_error(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_gzip_upload_inflating_past_the_limit_is_413_json() {
    let app = TestApp::with_config(Config {
        max_body_bytes: 64 * 1024,
        ..config(static_dir())
    });
    // 16 MiB of digits in a few kB.
    let bomb = bomb(&vec![b'1'; 16 * 1024 * 1024]);
    assert!(bomb.len() < 64 * 1024);
    let answer = app
        .send(with_headers(
            "POST",
            "/task",
            &[("content-encoding", "gzip")],
            bomb,
        ))
        .await;
    let message = answer.assert_error(StatusCode::PAYLOAD_TOO_LARGE);
    assert!(message.contains("65536"), "{message}");
    assert_eq!(app.get("/stats").await.json()["totalTasks"], 0);
}

/// The parts of a split task, leased by `worker` asking for references.
async fn lease_part(app: &TestApp, query: &str) -> Answer {
    let answer = app.get(&format!("/task/next?{query}")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer
}

#[tokio::test]
async fn parts_name_b_by_content_address_for_workers_that_ask() {
    let app = TestApp::with_config(splitting(false));
    let b = matrix(30, 2);
    let data = format!(r#"{{"A":"{}","B":"{b}"}}"#, matrix(30, 1));
    let id = app.submit(&data).await;
    let first = lease_part(&app, "workerId=w1&operands=ref").await.json();
    let second = lease_part(&app, "workerId=w1&operands=ref").await.json();
    let b_json = format!("\"{b}\"");
    let address = format!("{:x}", Sha256::digest(b_json.as_bytes()));
    let mut products = Vec::new();
    for lease in [&first, &second] {
        let reference = &lease["data"]["B"];
        assert_eq!(reference["operand"], address.as_str(), "{lease}");
        assert_eq!(reference["bytes"], b_json.len());
        let operand = app.get(&format!("/operand/{address}")).await;
        assert_eq!(operand.status, StatusCode::OK);
        assert_eq!(operand.text(), b_json);
        assert_eq!(
            operand.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        operand.assert_contract_headers();
        let a = lease["data"]["A"].as_str().unwrap();
        products.push((
            lease["taskId"].as_u64().unwrap(),
            kernel::multiply_text(a, &b).unwrap(),
        ));
    }
    for (part, product) in products {
        let body = serde_json::json!({ "result": product }).to_string();
        let answer = app
            .post(&format!("/task/{part}/result?workerId=w1"), body)
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    }
    let report = app.get(&format!("/result/{id}")).await.json();
    assert_eq!(report["status"], "completed");
    let whole = kernel::multiply_text(&matrix(30, 1), &b).unwrap();
    assert_eq!(report["result"], whole.as_str());
    app.get(&format!("/operand/{}", "0".repeat(64)))
        .await
        .assert_error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_operand_goes_compressed_once_to_clients_that_accept_zstd_or_gzip() {
    let app = TestApp::with_config(splitting(false));
    let b = matrix(60, 2);
    app.submit(&format!(r#"{{"A":"{}","B":"{b}"}}"#, matrix(60, 1)))
        .await;
    lease_part(&app, "workerId=w1&operands=ref").await;
    let b_json = format!("\"{b}\"");
    let uri = format!("/operand/{:x}", Sha256::digest(b_json.as_bytes()));
    let get = |accept: &'static str| {
        app.send(with_headers(
            "GET",
            &uri,
            &[("accept-encoding", accept)],
            Vec::new(),
        ))
    };
    // Two pages at once: one copy, made once, for both.
    let (one, two) = tokio::join!(get("gzip, deflate, br, zstd"), get("zstd"));
    for answer in [&one, &two] {
        assert_eq!(answer.status, StatusCode::OK);
        answer.assert_contract_headers();
        assert_eq!(
            answer.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(answer.header("content-encoding"), Some("zstd"));
        assert_eq!(answer.header("vary"), Some("accept-encoding"));
        assert_eq!(
            zstd::decode_all(&answer.body[..]).unwrap(),
            b_json.as_bytes()
        );
        assert!(answer.body.len() * 2 < b_json.len());
    }
    assert_eq!(one.body, two.body);
    // gzip only (a browser over plain HTTP), or zstd refused: its gzip copy.
    let (one, two) = tokio::join!(get("gzip, deflate"), get("gzip, zstd;q=0"));
    for answer in [&one, &two] {
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header("content-encoding"), Some("gzip"));
        assert_eq!(answer.header("vary"), Some("accept-encoding"));
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(&answer.body[..])
            .read_to_end(&mut text)
            .unwrap();
        assert_eq!(text, b_json.as_bytes());
        assert!(answer.body.len() * 2 < b_json.len());
    }
    assert_eq!(one.body, two.body);
    // Nothing asked, or neither coding: as it is.
    let br = get("br").await;
    assert_eq!(br.header("content-encoding"), None);
    assert_eq!(br.text(), b_json);
    let plain = app.get(&uri).await;
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.text(), b_json);
}

#[tokio::test]
async fn parts_carry_b_inline_unless_asked_or_with_plain_wire() {
    for (plain_wire, query) in [(false, "workerId=w1"), (true, "workerId=w1&operands=ref")] {
        let app = TestApp::with_config(splitting(plain_wire));
        let b = matrix(20, 2);
        app.submit(&format!(r#"{{"A":"{}","B":"{b}"}}"#, matrix(20, 1)))
            .await;
        let lease = lease_part(&app, query).await;
        assert!(
            lease.text().ends_with(&format!(",\"B\":\"{b}\"}}}}")),
            "{}",
            lease.text()
        );
    }
}

/// Peak resident memory of a process (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib * 1024
}

/// Sends `body` as a gzip upload to `POST /task`; the status and body.
fn post_gzip(addr: std::net::SocketAddr, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let head = format!(
        "POST /task HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (and close) before the whole body is sent.
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

#[test]
fn compressed_bombs_are_refused_and_memory_stays_bounded() {
    const LIMIT: usize = 4 * 1024 * 1024;
    const BOMBS: usize = 8;
    let dir = static_dir();
    // The allocator (mimalloc) keeps freed pages for a few milliseconds
    // before it gives them back, which would count pages already freed in
    // the peak: here it gives them back at once, so the peak is what was
    // held.
    let process = Process::start_under(
        &["env", "MIMALLOC_PURGE_DELAY=0"],
        &["--in-memory", "--max-body-bytes", &LIMIT.to_string()],
        &dir,
    )
    .unwrap();
    // 64 gzip members of 16 MiB of zeros each: 1 GiB inflated, about 1 MiB sent.
    let member = bomb(&vec![0u8; 16 * 1024 * 1024]);
    let bomb: Vec<u8> = member.repeat(64);
    assert!(bomb.len() < 2 * 1024 * 1024, "{}", bomb.len());
    let before = peak_rss(process.pid());
    let started = Instant::now();
    let answers: Vec<(u16, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..BOMBS)
            .map(|_| scope.spawn(|| post_gzip(process.addr, &bomb)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let grown = peak_rss(process.pid()).saturating_sub(before);
    for (status, body) in &answers {
        assert_eq!(*status, 413, "{body}");
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(
            json["error"]
                .as_str()
                .unwrap()
                .contains("larger than the limit")
        );
    }
    // Eight bodies of 1 GiB each, inflated at once, held to the limit each,
    // plus the allocator's own segments and per-thread caches.
    assert!(
        grown < (BOMBS * LIMIT + 64 * 1024 * 1024) as u64,
        "peak memory grew by {grown} bytes"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    let (status, _) = common::process::call(process.addr, "GET", "/health", b"").unwrap();
    assert_eq!(status, 200);
    eprintln!(
        "{BOMBS} gzip uploads of {} bytes, 1 GiB inflated each, limit {LIMIT}: all 413 in {:?}, peak memory grew {} KiB",
        bomb.len(),
        started.elapsed(),
        grown / 1024
    );
}

fn packed(body: Vec<u8>, uri: &str) -> Request<Body> {
    with_headers(
        "POST",
        uri,
        &[("content-type", kernel::packed::MEDIA_TYPE)],
        body,
    )
}

#[tokio::test]
async fn packed_products_are_read_as_the_text_they_stand_for() {
    let app = TestApp::with_config(splitting(false));
    let (a, b) = (matrix(30, 1), matrix(30, 2));
    let id = app.submit(&format!(r#"{{"A":"{a}","B":"{b}"}}"#)).await;
    let mut parts = Vec::new();
    while let answer = app.get("/task/next?workerId=w1").await
        && answer.status == StatusCode::OK
    {
        parts.push(answer.json());
    }
    assert!(parts.len() > 1, "the task was not split");
    for (k, lease) in parts.iter().enumerate() {
        let part = lease["taskId"].as_u64().unwrap();
        let uri = format!("/task/{part}/result?workerId=w1");
        let part_a = lease["data"]["A"].as_str().unwrap();
        let product = kernel::packed::multiply_text_to_wire(part_a, &b).unwrap();
        assert!(product.starts_with(kernel::packed::MAGIC));
        if k == 0 {
            // Tried first: bytes that are not a packed matrix, a product
            // one value off, and a text over the body limit. Each is
            // refused, and the part is still the worker's to answer.
            let answer = app.send(packed(b"[[1]]".to_vec(), &uri)).await;
            let error = answer.assert_error(StatusCode::BAD_REQUEST);
            assert!(error.contains("Packed body"), "{error}");
            let answer = app
                .send(packed(product[..product.len() - 1].to_vec(), &uri))
                .await;
            answer.assert_error(StatusCode::BAD_REQUEST);
            let text = kernel::multiply_text(part_a, &b).unwrap();
            let mut wrong: kernel::Matrix<i64> = kernel::text::parse_i64(&text).unwrap();
            let first = wrong.data()[0] + 1;
            wrong = kernel::Matrix::new(
                wrong.rows(),
                wrong.cols(),
                std::iter::once(first)
                    .chain(wrong.data()[1..].iter().copied())
                    .collect(),
            )
            .unwrap();
            let answer = app
                .send(packed(kernel::packed::pack_i64(&wrong), &uri))
                .await;
            answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
            let again = app.get("/task/next?workerId=w1").await;
            assert_eq!(
                again.json()["taskId"],
                part,
                "the rejected part is leased again"
            );
        }
        let answer = app.send(packed(product, &uri)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        assert_eq!(
            answer.json()["result"],
            kernel::multiply_text(part_a, &b).unwrap().as_str()
        );
    }
    let report = app.get(&format!("/result/{id}")).await.json();
    assert_eq!(report["status"], "completed");
    assert_eq!(
        report["result"],
        kernel::multiply_text(&a, &b).unwrap().as_str()
    );
    // What arrived packed and what it stood for, for operators; the refused
    // bodies count nothing.
    let metrics = app.get("/metrics").await.text();
    let packed = packed_bytes(&metrics, "result", "packed");
    let json = packed_bytes(&metrics, "result", "json");
    assert!(
        packed > 0 && json > 2 * packed,
        "{packed} packed for {json} of JSON"
    );
}

/// `coordinator_packed_body_bytes_total{route,form}` in a metrics text.
fn packed_bytes(metrics: &str, route: &str, form: &str) -> u64 {
    let series =
        format!(r#"coordinator_packed_body_bytes_total{{route="{route}",form="{form}"}} "#);
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |value| value.trim().parse().unwrap())
}

#[tokio::test]
async fn a_packed_product_whose_text_is_over_the_limit_is_413_json() {
    let app = TestApp::with_config(Config {
        max_body_bytes: 16 * 1024,
        ..config(static_dir())
    });
    let id = app.submit(r#"{"A":"[[1]]","B":"[[1]]"}"#).await;
    app.get("/task/next?workerId=w1").await;
    // 1,600 values of 14 characters: about 10 kB packed, 24 kB of text.
    let big = kernel::Matrix::new(40, 40, vec![-1_000_000_000_000; 1600]).unwrap();
    let body = kernel::packed::pack_i64(&big);
    assert!(body.len() < 16 * 1024);
    let uri = format!("/task/{id}/result?workerId=w1");
    let answer = app.send(packed(body, &uri)).await;
    answer.assert_error(StatusCode::PAYLOAD_TOO_LARGE);
    // The task is untouched: still the worker's, and its right answer,
    // packed, completes it.
    let report = app.get(&format!("/result/{id}")).await.json();
    assert_eq!(report["status"], "processing");
    let one = kernel::packed::pack_i64(&kernel::Matrix::new(1, 1, vec![1]).unwrap());
    let answer = app.send(packed(one, &uri)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["result"], "[[1]]");
}

#[tokio::test]
async fn plain_wire_refuses_packed_products_so_pages_post_text() {
    let app = TestApp::with_config(splitting(true));
    let id = app.submit(r#"{"A":"[[1]]","B":"[[2]]"}"#).await;
    app.get("/task/next?workerId=w1").await;
    let two = kernel::packed::pack_i64(&kernel::Matrix::new(1, 1, vec![2]).unwrap());
    let uri = format!("/task/{id}/result?workerId=w1");
    let error = app
        .send(packed(two, &uri))
        .await
        .assert_error(StatusCode::BAD_REQUEST);
    assert!(error.contains("--plain-wire"), "{error}");
    let answer = app.post(&uri, r#"{"result":"[[2]]"}"#).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
}

#[tokio::test]
async fn packed_operands_are_taken_as_the_task_body_they_stand_for() {
    let app = TestApp::with_config(splitting(false));
    let (a, b) = (matrix(30, 1), matrix(30, 2));
    let pack = |text: &str| kernel::packed::pack_i64(&kernel::text::parse_i64(text).unwrap());
    let mut body = pack(&a);
    body.extend_from_slice(&pack(&b));
    let answer = app.send(packed(body.clone(), "/task")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let id = answer.json()["taskId"].as_u64().unwrap();
    // Workers see text: each part's rows of A and the whole of B.
    let mut done = 0;
    while let lease = app.get("/task/next?workerId=w1").await
        && lease.status == StatusCode::OK
    {
        let lease = lease.json();
        assert_eq!(lease["data"]["B"], b.as_str());
        let part = lease["taskId"].as_u64().unwrap();
        let part_a = lease["data"]["A"].as_str().unwrap();
        let result = serde_json::json!({ "result": kernel::multiply_text(part_a, &b).unwrap() });
        let posted = app
            .post(
                &format!("/task/{part}/result?workerId=w1"),
                result.to_string(),
            )
            .await;
        assert_eq!(posted.status, StatusCode::OK, "{}", posted.text());
        done += 1;
    }
    assert!(done > 1, "the task was not split");
    let report = app.get(&format!("/result/{id}")).await.json();
    assert_eq!(
        report["result"],
        kernel::multiply_text(&a, &b).unwrap().as_str()
    );
    // Tried: only A, and three matrices; each is refused and queues nothing.
    let before = app.get("/stats").await.json()["totalTasks"].clone();
    let error = app
        .send(packed(pack(&a), "/task"))
        .await
        .assert_error(StatusCode::BAD_REQUEST);
    assert!(error.contains("Packed body"), "{error}");
    let mut three = body;
    three.extend_from_slice(&pack(&b));
    app.send(packed(three, "/task"))
        .await
        .assert_error(StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/stats").await.json()["totalTasks"], before);
    let metrics = app.get("/metrics").await.text();
    let sent = pack(&a).len() + pack(&b).len();
    assert_eq!(packed_bytes(&metrics, "task", "packed"), sent as u64);
    let stored = format!(r#"{{"A":"{a}","B":"{b}"}}"#);
    assert_eq!(packed_bytes(&metrics, "task", "json"), stored.len() as u64);
}

/// `GET uri` asking for a packed product (`Accept`), as the pages do.
async fn get_packed(app: &TestApp, uri: &str) -> Answer {
    let accept = format!("{}, application/json", kernel::packed::MEDIA_TYPE);
    app.send(with_headers("GET", uri, &[("accept", &accept)], Vec::new()))
        .await
}

/// Completes every part `app` hands out with its honest product, as text.
async fn complete_parts(app: &TestApp, b: &str) -> usize {
    let mut done = 0;
    while let lease = app.get("/task/next?workerId=w1").await
        && lease.status == StatusCode::OK
    {
        let lease = lease.json();
        let part = lease["taskId"].as_u64().unwrap();
        let part_a = lease["data"]["A"].as_str().unwrap();
        let result = serde_json::json!({ "result": kernel::multiply_text(part_a, b).unwrap() });
        let uri = format!("/task/{part}/result?workerId=w1");
        let posted = app.post(&uri, result.to_string()).await;
        assert_eq!(posted.status, StatusCode::OK, "{}", posted.text());
        done += 1;
    }
    done
}

#[tokio::test]
async fn a_completed_product_is_answered_packed_to_clients_that_ask() {
    let app = TestApp::with_config(splitting(false));
    let (a, b) = (matrix(30, 1), matrix(30, 2));
    let id = app.submit(&format!(r#"{{"A":"{a}","B":"{b}"}}"#)).await;
    let uri = format!("/result/{id}");
    // Not finished: the JSON report, whatever the client accepts.
    let pending = get_packed(&app, &uri).await;
    assert_eq!(pending.header("content-type"), Some("application/json"));
    assert_eq!(pending.json()["status"], "processing");
    assert!(complete_parts(&app, &b).await > 1, "the task was not split");

    let json = app.get(&uri).await;
    assert_eq!(json.header("content-type"), Some("application/json"));
    let answer = get_packed(&app, &uri).await;
    assert_eq!(answer.status, StatusCode::OK);
    answer.assert_contract_headers();
    assert_eq!(
        answer.header("content-type"),
        Some(kernel::packed::MEDIA_TYPE)
    );
    assert_eq!(answer.header("vary"), Some("Accept"));
    assert_eq!(
        answer.header("access-control-expose-headers"),
        Some("x-task-report")
    );
    // The body is the product, byte for byte the text of the JSON answer
    // once unpacked; the header is the rest of that answer.
    let text = kernel::packed::unpack_to_text(&answer.body, usize::MAX).unwrap();
    let expected = kernel::multiply_text(&a, &b).unwrap();
    assert_eq!(String::from_utf8(text).unwrap(), expected);
    assert_eq!(json.json()["result"], expected.as_str());
    let mut rest: serde_json::Value =
        serde_json::from_str(answer.header("x-task-report").unwrap()).unwrap();
    assert!(rest.get("result").is_none());
    rest["result"] = json.json()["result"].clone();
    assert_eq!(rest, json.json());
    assert!(answer.body.len() * 2 < expected.len());

    // Asking for the parts: they are in the header too.
    let parts = get_packed(&app, &format!("{uri}?parts=1")).await;
    assert_eq!(
        parts.header("content-type"),
        Some(kernel::packed::MEDIA_TYPE)
    );
    let listed: serde_json::Value =
        serde_json::from_str(parts.header("x-task-report").unwrap()).unwrap();
    let json_parts = app.get(&format!("{uri}?parts=1")).await;
    assert_eq!(listed["parts"], json_parts.json()["parts"]);
    assert!(listed["parts"].as_array().is_some_and(|p| p.len() > 1));
    // Not listing the media type, or refusing it: the contract's JSON.
    for accept in [
        "application/json",
        "*/*",
        "application/x-packed-int-matrix;q=0",
    ] {
        let request = with_headers("GET", &uri, &[("accept", accept)], Vec::new());
        let answer = app.send(request).await;
        assert_eq!(answer.body, json.body, "{accept}");
    }
    let metrics = app.get("/metrics").await.text();
    assert_eq!(
        packed_bytes(&metrics, "report", "packed"),
        (answer.body.len() + parts.body.len()) as u64
    );
    assert_eq!(
        packed_bytes(&metrics, "report", "json"),
        (json.body.len() + json_parts.body.len()) as u64
    );

    // It is compact already: not compressed, whatever the client accepts,
    // where the JSON answer is.
    for coding in ["gzip", "zstd"] {
        let accept = format!("{}, application/json", kernel::packed::MEDIA_TYPE);
        let headers = [("accept", accept.as_str()), ("accept-encoding", coding)];
        let coded = app
            .send(with_headers("GET", &uri, &headers, Vec::new()))
            .await;
        assert_eq!(coded.header("content-encoding"), None, "{coding}");
        assert_eq!(coded.body, answer.body, "{coding}");
        let headers = [("accept-encoding", coding)];
        let json = app
            .send(with_headers("GET", &uri, &headers, Vec::new()))
            .await;
        assert_eq!(json.header("content-encoding"), Some(coding));
    }
}

#[tokio::test]
async fn a_report_too_long_for_a_header_is_answered_as_json() {
    // Parts taken by workers with ids of 128 bytes: their list passes 2 KiB.
    let app = TestApp::with_config(Config {
        max_parts: 16,
        ..splitting(false)
    });
    let workers: Vec<String> = (0..16).map(|k| format!("{k:0>128}")).collect();
    for worker in &workers {
        let seen = app.get(&format!("/task/next?workerId={worker}")).await;
        assert_eq!(seen.status, StatusCode::NO_CONTENT);
    }
    let (a, b) = (matrix(32, 1), matrix(32, 2));
    let id = app.submit(&format!(r#"{{"A":"{a}","B":"{b}"}}"#)).await;
    let mut done = 0;
    for worker in workers.iter().cycle().take(64) {
        let lease = app.get(&format!("/task/next?workerId={worker}")).await;
        if lease.status != StatusCode::OK {
            break;
        }
        let lease = lease.json();
        let part = lease["taskId"].as_u64().unwrap();
        let part_a = lease["data"]["A"].as_str().unwrap();
        let result = serde_json::json!({ "result": kernel::multiply_text(part_a, &b).unwrap() });
        let uri = format!("/task/{part}/result?workerId={worker}");
        let posted = app.post(&uri, result.to_string()).await;
        assert_eq!(posted.status, StatusCode::OK, "{}", posted.text());
        done += 1;
    }
    assert!(done >= 12, "{done} parts");
    let answer = get_packed(&app, &format!("/result/{id}?parts=1")).await;
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let report = answer.json();
    assert_eq!(report["status"], "completed");
    assert!(serde_json::to_string(&report["parts"]).unwrap().len() > 2048);
    // Without the parts, the same product goes packed.
    let packed = get_packed(&app, &format!("/result/{id}")).await;
    assert_eq!(
        packed.header("content-type"),
        Some(kernel::packed::MEDIA_TYPE)
    );
}

#[tokio::test]
async fn products_that_are_not_the_kernels_integer_text_stay_json() {
    // Unchecked, so that any text is taken: a float product, a product
    // posted with spaces, and one posted as a JSON array (stored as its
    // compact text, which does pack).
    let cases = [
        (
            r#"{"A":"[[1.5]]","B":"[[3]]"}"#,
            r#"{"result":"[[4.5]]"}"#,
            false,
        ),
        (
            r#"{"A":"[[1,2]]","B":"[[3],[4]]"}"#,
            r#"{"result":"[[ 11 ]]"}"#,
            false,
        ),
        (
            r#"{"A":"[[1,2]]","B":"[[3],[4]]"}"#,
            r#"{"result":[[11]]}"#,
            true,
        ),
    ];
    let app = TestApp::with_config(Config {
        verify: false,
        ..config(static_dir())
    });
    for (task, result, packs) in cases {
        let id = app.submit(task).await;
        let lease = app.get("/task/next?workerId=w1").await;
        assert_eq!(lease.json()["taskId"], id);
        let uri = format!("/task/{id}/result?workerId=w1");
        let posted = app.post(&uri, result).await;
        assert_eq!(posted.status, StatusCode::OK, "{}", posted.text());
        let answer = get_packed(&app, &format!("/result/{id}")).await;
        let packed = answer.header("content-type") == Some(kernel::packed::MEDIA_TYPE);
        assert_eq!(packed, packs, "{result}");
    }
    // With --plain-wire, never.
    let app = TestApp::with_config(splitting(true));
    let id = app.submit(r#"{"A":"[[1]]","B":"[[2]]"}"#).await;
    app.get("/task/next?workerId=w1").await;
    let posted = app
        .post(
            &format!("/task/{id}/result?workerId=w1"),
            r#"{"result":"[[2]]"}"#,
        )
        .await;
    assert_eq!(posted.status, StatusCode::OK);
    let answer = get_packed(&app, &format!("/result/{id}")).await;
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.json()["result"], "[[2]]");
}
