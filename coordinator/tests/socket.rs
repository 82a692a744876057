//! The coordinator over a real socket on 127.0.0.1: full cycles, framing,
//! limits, concurrency and graceful shutdown.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use common::{Server, call, client, config, static_dir};
use coordinator::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn full_cycle_over_a_socket() {
    let server = Server::start(config(static_dir())).await;
    let client = client();
    let health = call(&client, "GET", &server.url("/health"), "").await;
    assert_eq!(health.text(), r#"{"status":"ok","service":"coordinator"}"#);
    health.assert_contract_headers();

    let data = r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#;
    let created = call(&client, "POST", &server.url("/task"), data).await;
    assert_eq!(created.text(), r#"{"taskId":1}"#);
    let next = call(&client, "GET", &server.url("/task/next?workerId=w"), "").await;
    assert_eq!(next.text(), format!(r#"{{"taskId":1,"data":{data}}}"#));
    assert_eq!(
        next.header("content-length"),
        Some(next.body.len().to_string().as_str())
    );
    let posted = call(
        &client,
        "POST",
        &server.url("/task/1/result"),
        r#"{"result":"[[19,22],[43,50]]"}"#,
    )
    .await;
    assert_eq!(posted.json()["status"], "completed");
    let got = call(&client, "GET", &server.url("/result/1"), "").await;
    assert_eq!(got.json()["result"], "[[19,22],[43,50]]");
    let page = call(&client, "GET", &server.url("/"), "").await;
    assert_eq!(page.status, StatusCode::OK);
    page.assert_contract_headers();
}

/// Sends raw bytes on a fresh connection and reads until the server closes.
async fn raw(server: &Server, bytes: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn headers_without_space_after_colon_are_accepted() {
    let server = Server::start(config(static_dir())).await;
    let body = r#"{"A":"[[1]]","B":"[[2]]"}"#;
    let request = format!(
        "POST /task HTTP/1.1\r\nhost:localhost\r\ncontent-length:{}\r\nconnection:close\r\n\r\n{body}",
        body.len()
    );
    let answer = raw(&server, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("content-length: 12\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\n{\"taskId\":1}"), "{answer}");
}

#[tokio::test]
async fn every_answer_with_a_body_has_content_length() {
    let server = Server::start(config(static_dir())).await;
    for request in [
        "GET /health HTTP/1.1\r\nhost:x\r\nconnection:close\r\n\r\n",
        "GET /stats HTTP/1.1\r\nhost:x\r\nconnection:close\r\n\r\n",
        "GET /result/abc HTTP/1.1\r\nhost:x\r\nconnection:close\r\n\r\n",
        "GET /result/5 HTTP/1.1\r\nhost:x\r\nconnection:close\r\n\r\n",
        "POST /nowhere HTTP/1.1\r\nhost:x\r\ncontent-length:0\r\nconnection:close\r\n\r\n",
        "GET /xdana.html HTTP/1.1\r\nhost:x\r\nconnection:close\r\n\r\n",
        "OPTIONS /task HTTP/1.1\r\nhost:x\r\nconnection:close\r\n\r\n",
    ] {
        let answer = raw(&server, request.as_bytes()).await;
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap_or_else(|| panic!("no content-length for {request:?}: {head}"));
        assert_eq!(length.parse::<usize>().unwrap(), body.len(), "{request:?}");
        assert!(head.contains("cross-origin-embedder-policy: require-corp"));
    }
}

#[tokio::test]
async fn oversized_body_is_413_and_server_stays_healthy() {
    let server = Server::start(Config {
        max_body_bytes: 4096,
        ..config(static_dir())
    })
    .await;
    let client = client();
    let answer = call(&client, "POST", &server.url("/task"), &"x".repeat(5000)).await;
    answer.assert_error(StatusCode::PAYLOAD_TOO_LARGE);
    let health = call(&client, "GET", &server.url("/health"), "").await;
    assert_eq!(health.status, StatusCode::OK);
}

#[tokio::test]
async fn bad_inputs_get_4xx_json_and_server_stays_healthy() {
    let server = Server::start(config(static_dir())).await;
    let client = client();
    call(&client, "POST", &server.url("/task"), "{}").await;
    let cases = [
        ("POST", "/task", "", StatusCode::BAD_REQUEST),
        (
            "POST",
            "/task/1/result",
            "not json",
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/task/1/result",
            r#"{"value":1}"#,
            StatusCode::BAD_REQUEST,
        ),
        ("POST", "/task/1/result", "", StatusCode::BAD_REQUEST),
        ("GET", "/result/0", "", StatusCode::BAD_REQUEST),
        ("GET", "/result/-1", "", StatusCode::BAD_REQUEST),
        ("GET", "/result/abc", "", StatusCode::BAD_REQUEST),
        (
            "GET",
            "/result/99999999999999999999",
            "",
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/task/0/result",
            r#"{"result":"x"}"#,
            StatusCode::BAD_REQUEST,
        ),
        ("GET", "/result/2", "", StatusCode::NOT_FOUND),
        ("GET", "/api/v2/whatever", "", StatusCode::NOT_FOUND),
        ("DELETE", "/task/1", "", StatusCode::NOT_FOUND),
    ];
    for (method, path, body, status) in cases {
        let answer = call(&client, method, &server.url(path), body).await;
        answer.assert_error(status);
    }
    let stats = call(&client, "GET", &server.url("/stats"), "").await.json();
    assert_eq!(
        (stats["totalTasks"].as_u64(), stats["queueSize"].as_u64()),
        (Some(1), Some(1))
    );
    let next = call(&client, "GET", &server.url("/task/next?workerId=w"), "").await;
    assert_eq!(next.json()["taskId"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_task_is_handed_out_exactly_once_to_concurrent_claimers() {
    const TASKS: u64 = 400;
    const CLAIMERS: usize = 32;
    // Every claimer is on 127.0.0.1 and none answers: all 400 leases are
    // held by one address at the end.
    let server = Server::start(Config {
        max_leases_per_client: TASKS as usize,
        ..config(static_dir())
    })
    .await;
    let client = client();
    let claimed = Arc::new(AtomicUsize::new(0));
    let mut claimers = Vec::new();
    for c in 0..CLAIMERS {
        let client = client.clone();
        let claimed = Arc::clone(&claimed);
        let url = server.url(&format!("/task/next?workerId=c{c}&wait=1"));
        claimers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            // Each claimer keeps polling until every task has been claimed.
            while claimed.load(Ordering::SeqCst) < TASKS as usize {
                let answer = call(&client, "GET", &url, "").await;
                if answer.status == StatusCode::OK {
                    got.push(answer.json()["taskId"].as_u64().unwrap());
                    claimed.fetch_add(1, Ordering::SeqCst);
                }
            }
            got
        }));
    }
    for _ in 0..TASKS {
        call(&client, "POST", &server.url("/task"), "{}").await;
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for claimer in claimers {
        let ids = tokio::time::timeout(Duration::from_secs(30), claimer)
            .await
            .expect("some task was never handed out")
            .unwrap();
        for id in ids {
            total += 1;
            assert!(seen.insert(id), "task {id} handed out twice");
        }
    }
    assert_eq!(total, TASKS as usize);
    assert_eq!(seen, (1..=TASKS).collect::<HashSet<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ids_are_unique_under_concurrent_submits() {
    const SUBMITTERS: usize = 16;
    const EACH: usize = 50;
    let server = Server::start(config(static_dir())).await;
    let client = client();
    let mut submitters = Vec::new();
    for _ in 0..SUBMITTERS {
        let client = client.clone();
        let url = server.url("/task");
        submitters.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..EACH {
                let answer = call(&client, "POST", &url, "{}").await;
                ids.push(answer.json()["taskId"].as_u64().unwrap());
            }
            ids
        }));
    }
    let mut ids = HashSet::new();
    for submitter in submitters {
        for id in submitter.await.unwrap() {
            assert!(ids.insert(id), "id {id} given twice");
        }
    }
    let expected = (SUBMITTERS * EACH) as u64;
    assert_eq!(ids, (1..=expected).collect::<HashSet<_>>());
}

#[tokio::test]
async fn shutdown_ends_long_polls_and_the_server() {
    let mut server = Server::start(config(static_dir())).await;
    let client = client();
    let url = server.url("/task/next?workerId=w&wait=30");
    let poll = {
        let client = client.clone();
        tokio::spawn(async move { call(&client, "GET", &url, "").await })
    };
    // Shut down once the poll is inside the handler (its worker is seen).
    let stats = server.url("/stats");
    while call(&client, "GET", &stats, "").await.json()["workersSeen"] != 1 {
        tokio::task::yield_now().await;
    }
    server.shutdown();
    let answer = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .expect("long poll still open after shutdown")
        .unwrap();
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    let served = tokio::time::timeout(Duration::from_secs(5), server.handle)
        .await
        .expect("server still running after shutdown");
    served.unwrap().unwrap();
}

/// Worker `worker`'s answer to the lease `lease` (a part of `b`'s product).
fn honest_answer(lease: &serde_json::Value, b: &str) -> String {
    let part_a = lease["data"]["A"].as_str().unwrap();
    serde_json::json!({ "result": kernel::multiply_text(part_a, b).unwrap() }).to_string()
}

#[tokio::test]
async fn no_backup_copy_of_a_part_whose_answer_is_arriving() {
    let server = Server::start(Config {
        split_min_flops: Some(1),
        ..config(static_dir())
    })
    .await;
    let client = client();
    let next = |worker: &str| server.url(&format!("/task/next?workerId={worker}"));
    // Both workers are seen, so the product is split into two parts.
    for worker in ["fast", "slow"] {
        let seen = call(&client, "GET", &next(worker), "").await;
        assert_eq!(seen.status, StatusCode::NO_CONTENT);
    }
    let b = "[[5,6],[7,8]]";
    let data = format!(r#"{{"A":"[[1,2],[3,4]]","B":"{b}"}}"#);
    let created = call(&client, "POST", &server.url("/task"), &data).await;
    assert_eq!(created.status, StatusCode::OK);
    let fast = call(&client, "GET", &next("fast"), "").await.json();
    let slow = call(&client, "GET", &next("slow"), "").await.json();
    let slow_id = slow["taskId"].as_u64().unwrap();
    assert_ne!(fast["taskId"], slow["taskId"]);
    // `fast` answers at once, so its speed is measured; `slow` has held its
    // part long enough that a copy for `fast` is due (100 ms past its time).
    let fast_uri = server.url(&format!("/task/{}/result?workerId=fast", fast["taskId"]));
    let posted = call(&client, "POST", &fast_uri, &honest_answer(&fast, b)).await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.text());
    tokio::time::sleep(Duration::from_millis(300)).await;

    // `slow` starts its answer: the head and half the body.
    let body = honest_answer(&slow, b);
    let mut answer = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /task/{slow_id}/result?workerId=slow HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    answer.write_all(head.as_bytes()).await.unwrap();
    answer
        .write_all(&body.as_bytes()[..body.len() / 2])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let none = call(&client, "GET", &next("fast"), "").await;
    assert_eq!(none.status, StatusCode::NO_CONTENT, "{}", none.text());

    // The answer is cut off: the copy is handed out after all.
    drop(answer);
    let mut copy = None;
    for _ in 0..50 {
        let lease = call(&client, "GET", &next("fast"), "").await;
        if lease.status == StatusCode::OK {
            copy = Some(lease.json());
            break;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let copy = copy.expect("a backup copy within 2 s of the cut answer");
    assert_eq!(copy["taskId"].as_u64(), Some(slow_id));
    let stats = call(&client, "GET", &server.url("/stats"), "").await.json();
    assert_eq!(stats["backups"], 1);
}
