//! Watching the coordinator run: `GET /metrics` scraped while tasks flow
//! and checked by Prometheus' own `promtool`, the dashboard's event stream,
//! the OpenAPI description, and JSON log lines from the binary.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::http::StatusCode;
use common::{Answer, Client, Server, TestApp, call, client, config, static_dir};
use http_body_util::BodyExt;

const TASK: &str = r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#;
const RIGHT: &str = r#"{"result":"[[19,22],[43,50]]"}"#;
const WRONG: &str = r#"{"result":"[[19,22],[43,51]]"}"#;

/// The sum of every sample of counter `name` (all label sets) in a scrape.
fn total(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Runs `promtool check metrics` on a scrape and panics with what it said
/// unless it found nothing wrong.
fn promtool_check(scrape: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "promtool not found ({e}): install Debian's `prometheus` package (.ci/test.sh does)"
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {}\n{said}\nscrape:\n{scrape}",
        out.status
    );
}

async fn scrape(client: &Client, server: &Server) -> String {
    let answer = call(client, "GET", &server.url("/metrics"), "").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    answer.text()
}

/// One full cycle as `worker` against the server at `base`: submit, lease,
/// post the product.
async fn cycle(client: &Client, base: &str, worker: &str) {
    let created = call(client, "POST", &format!("{base}/task"), TASK).await;
    assert_eq!(created.status, StatusCode::OK);
    let next = format!("{base}/task/next?workerId={worker}");
    let lease = call(client, "GET", &next, "").await;
    if lease.status == StatusCode::OK {
        let id = lease.json()["taskId"].as_u64().unwrap();
        let post = format!("{base}/task/{id}/result?workerId={worker}");
        let answered = call(client, "POST", &post, RIGHT).await;
        assert_eq!(answered.status, StatusCode::OK, "{}", answered.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_scraped_while_tasks_flow_pass_promtool_and_move_with_the_tasks() {
    let server = Server::start(config(static_dir())).await;
    let client = client();
    let before = scrape(&client, &server).await;
    promtool_check(&before);

    // Four workers run cycles while the metrics are scraped.
    let flows: Vec<_> = (0..4)
        .map(|n| {
            let (client, base) = (client.clone(), server.url(""));
            tokio::spawn(async move {
                for _ in 0..150 {
                    cycle(&client, &base, &format!("flow-{n}")).await;
                }
            })
        })
        .collect();
    let mut scrapes = Vec::new();
    while scrapes.len() < 5 && !flows.iter().all(|f| f.is_finished()) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let during = scrape(&client, &server).await;
        promtool_check(&during);
        scrapes.push(during);
    }
    for flow in flows {
        flow.await.unwrap();
    }
    let after = scrape(&client, &server).await;
    promtool_check(&after);
    scrapes.push(after.clone());

    // Counters never go back, and they moved as the tasks did.
    for name in [
        "coordinator_tasks_submitted_total",
        "coordinator_tasks_completed_total",
        "coordinator_task_end_to_end_seconds_count",
        "coordinator_http_request_duration_seconds_count",
    ] {
        let seen: Vec<f64> = scrapes.iter().map(|s| total(s, name)).collect();
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{name}: {seen:?}");
    }
    assert!(
        scrapes.iter().any(|s| {
            let submitted = total(s, "coordinator_tasks_submitted_total");
            submitted > 0.0 && submitted < 600.0
        }),
        "a scrape was taken while the tasks flowed"
    );
    assert_eq!(total(&before, "coordinator_tasks_submitted_total"), 0.0);
    assert_eq!(total(&after, "coordinator_tasks_submitted_total"), 600.0);
    let stats = call(&client, "GET", &server.url("/stats"), "").await.json();
    assert_eq!(
        total(&after, "coordinator_tasks_completed_total"),
        stats["completedTasks"].as_f64().unwrap()
    );
    assert_eq!(
        total(&after, "coordinator_task_end_to_end_seconds_count"),
        stats["completedTasks"].as_f64().unwrap()
    );
    assert_eq!(total(&after, "coordinator_results_rejected_total"), 0.0);

    // A wrong product is rejected, and the counter says so.
    let created = call(&client, "POST", &server.url("/task"), TASK).await;
    let id = created.json()["taskId"].as_u64().unwrap();
    let lease = call(&client, "GET", &server.url("/task/next?workerId=liar"), "").await;
    assert_eq!(lease.json()["taskId"].as_u64(), Some(id));
    let post = server.url(&format!("/task/{id}/result?workerId=liar"));
    let refused = call(&client, "POST", &post, WRONG).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let rejected = scrape(&client, &server).await;
    promtool_check(&rejected);
    assert_eq!(total(&rejected, "coordinator_results_rejected_total"), 1.0);
    assert_eq!(
        total(&rejected, "coordinator_tasks_requeued_total"),
        total(&after, "coordinator_tasks_requeued_total") + 1.0
    );
    assert_eq!(total(&rejected, "coordinator_tasks_pending"), 1.0);
    assert!(!rejected.contains("liar") && !rejected.contains("flow-"));
}

/// Reads the next server-sent event of `body`: its `event:` name and its
/// `data:` parsed as JSON.
async fn next_event(body: &mut axum::body::Body) -> (String, serde_json::Value) {
    let mut text = String::new();
    while !text.contains("\n\n") {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(frame.data_ref().unwrap()).unwrap());
    }
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let data = serde_json::from_str(&field("data:")).unwrap();
    (field("event:"), data)
}

#[tokio::test]
async fn events_stream_snapshots_and_refuses_too_many_dashboards() {
    let app = TestApp::new();
    app.submit(TASK).await;
    let response = tower::ServiceExt::oneshot(
        app.router.clone(),
        common::request("GET", "/events", axum::body::Body::empty()),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream",
        "an event stream"
    );
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let mut body = response.into_body();
    let (name, first) = next_event(&mut body).await;
    assert_eq!(name, "snapshot");
    assert_eq!(first["pendingTasks"], 1);
    assert_eq!(first["submittedTasks"], 1);
    assert_eq!(first["limits"]["leaseSecs"], 60);
    assert_eq!(first["eventStreams"], 1);
    assert!(first["workers"].as_array().unwrap().is_empty());

    app.get("/task/next?workerId=w9").await;
    let (_, second) = next_event(&mut body).await;
    assert_eq!(second["processingTasks"], 1, "{second}");
    assert_eq!(second["workers"][0]["workerId"], "w9");
    assert!(second["unixMs"].as_u64() >= first["unixMs"].as_u64());

    // The stream above holds one place; fill the others, then one more
    // dashboard is refused.
    let mut open = vec![body];
    while open.len() < coordinator::metrics::MAX_EVENT_STREAMS {
        let more = tower::ServiceExt::oneshot(
            app.router.clone(),
            common::request("GET", "/events", axum::body::Body::empty()),
        )
        .await
        .unwrap();
        assert_eq!(more.status(), StatusCode::OK);
        open.push(more.into_body());
    }
    let refused = app.get("/events").await;
    refused.assert_error(StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.header("retry-after").is_some());
    drop(open);
    assert_eq!(app.get("/metrics").await.status, StatusCode::OK);
    let again = tower::ServiceExt::oneshot(
        app.router.clone(),
        common::request("GET", "/events", axum::body::Body::empty()),
    )
    .await
    .unwrap();
    assert_eq!(again.status(), StatusCode::OK, "places are given back");
}

#[tokio::test]
async fn openapi_describes_every_route_with_the_extensions() {
    let app = TestApp::new();
    let answer: Answer = app.get("/openapi.json").await;
    assert_eq!(answer.status, StatusCode::OK);
    answer.assert_contract_headers();
    let spec = answer.json();
    assert_eq!(spec["openapi"], "3.1.0");
    let paths: BTreeSet<String> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            let path = path.clone();
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    let expected: BTreeSet<String> = [
        "POST /task",
        "GET /task/next",
        "POST /task/{id}/result",
        "POST /task/{id}/release",
        "POST /task/{id}/cancel",
        "GET /result/{id}",
        "GET /operand/{hash}",
        "GET /stats",
        "GET /health",
        "GET /metrics",
        "GET /events",
        "GET /openapi.json",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(paths, expected);

    // Every described operation is served: its path with another method
    // answers 405 (not 404), so the router has it.
    for op in &expected {
        let (method, path) = op.split_once(' ').unwrap();
        let other = if method == "GET" { "DELETE" } else { "GET" };
        let path = path.replace("{id}", "1").replace("{hash}", "00");
        let answer = app
            .send(common::request(other, &path, axum::body::Body::empty()))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{other} {path}"
        );
        assert!(answer.header("allow").unwrap().contains(method), "{op}");
    }

    let op = |method: &str, path: &str| spec["paths"][path][method].clone();
    let params = |method: &str, path: &str| -> Vec<String> {
        op(method, path)["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(params("get", "/task/next").contains(&"wait".to_owned()));
    assert!(params("get", "/result/{id}").contains(&"wait".to_owned()));
    assert!(params("post", "/task/{id}/result").contains(&"return".to_owned()));
    let post_task = op("post", "/task");
    assert!(post_task["responses"]["503"]["headers"]["Retry-After"].is_object());
    assert!(op("get", "/events")["responses"]["503"]["headers"]["Retry-After"].is_object());
    assert!(op("post", "/task/{id}/result")["responses"]["422"].is_object());
    assert!(op("get", "/task/next")["responses"]["204"].is_object());
}

#[cfg(unix)]
#[test]
fn binary_writes_json_log_lines_when_asked() {
    let web = static_dir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_coordinator"))
        .args([
            "0",
            "--bind",
            "127.0.0.1",
            "--in-memory",
            "--log-format",
            "json",
            "--static-dir",
        ])
        .arg(&web)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut port = None;
    for line in lines.by_ref().take(10) {
        let line = line.unwrap();
        let entry: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            entry["timestamp"].is_string() && entry["level"].is_string(),
            "{line}"
        );
        let message = entry["fields"]["message"].as_str().unwrap_or_default();
        if let Some(addr) = message.strip_prefix("listening on http://") {
            assert_eq!(entry["fields"]["lease_secs"], 60.0, "fields stay fields");
            port = Some(addr.rsplit(':').next().unwrap().parse::<u16>().unwrap());
            break;
        }
    }
    let port = port.expect("a JSON line saying where it listens");
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /task HTTP/1.1\r\nhost:x\r\ncontent-length:{}\r\nconnection:close\r\n\r\n{TASK}",
        TASK.len()
    )
    .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let submitted = lines
        .by_ref()
        .take(5)
        .map(|l| serde_json::from_str::<serde_json::Value>(&l.unwrap()).unwrap())
        .find(|e| e["fields"]["message"] == "task submitted")
        .expect("the task's lifecycle line");
    assert_eq!(submitted["level"], "INFO");
    assert_eq!(submitted["fields"]["task"], "1");
    child.kill().unwrap();
    child.wait().unwrap();
}
