//! Verified, split multiplication end to end: wrong results are rejected
//! and requeued, honest ones complete, split tasks are assembled once, and
//! a Dana-style main app gets the full product of a split task.

mod common;
#[allow(dead_code)]
mod dana_http;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{TestApp, config, static_dir};
use coordinator::Config;
use kernel::{Matrix, text};

/// The honest product of a task's data `{"A":..,"B":..}` (strings or arrays).
fn honest(data: &serde_json::Value) -> String {
    let matrix = |v: &serde_json::Value| match v {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    kernel::multiply_text(&matrix(&data["A"]), &matrix(&data["B"])).expect("valid task")
}

/// `product` with element `index` (wrapped to its size) off by one.
fn off_by_one(product: &str, index: usize) -> String {
    let m = text::parse_i64(product).expect("integer product");
    let mut data = m.data().to_vec();
    let index = index % data.len();
    data[index] += 1;
    text::write_i64(&Matrix::new(m.rows(), m.cols(), data).expect("shape"))
}

/// Deterministic integer matrix text, `rows x cols`, values in -50..=50.
fn matrix_text(rows: usize, cols: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let values: Vec<i64> = (0..rows * cols)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            i64::try_from(state % 101).expect("small") - 50
        })
        .collect();
    text::write_i64(&Matrix::new(rows, cols, values).expect("shape"))
}

fn pair(a: &str, b: &str) -> String {
    serde_json::json!({ "A": a, "B": b }).to_string()
}

/// Leases the next task for `worker`: its id and data.
async fn lease(app: &TestApp, worker: &str) -> (u64, serde_json::Value) {
    let answer = app.get(&format!("/task/next?workerId={worker}")).await;
    assert_eq!(answer.status, StatusCode::OK, "{worker} got no task");
    let json = answer.json();
    (json["taskId"].as_u64().expect("id"), json["data"].clone())
}

async fn post_result(app: &TestApp, id: u64, worker: &str, result: &str) -> common::Answer {
    let body = serde_json::json!({ "result": result }).to_string();
    app.post(&format!("/task/{id}/result?workerId={worker}"), body)
        .await
}

/// Polls `GET /result/N` (yielding to the runtime in between, so that the
/// assembling task runs) until the task is completed.
async fn completed_result(app: &TestApp, id: u64) -> serde_json::Value {
    for _ in 0..10_000 {
        let json = app.get(&format!("/result/{id}")).await.json();
        if json["status"] == "completed" {
            return json;
        }
        tokio::task::yield_now().await;
    }
    panic!("task {id} never completed");
}

fn unsplit() -> Config {
    Config {
        split_min_flops: None,
        ..config(static_dir())
    }
}

fn split_into(max_parts: usize) -> Config {
    Config {
        split_min_flops: Some(1),
        max_parts,
        ..config(static_dir())
    }
}

#[tokio::test]
async fn wrong_results_are_rejected_in_1000_of_1000_trials_and_honest_workers_complete() {
    let app = TestApp::with_config(Config {
        reject_limit: u32::MAX,
        ..unsplit()
    });
    for trial in 0..1000u64 {
        let (m, k, n) = (
            1 + trial as usize % 7,
            1 + trial as usize % 5,
            1 + trial as usize % 6,
        );
        let data = pair(&matrix_text(m, k, trial), &matrix_text(k, n, trial + 7));
        let id = app.submit(&data).await;
        let (leased, task) = lease(&app, "mallory").await;
        assert_eq!(leased, id);
        let right = honest(&task);
        let wrong = off_by_one(&right, trial as usize * 31);
        let answer = post_result(&app, id, "mallory", &wrong).await;
        let message = answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(message.starts_with("Result rejected: "), "{message}");
        assert_eq!(
            app.get(&format!("/result/{id}")).await.json()["status"],
            "pending"
        );
        let (again, _) = lease(&app, "honest").await;
        assert_eq!(again, id, "the rejected task is handed out next");
        let answer = post_result(&app, id, "honest", &right).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        let got = app.get(&format!("/result/{id}")).await.json();
        assert_eq!(got["status"], "completed");
        assert_eq!(got["result"], right.as_str());
        assert_eq!(got["workerId"], "honest");
    }
    let stats = app.get("/stats").await.json();
    assert_eq!(stats["completedTasks"], 1000);
    assert_eq!(stats["rejectedResults"], 1000);
    let workers = stats["workers"].as_array().expect("workers");
    let line = |id: &str| {
        workers
            .iter()
            .find(|w| w["workerId"] == id)
            .unwrap_or_else(|| panic!("{id} missing from {workers:?}"))
            .clone()
    };
    assert_eq!(line("mallory")["resultsRejected"], 1000);
    assert_eq!(line("mallory")["tasksCompleted"], 0);
    assert_eq!(line("honest")["resultsRejected"], 0);
    assert_eq!(line("honest")["tasksCompleted"], 1000);
}

#[tokio::test]
async fn a_worker_with_repeated_rejections_is_benched() {
    let app = TestApp::with_config(Config {
        reject_limit: 2,
        ..unsplit()
    });
    for seed in 0..4 {
        app.submit(&pair(
            &matrix_text(2, 2, seed),
            &matrix_text(2, 2, seed + 1),
        ))
        .await;
    }
    // An honest page behind the same address (every in-process request
    // has the same, unknown one) proves itself first.
    let (id, task) = lease(&app, "honest").await;
    assert_eq!(
        post_result(&app, id, "honest", &honest(&task)).await.status,
        StatusCode::OK
    );
    for _ in 0..2 {
        let (id, task) = lease(&app, "mallory").await;
        let answer = post_result(&app, id, "mallory", &off_by_one(&honest(&task), 0)).await;
        answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    }
    let refused = app.get("/task/next?workerId=mallory").await;
    assert_eq!(
        refused.status,
        StatusCode::NO_CONTENT,
        "benched, though tasks wait"
    );
    // A benched worker's long poll waits it out without taking the task.
    let waiting = app.get("/task/next?workerId=mallory&wait=0.01").await;
    assert_eq!(waiting.status, StatusCode::NO_CONTENT);
    // The address is on probation: its fresh ids hold one lease at a time
    // between them; the proven page works as before.
    let minted = app.get("/task/next?workerId=mallory2").await;
    assert_eq!(minted.status, StatusCode::OK);
    let another = app.get("/task/next?workerId=mallory3").await;
    assert_eq!(another.status, StatusCode::NO_CONTENT);
    let (id, task) = lease(&app, "honest").await;
    assert_eq!(
        post_result(&app, id, "honest", &honest(&task)).await.status,
        StatusCode::OK
    );
    let stats = app.get("/stats").await.json();
    let mallory = stats["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .find(|w| w["workerId"] == "mallory")
        .expect("mallory listed")
        .clone();
    assert_eq!(mallory["resultsRejected"], 2);
    assert!(mallory["benchedSecs"].as_u64().expect("benched") > 0);
}

#[tokio::test]
async fn a_split_task_keeps_its_id_and_completes_with_the_assembled_product() {
    let app = TestApp::with_config(split_into(3));
    let (a, b) = (matrix_text(7, 4, 1), matrix_text(4, 5, 2));
    let expected = kernel::multiply_text(&a, &b).expect("product");
    // Four workers seen, at most three parts.
    for worker in ["w1", "w2", "w3", "w4"] {
        let idle = app.get(&format!("/task/next?workerId={worker}")).await;
        assert_eq!(idle.status, StatusCode::NO_CONTENT);
    }
    let id = app.submit(&pair(&a, &b)).await;
    assert_eq!(id, 1);
    let first = app.get("/result/1").await.json();
    assert_eq!(first["status"], "processing");
    assert_eq!(first["result"], "");
    assert_eq!(
        (first["partsDone"].clone(), first["partsTotal"].clone()),
        (0.into(), 3.into())
    );
    let mut parts = Vec::new();
    for _ in 0..3 {
        parts.push(lease(&app, "w").await);
    }
    assert_eq!(
        app.get("/task/next?workerId=w").await.status,
        StatusCode::NO_CONTENT
    );
    // Rows 0..3, 3..5 and 5..7 of A, each with all of B, in the client's form.
    assert_eq!(parts[1].1["B"], b.as_str());
    assert_eq!(
        text::parse_i64(parts[1].1["A"].as_str().expect("text"))
            .expect("rows")
            .rows(),
        2
    );
    // A worker cannot post the whole product for the split task itself.
    let direct = post_result(&app, id, "w", &expected).await;
    direct.assert_error(StatusCode::CONFLICT);
    for (done, (part, data)) in parts.iter().rev().enumerate() {
        assert_eq!(
            post_result(&app, *part, "w", &honest(data)).await.status,
            StatusCode::OK
        );
        if done < 2 {
            let progress = app.get("/result/1").await.json();
            assert_eq!(progress["status"], "processing");
            assert_eq!(progress["partsDone"], done + 1);
        }
    }
    let got = completed_result(&app, id).await;
    assert_eq!(got["result"], expected.as_str());
    assert_eq!(got["partsDone"], 3);
}

#[tokio::test]
async fn a_wrong_part_is_rejected_and_the_split_task_still_gets_the_right_product() {
    let app = TestApp::with_config(split_into(2));
    let (a, b) = (matrix_text(5, 3, 3), matrix_text(3, 1, 4));
    let id = app.submit(&pair(&a, &b)).await;
    let (first, first_data) = lease(&app, "mallory").await;
    let (second, _) = lease(&app, "mallory").await;
    // The first part's rows posted as the second part's result.
    post_result(&app, second, "mallory", &honest(&first_data))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    // One element off by one.
    post_result(&app, first, "mallory", &off_by_one(&honest(&first_data), 1))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get(&format!("/result/{id}")).await.json()["partsDone"],
        0
    );
    for _ in 0..2 {
        let (part, data) = lease(&app, "honest").await;
        let answer = post_result(&app, part, "honest", &honest(&data)).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let got = completed_result(&app, id).await;
    assert_eq!(
        got["result"],
        kernel::multiply_text(&a, &b).expect("product").as_str()
    );
}

#[tokio::test]
async fn a_late_honest_result_for_a_requeued_part_is_accepted_once() {
    if common::runs_on_embedded_only(
        "a_late_honest_result_for_a_requeued_part_is_accepted_once",
        "it moves the queue's clock by hand (AppState::tick with a later instant); Redis keeps wall-clock deadlines",
    ) {
        return;
    }
    let app = TestApp::with_config(split_into(2));
    let (a, b) = (matrix_text(4, 3, 5), matrix_text(3, 2, 6));
    let expected = kernel::multiply_text(&a, &b).expect("product");
    let id = app.submit(&pair(&a, &b)).await;
    let (part, data) = lease(&app, "slow").await;
    // The lease runs out: the part goes back to the queue and to "fast".
    let lease_time = app.state.config().lease;
    app.state
        .tick(Instant::now() + lease_time + Duration::from_secs(1));
    let (again, _) = lease(&app, "fast").await;
    assert_eq!(again, part);
    // The slow worker's honest result arrives late and is accepted...
    let late = post_result(&app, part, "slow", &honest(&data)).await;
    assert_eq!(late.status, StatusCode::OK);
    assert_eq!(late.json()["workerId"], "slow");
    // ...and the fast worker's, for the same part, changes nothing.
    let second = post_result(&app, part, "fast", &honest(&data)).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.json()["workerId"], "slow");
    let (rest, rest_data) = lease(&app, "fast").await;
    assert_eq!(
        post_result(&app, rest, "fast", &honest(&rest_data))
            .await
            .status,
        StatusCode::OK
    );
    let got = completed_result(&app, id).await;
    assert_eq!(got["result"], expected.as_str());
    let stats = app.get("/stats").await.json();
    assert_eq!(
        stats["completedTasks"], 3,
        "two parts and the split task, once each"
    );
    assert_eq!(stats["activeTasks"], 0);
    assert_eq!(stats["queueSize"], 0);
}

#[tokio::test]
async fn json_array_tasks_are_split_into_json_array_parts() {
    let app = TestApp::with_config(split_into(2));
    let data = r#"{"A":[[1,2],[3,4],[5,6]],"B":[[1,0],[0,2]]}"#;
    let id = app.submit(data).await;
    let (first, first_data) = lease(&app, "js").await;
    assert_eq!(
        first_data,
        serde_json::json!({"A": [[1, 2], [3, 4]], "B": [[1, 0], [0, 2]]})
    );
    let (second, second_data) = lease(&app, "js").await;
    assert_eq!(second_data["A"], serde_json::json!([[5, 6]]));
    // A JavaScript worker posts arrays.
    for (part, product) in [(first, "[[1,4],[3,8]]"), (second, "[[5,12]]")] {
        let body = format!(r#"{{"result":{product}}}"#);
        let answer = app
            .post(&format!("/task/{part}/result?workerId=js"), body)
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    }
    assert_eq!(
        completed_result(&app, id).await["result"],
        "[[1,4],[3,8],[5,12]]"
    );
}

async fn post_error(app: &TestApp, id: u64, worker: &str, error: &str) -> common::Answer {
    let body = serde_json::json!({ "error": error }).to_string();
    app.post(&format!("/task/{id}/result?workerId={worker}"), body)
        .await
}

#[tokio::test]
async fn a_false_error_report_for_a_product_that_cannot_fail_is_rejected() {
    for config in [unsplit(), split_into(2)] {
        let app = TestApp::with_config(config);
        let data = pair(&matrix_text(4, 3, 1), &matrix_text(3, 5, 2));
        let id = app.submit(&data).await;
        let (leased, task) = lease(&app, "liar").await;
        let answer = post_error(&app, leased, "liar", "Matrix A is ragged").await;
        let message = answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(message.contains("error report is false"), "{message}");
        // The task (or part) is back in the queue, not failed.
        let status = app.get(&format!("/result/{id}")).await.json()["status"].clone();
        assert_ne!(status, "failed");
        let (again, _) = lease(&app, "honest").await;
        assert_eq!(again, leased, "the task is handed out again");
        let answer = post_result(&app, again, "honest", &honest(&task)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        // A split task still has its other part to do.
        if again != id {
            let (other, other_task) = lease(&app, "honest").await;
            post_result(&app, other, "honest", &honest(&other_task)).await;
        }
        let done = completed_result(&app, id).await;
        assert_eq!(
            done["result"],
            honest(&serde_json::from_str(&data).expect("json"))
        );
        let stats = app.get("/stats").await.json();
        assert_eq!(stats["rejectedResults"], 1);
    }
}

#[tokio::test]
async fn an_error_report_for_a_product_that_can_overflow_fails_the_task() {
    let app = TestApp::with_config(unsplit());
    let id = app.submit(&pair("[[9223372036854775807]]", "[[2]]")).await;
    lease(&app, "w").await;
    let answer = post_error(&app, id, "w", "integer overflow").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let got = app.get(&format!("/result/{id}")).await.json();
    assert_eq!(got["status"], "failed");
    assert_eq!(got["error"], "integer overflow");
}

#[tokio::test]
async fn without_verification_results_are_taken_as_they_come() {
    let app = TestApp::with_config(Config {
        verify: false,
        ..unsplit()
    });
    let id = app.submit(&pair("[[1,2]]", "[[3],[4]]")).await;
    lease(&app, "w").await;
    let answer = post_result(&app, id, "w", "[[12]]").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["result"], "[[12]]");
}

/// A coordinator on a real socket, in a runtime of its own, for blocking
/// Dana-style clients.
struct Server {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start(config: Config) -> Self {
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        runtime.spawn(coordinator::serve(listener, config, std::future::pending()));
        Self {
            addr,
            _runtime: runtime,
        }
    }

    /// One request as Dana's `HTTPRequest` sends it; the answer as it reads it.
    fn exchange(&self, method: &str, path: &str, body: &str) -> dana_http::DanaAnswer {
        let url = format!("http://localhost:{}{path}", self.addr.port());
        let headers: &[(&str, &str)] = if method == "POST" {
            &[("Content-Type", "application/json")]
        } else {
            &[]
        };
        let request = dana_http::request_bytes(method, &url, headers, body.as_bytes());
        dana_http::exchange(self.addr, &request).expect("exchange")
    }
}

/// A worker that computes every task it gets until `tasks` are done.
fn run_worker(server: &Server, name: &str, tasks: usize) {
    let mut done = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while done < tasks {
        assert!(Instant::now() < deadline, "{name} ran out of time");
        let answer = server.exchange("GET", &format!("/task/next?workerId={name}&wait=1"), "");
        if answer.response_code == "204" {
            continue;
        }
        // A part's data is sent as pieces of the submitted body, still with
        // a content-length, which Dana's reader needs.
        assert!(
            answer.header("content-length").is_some(),
            "a lease without content-length"
        );
        let json: serde_json::Value = serde_json::from_str(&answer.text()).expect("lease JSON");
        let id = json["taskId"].as_u64().expect("id");
        let body = serde_json::json!({ "result": honest(&json["data"]) }).to_string();
        let posted = server.exchange("POST", &format!("/task/{id}/result?workerId={name}"), &body);
        assert_eq!(posted.response_code, "200", "{}", posted.text());
        done += 1;
    }
}

#[test]
fn a_dana_style_main_app_gets_the_full_product_of_a_split_task() {
    let server = Server::start(Config {
        split_min_flops: Some(1_000),
        max_parts: 4,
        ..config(static_dir())
    });
    let (a, b) = (matrix_text(30, 20, 8), matrix_text(20, 10, 9));
    let expected = kernel::multiply_text(&a, &b).expect("product");
    // The Dana component's submitTask: the body JSONEncoder writes, `"key": value` with
    // spaces, sent as HTTPRequest sends it.
    let base = format!("http://localhost:{}", server.addr.port());
    let addr = server.addr;
    let plan = dana_http::component::PollPlan {
        first_ms: 1,
        max_ms: 1,
    };
    let mut client = dana_http::component::DanaCoordinator::new(&base, plan, |request: &[u8]| {
        dana_http::exchange(addr, request).ok()
    });
    let id = client.submit_task(&a, &b);
    assert!(id > 0, "submitTask failed: {:?}", client.last_error());
    // Two workers share the parts (two, as none was seen before the task).
    std::thread::scope(|scope| {
        scope.spawn(|| run_worker(&server, "w1", 1));
        scope.spawn(|| run_worker(&server, "w2", 1));
    });
    // waitForResult, as the component polls, sleeping 1 ms between polls.
    let result = client.wait_for_result(id, 10_000, |ms| {
        std::thread::sleep(Duration::from_millis(ms.unsigned_abs()));
    });
    assert_eq!(result, Some(expected), "{:?}", client.last_error());
}
