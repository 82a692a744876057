//! Every contract row, header and error answer, in-process with `oneshot`.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::StatusCode;
use common::{TestApp, config, request, static_dir};
use coordinator::{Change, Config};
use serde_json::json;

#[tokio::test]
async fn health_answers_ok() {
    let app = TestApp::new();
    let answer = app.get("/health").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.text(), r#"{"status":"ok","service":"coordinator"}"#);
    answer.assert_contract_headers();
}

#[tokio::test]
async fn submit_answers_growing_ids_from_one() {
    let app = TestApp::new();
    let first = app.post("/task", r#"{"A":"[[1]]","B":"[[2]]"}"#).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.text(), r#"{"taskId":1}"#);
    first.assert_contract_headers();
    assert_eq!(app.post("/task", "{}").await.text(), r#"{"taskId":2}"#);
}

#[tokio::test]
async fn next_hands_out_json_data_verbatim() {
    let app = TestApp::new();
    let data = r#"{"A": "[[1,2],[3,4]]", "B":[[5,6],[7,8]]}"#;
    let id = app.submit(data).await;
    let answer = app.get("/task/next?workerId=w1").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    answer.assert_contract_headers();
    assert_eq!(answer.text(), format!(r#"{{"taskId":{id},"data":{data}}}"#));
}

#[tokio::test]
async fn next_hands_out_non_json_data_as_a_string() {
    let app = TestApp::new();
    app.submit("A=[[1]] \"B\"").await;
    let answer = app.get("/task/next?workerId=w1").await;
    assert_eq!(answer.json(), json!({"taskId":1,"data":"A=[[1]] \"B\""}));
}

#[tokio::test]
async fn next_with_nothing_pending_is_204_with_empty_body() {
    let app = TestApp::new();
    let answer = app.get("/task/next?workerId=w1").await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert!(answer.body.is_empty());
    answer.assert_contract_headers();
}

#[tokio::test]
async fn next_without_worker_id_counts_as_unknown() {
    let app = TestApp::new();
    app.submit("1").await;
    app.submit("2").await;
    assert_eq!(app.get("/task/next").await.status, StatusCode::OK);
    assert_eq!(app.get("/task/next?workerId=").await.status, StatusCode::OK);
    let r1 = app.get("/result/1").await.json();
    let r2 = app.get("/result/2").await.json();
    assert_eq!(r1["workerId"], "unknown");
    assert_eq!(r2["workerId"], "unknown");
}

#[tokio::test]
async fn result_lifecycle_pending_processing_completed() {
    let app = TestApp::new();
    let id = app
        .submit(r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#)
        .await;
    let pending = app.get(&format!("/result/{id}")).await;
    assert_eq!(pending.status, StatusCode::OK);
    pending.assert_contract_headers();
    assert!(pending.text().starts_with(&format!(
        r#"{{"taskId":{id},"status":"pending","result":"""#
    )));

    app.get("/task/next?workerId=w1").await;
    let processing = app.get(&format!("/result/{id}")).await.json();
    assert_eq!(processing["status"], "processing");
    assert_eq!(processing["result"], "");
    assert_eq!(processing["workerId"], "w1");

    let posted = app
        .post(
            &format!("/task/{id}/result"),
            r#"{"result":"[[19,22],[43,50]]"}"#,
        )
        .await;
    assert_eq!(posted.status, StatusCode::OK);
    posted.assert_contract_headers();
    assert!(posted.text().starts_with(&format!(
        r#"{{"taskId":{id},"status":"completed","result":"[[19,22],[43,50]]""#
    )));

    let done = app.get(&format!("/result/{id}")).await;
    assert!(done.text().starts_with(&format!(
        r#"{{"taskId":{id},"status":"completed","result":"[[19,22],[43,50]]""#
    )));
    let done = done.json();
    assert_eq!(done["workerId"], "w1");
    assert_eq!(done["attempts"], 1);
}

#[tokio::test]
async fn result_posted_with_return_minimal_is_not_echoed_back() {
    let app = TestApp::new();
    let data = r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#;
    let (first, second) = (app.submit(data).await, app.submit(data).await);
    app.get("/task/next?workerId=w1").await;
    app.get("/task/next?workerId=w1").await;
    let minimal = app
        .post(
            &format!("/task/{first}/result?workerId=w1&return=minimal"),
            r#"{"result":"[[19,22],[43,50]]"}"#,
        )
        .await;
    assert_eq!(minimal.status, StatusCode::OK);
    minimal.assert_contract_headers();
    assert!(minimal.text().starts_with(&format!(
        r#"{{"taskId":{first},"status":"completed","workerId":"w1""#
    )));
    assert!(minimal.json().get("result").is_none());
    // Stored all the same; any other value of `return` echoes as the
    // contract says.
    assert_eq!(
        app.get(&format!("/result/{first}")).await.json()["result"],
        "[[19,22],[43,50]]"
    );
    let echoed = app
        .post(
            &format!("/task/{second}/result?return=representation"),
            r#"{"result":"[[19,22],[43,50]]"}"#,
        )
        .await;
    assert_eq!(echoed.json()["result"], "[[19,22],[43,50]]");
}

#[tokio::test]
async fn large_results_are_answered_exactly_with_their_length() {
    let app = TestApp::new();
    // Written from the stored pieces (plain text) and through the JSON
    // writer (text that needs escaping): the same bytes either way.
    let row = format!("[{}]", vec!["-12345"; 1000].join(","));
    let plain = format!("[{}]", vec![row.as_str(); 20].join(","));
    let escaped = format!("[{}]", vec![row.as_str(); 20].join(",\n"));
    for text in [plain, escaped] {
        let id = app.submit(r#"{"k":1}"#).await;
        app.get("/task/next?workerId=w1").await;
        let body = json!({ "result": text }).to_string();
        let posted = app.post(&format!("/task/{id}/result"), body).await;
        let quoted = serde_json::to_string(&text).unwrap();
        let expected = format!(
            r#"{{"taskId":{id},"status":"completed","result":{quoted},"workerId":"w1","attempts":1}}"#
        );
        let done = app.get(&format!("/result/{id}")).await;
        for answer in [posted, done] {
            assert_eq!(answer.status, StatusCode::OK);
            answer.assert_contract_headers();
            assert!(
                answer.text() == expected,
                "answer differs from {expected:.80}"
            );
            assert_eq!(answer.header("content-type"), Some("application/json"));
            let length = answer.body.len().to_string();
            assert_eq!(answer.header("content-length"), Some(length.as_str()));
        }
    }
}

#[tokio::test]
async fn array_result_is_answered_as_compact_matrix_text() {
    let app = TestApp::new();
    let id = app.submit("{}").await;
    // Leased first: an answer from a client that never held it is ignored.
    app.get("/task/next?workerId=w").await;
    let posted = app
        .post(
            &format!("/task/{id}/result"),
            r#"{"result": [[19, 22], [43, 50]]}"#,
        )
        .await;
    assert_eq!(posted.json()["result"], "[[19,22],[43,50]]");
    let got = app.get(&format!("/result/{id}")).await.json();
    assert_eq!(got["result"], "[[19,22],[43,50]]");
}

#[tokio::test]
async fn second_result_does_not_overwrite_first() {
    let app = TestApp::new();
    let id = app.submit("{}").await;
    // Leased first: an answer from a client that never held it is ignored.
    app.get("/task/next?workerId=w").await;
    app.post(&format!("/task/{id}/result"), r#"{"result":"first"}"#)
        .await;
    let second = app
        .post(&format!("/task/{id}/result"), r#"{"result":"second"}"#)
        .await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.json()["result"], "first");
    assert_eq!(
        app.get(&format!("/result/{id}")).await.json()["result"],
        "first"
    );
}

#[tokio::test]
async fn error_result_marks_the_task_failed() {
    let app = TestApp::new();
    let id = app.submit("{}").await;
    app.get("/task/next?workerId=w").await;
    let posted = app
        .post(
            &format!("/task/{id}/result"),
            r#"{"error":"ragged rows in A"}"#,
        )
        .await;
    assert_eq!(posted.status, StatusCode::OK);
    let posted = posted.json();
    assert_eq!(posted["status"], "failed");
    assert_eq!(posted["error"], "ragged rows in A");
    let got = app.get(&format!("/result/{id}")).await.json();
    assert_eq!(got["status"], "failed");
    assert_eq!(got["result"], "");
    assert_eq!(got["error"], "ragged rows in A");
    assert_eq!(app.get("/stats").await.json()["failedTasks"], 1);
}

#[tokio::test]
async fn stats_count_tasks_by_state() {
    let app = TestApp::new();
    for _ in 0..4 {
        app.submit("{}").await;
    }
    app.get("/task/next?workerId=a").await;
    app.get("/task/next?workerId=b").await;
    app.post("/task/1/result", r#"{"result":"x"}"#).await;
    let answer = app.get("/stats").await;
    assert_eq!(answer.status, StatusCode::OK);
    answer.assert_contract_headers();
    assert!(
        answer
            .text()
            .starts_with(r#"{"totalTasks":4,"completedTasks":1,"activeTasks":1,"queueSize":2,"#)
    );
    let stats = answer.json();
    assert_eq!(stats["failedTasks"], 0);
    assert_eq!(stats["workersSeen"], 2);
    let workers = stats["workers"].as_array().unwrap();
    assert_eq!(workers[0]["workerId"], "a");
    assert_eq!(workers[0]["tasksCompleted"], 1);
    assert_eq!(workers[1]["workerId"], "b");
    assert_eq!(workers[1]["tasksCompleted"], 0);
}

#[tokio::test]
async fn options_on_any_path_is_200_with_empty_body_and_headers() {
    let app = TestApp::new();
    for uri in ["/task", "/task/next", "/result/1", "/nowhere/at/all", "/"] {
        let answer = app.send(request("OPTIONS", uri, Body::empty())).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}");
        assert!(answer.body.is_empty());
        answer.assert_contract_headers();
    }
}

#[tokio::test]
async fn invalid_task_ids_are_400() {
    let app = TestApp::new();
    app.submit("{}").await;
    for id in [
        "0",
        "-1",
        "abc",
        "99999999999999999999",
        "1.0",
        "%201",
        "%FF",
        "%C0%AE",
    ] {
        let got = app.get(&format!("/result/{id}")).await;
        assert_eq!(
            got.assert_error(StatusCode::BAD_REQUEST),
            "Invalid task ID",
            "{id}"
        );
        let posted = app
            .post(&format!("/task/{id}/result"), r#"{"result":"x"}"#)
            .await;
        assert_eq!(
            posted.assert_error(StatusCode::BAD_REQUEST),
            "Invalid task ID",
            "{id}"
        );
    }
    assert_eq!(app.get("/result/1").await.json()["status"], "pending");
}

#[tokio::test]
async fn unknown_task_is_404() {
    let app = TestApp::new();
    app.submit("{}").await;
    let got = app.get("/result/2").await;
    assert_eq!(got.assert_error(StatusCode::NOT_FOUND), "Task not found");
    let posted = app.post("/task/2/result", r#"{"result":"x"}"#).await;
    assert_eq!(posted.assert_error(StatusCode::NOT_FOUND), "Task not found");
    assert_eq!(app.get("/stats").await.json()["completedTasks"], 0);
}

#[tokio::test]
async fn empty_task_body_is_400() {
    let app = TestApp::new();
    let answer = app.post("/task", "").await;
    answer.assert_error(StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/stats").await.json()["totalTasks"], 0);
}

#[tokio::test]
async fn bad_result_bodies_are_400_and_leave_the_task_alone() {
    let app = TestApp::new();
    let id = app.submit("{}").await;
    app.get("/task/next?workerId=w").await;
    for body in [
        "",
        "not json",
        "[[1,2]]",
        "{}",
        r#"{"result":null}"#,
        r#"{"answer":"[[1]]"}"#,
        r#"{"result":"x""#,
    ] {
        let answer = app.post(&format!("/task/{id}/result"), body).await;
        answer.assert_error(StatusCode::BAD_REQUEST);
    }
    assert_eq!(
        app.get(&format!("/result/{id}")).await.json()["status"],
        "processing"
    );
}

#[tokio::test]
async fn oversized_body_is_413_json() {
    let app = TestApp::with_config(Config {
        max_body_bytes: 1024,
        ..config(static_dir())
    });
    let big = "x".repeat(1025);
    let answer = app.post("/task", big.clone()).await;
    let message = answer.assert_error(StatusCode::PAYLOAD_TOO_LARGE);
    assert!(message.contains("1024"), "{message}");
    app.submit("{}").await;
    let answer = app.post("/task/1/result", big).await;
    answer.assert_error(StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.get("/health").await.status, StatusCode::OK);
    assert_eq!(app.get("/result/1").await.json()["status"], "pending");
}

#[tokio::test]
async fn default_body_limit_takes_an_eight_megabyte_matrix_pair() {
    // Not split, so the data comes back as it was sent.
    let app = TestApp::with_config(coordinator::Config {
        split_min_flops: None,
        ..common::config(common::static_dir())
    });
    let row = format!("[{}]", vec!["123"; 1000].join(","));
    let matrix = format!("[{}]", vec![row; 1000].join(","));
    let data = format!(r#"{{"A":"{matrix}","B":"{matrix}"}}"#);
    assert!(data.len() > 7_000_000);
    let id = app.submit(&data).await;
    let next = app.get("/task/next?workerId=w").await;
    assert_eq!(
        next.body.len(),
        data.len() + format!(r#"{{"taskId":{id},"data":}}"#).len()
    );
}

#[tokio::test]
async fn unknown_routes_are_404_json() {
    let app = TestApp::new();
    let cases = [
        ("POST", "/nowhere"),
        ("GET", "/task/1"),
        ("DELETE", "/task/1"),
        ("GET", "/no-such-file.js"),
    ];
    for (method, uri) in cases {
        let answer = app.send(request(method, uri, Body::from("{}"))).await;
        answer.assert_error(StatusCode::NOT_FOUND);
    }
    assert_eq!(app.get("/health").await.status, StatusCode::OK);
}

#[tokio::test]
async fn known_routes_with_other_methods_are_405_json_with_allow() {
    let app = TestApp::new();
    let cases = [
        ("PUT", "/task", "POST"),
        ("GET", "/task", "POST"),
        ("DELETE", "/task/1/result", "POST"),
        ("POST", "/task/next", "GET,HEAD"),
        ("GET", "/task/1/result", "POST"),
        ("GET", "/task/1/cancel", "POST"),
        ("POST", "/result/1", "GET,HEAD"),
        ("POST", "/health", "GET,HEAD"),
        ("DELETE", "/stats", "GET,HEAD"),
    ];
    for (method, uri, allow) in cases {
        let answer = app.send(request(method, uri, Body::from("{}"))).await;
        answer.assert_error(StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(answer.header("allow"), Some(allow), "{method} {uri}");
    }
    assert_eq!(app.get("/stats").await.json()["totalTasks"], 0);
}

#[tokio::test]
async fn cancelled_task_is_failed_for_good_and_not_handed_out() {
    let app = TestApp::new();
    let id = app.submit(r#"{"A":"[[1]]","B":"[[2]]"}"#).await;
    let next = app.submit("\"next\"").await;
    let lease = app.get("/task/next?workerId=w").await.json();
    assert_eq!(lease["taskId"], id);
    let answer = app.post(&format!("/task/{id}/cancel"), "").await;
    assert_eq!(answer.status, StatusCode::OK);
    let report = answer.json();
    assert_eq!(report["status"], "failed");
    assert_eq!(report["error"], "Task cancelled");
    // The worker's late result is answered as for a failed task.
    let late = app
        .post(&format!("/task/{id}/result"), r#"{"result":"[[2]]"}"#)
        .await;
    assert_eq!(late.status, StatusCode::OK);
    assert_eq!(late.json()["status"], "failed");
    assert_eq!(
        app.get(&format!("/result/{id}")).await.json()["status"],
        "failed"
    );
    assert_eq!(
        app.get("/task/next?workerId=w").await.json()["taskId"],
        next
    );
    app.post(&format!("/task/{next}/result"), r#"{"result":"x"}"#)
        .await;
    app.post(&format!("/task/{next}/cancel"), "")
        .await
        .assert_error(StatusCode::CONFLICT);
    app.post("/task/99/cancel", "")
        .await
        .assert_error(StatusCode::NOT_FOUND);
    app.post("/task/0/cancel", "")
        .await
        .assert_error(StatusCode::BAD_REQUEST);
}

/// A coordinator that splits every matrix product into parts.
fn splitting_app() -> TestApp {
    TestApp::with_config(Config {
        split_min_flops: Some(1),
        ..config(static_dir())
    })
}

#[tokio::test]
async fn a_part_says_where_it_belongs_only_when_the_worker_asks() {
    // Two coordinators given the same task: the lease asked with
    // `describe=1` is the plain lease with the part's place added at the end.
    let data = r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#;
    let plain_app = splitting_app();
    let described_app = splitting_app();
    let split = plain_app.submit(data).await;
    assert_eq!(described_app.submit(data).await, split);
    let plain = plain_app.get("/task/next?workerId=w").await;
    let described = described_app.get("/task/next?workerId=w&describe=1").await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(described.status, StatusCode::OK);
    let part_id = plain.json()["taskId"].as_u64().unwrap();
    assert_ne!(part_id, split, "a part has an id of its own");
    // Not asked: the contract's bytes, `{"taskId":N,"data":DATA}` and nothing else.
    let expected_plain =
        format!(r#"{{"taskId":{part_id},"data":{{"A":"[[1,2]]","B":"[[5,6],[7,8]]"}}}}"#);
    assert_eq!(plain.text(), expected_plain);
    assert_eq!(
        plain.header("content-length"),
        Some(expected_plain.len().to_string().as_str())
    );
    // Asked: the same bytes, then where the part belongs.
    let expected_described = format!(
        r#"{}"part":{{"of":{split},"number":1,"total":2}}}}"#,
        expected_plain.strip_suffix('}').unwrap().to_owned() + ","
    );
    assert_eq!(described.text(), expected_described);
    assert_eq!(
        described.header("content-length"),
        Some(expected_described.len().to_string().as_str())
    );
    let second = described_app
        .get("/task/next?workerId=w2&describe=1")
        .await
        .json();
    assert_eq!(
        second["part"],
        json!({"of": split, "number": 2, "total": 2})
    );

    // A task that is not a part is answered the same either way.
    let app = TestApp::new();
    let one = app.submit(data).await;
    app.submit(data).await;
    let asked = app.get("/task/next?workerId=w&describe=1").await.text();
    let not_asked = app.get("/task/next?workerId=w").await.text();
    assert_eq!(asked, format!(r#"{{"taskId":{one},"data":{data}}}"#));
    assert_eq!(
        not_asked,
        format!(r#"{{"taskId":{},"data":{data}}}"#, one + 1)
    );
}

#[tokio::test]
async fn a_split_task_lists_its_parts_and_their_workers_only_when_asked() {
    let app = splitting_app();
    let split = app
        .submit(r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#)
        .await;
    let plain = app.get(&format!("/result/{split}")).await.json();
    assert!(plain.get("parts").is_none(), "not asked: {plain}");
    let listed = app.get(&format!("/result/{split}?parts=1")).await.json();
    let parts = listed["parts"].as_array().unwrap().clone();
    assert_eq!(parts.len(), 2);
    for part in &parts {
        assert_eq!(part["status"], "pending");
        assert!(part.get("workerId").is_none(), "{part}");
    }
    let ids: Vec<u64> = parts
        .iter()
        .map(|p| p["taskId"].as_u64().unwrap())
        .collect();

    let first = app.get("/task/next?workerId=w1").await.json();
    assert_eq!(first["taskId"], ids[0], "parts are handed out in row order");
    let listed = app.get(&format!("/result/{split}?parts=1")).await.json();
    assert_eq!(
        listed["parts"],
        json!([
            {"taskId": ids[0], "status": "processing", "workerId": "w1"},
            {"taskId": ids[1], "status": "pending"},
        ])
    );
    let second = app.get("/task/next?workerId=w2").await.json();
    assert_eq!(second["taskId"], ids[1]);
    for (id, product) in [(ids[0], "[[19,22]]"), (ids[1], "[[43,50]]")] {
        let answer = app
            .post(
                &format!("/task/{id}/result"),
                json!({ "result": product }).to_string(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    }
    // Completed: the parts are dropped, and who computed them is kept.
    let done = app.get(&format!("/result/{split}?parts=1")).await.json();
    assert_eq!(done["status"], "completed");
    assert_eq!(done["result"], "[[19,22],[43,50]]");
    assert_eq!(
        done["parts"],
        json!([
            {"taskId": ids[0], "status": "completed", "workerId": "w1"},
            {"taskId": ids[1], "status": "completed", "workerId": "w2"},
        ])
    );
    let plain = app.get(&format!("/result/{split}")).await.json();
    assert!(plain.get("parts").is_none(), "not asked: {plain}");

    // A task that is not split has no parts to list.
    let one = TestApp::new();
    let id = one.submit(r#"{"A":"[[1]]","B":"[[2]]"}"#).await;
    let report = one.get(&format!("/result/{id}?parts=1")).await.json();
    assert!(report.get("parts").is_none(), "{report}");
}

#[tokio::test]
async fn stats_show_measured_speeds_backups_and_late_results_as_extra_fields() {
    if common::runs_on_embedded_only(
        "stats_show_measured_speeds_backups_and_late_results_as_extra_fields",
        "on a shared Redis, parts are cut equally and no backup copies are handed out, so no speed is measured (Config::parts_by_speed)",
    ) {
        return;
    }
    let app = splitting_app();
    let split = app
        .submit(r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#)
        .await;
    let before = app.get("/stats").await.json();
    assert_eq!(
        (before["backups"].clone(), before["lateResults"].clone()),
        (json!(0), json!(0))
    );
    let first = app.get("/task/next?workerId=w1").await.json();
    app.get("/task/next?workerId=w2").await;
    app.get("/task/next?workerId=idle").await;
    let id = first["taskId"].as_u64().unwrap();
    let answer = app
        .post(
            &format!("/task/{id}/result?workerId=w1"),
            r#"{"result":"[[19,22]]"}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let stats = app.get("/stats").await;
    // The contract's fields come first, as they were.
    assert!(
        stats
            .text()
            .starts_with(r#"{"totalTasks":3,"completedTasks":1,"activeTasks":2,"queueSize":0,"#),
        "{}",
        stats.text()
    );
    let stats = stats.json();
    let line = |id: &str| {
        stats["workers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["workerId"] == id)
            .unwrap()
            .clone()
    };
    assert!(
        line("w1")["gflops"].as_f64().unwrap() >= 0.0,
        "measured: {stats}"
    );
    assert!(
        line("w2").get("gflops").is_none(),
        "not measured yet: {stats}"
    );
    assert!(line("idle").get("gflops").is_none());
    assert_eq!(stats["backups"], 0);
    assert_eq!(
        app.get(&format!("/result/{split}")).await.json()["partsDone"],
        1
    );
}

/// Leases a part of the 2 x 2 product below as `worker`, holds it for
/// `hold`, and posts its row of the product.
async fn compute_part_in(app: &TestApp, worker: &str, hold: Duration) {
    let lease = app.get(&format!("/task/next?workerId={worker}")).await;
    assert_eq!(lease.status, StatusCode::OK, "{worker}: {}", lease.text());
    let lease = lease.json();
    let id = lease["taskId"].as_u64().unwrap();
    let row = if lease["data"].to_string().contains("[[1,2]]") {
        "[[19,22]]"
    } else {
        "[[43,50]]"
    };
    tokio::time::sleep(hold).await;
    let body = json!({ "result": row }).to_string();
    let answer = app
        .post(&format!("/task/{id}/result?workerId={worker}"), body)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
}

#[tokio::test]
async fn parts_sized_by_speed_wake_every_waiting_worker() {
    if common::runs_on_embedded_only(
        "parts_sized_by_speed_wake_every_waiting_worker",
        "on a shared Redis, parts are cut equally (Config::parts_by_speed)",
    ) {
        return;
    }
    // Tried: three workers long-polling, the one that waited longest far
    // slower than the other two. A wake-up per part (two) would wake the
    // slow one and one fast one; the slow one gets no part (a faster one
    // may take it), and the other fast one would sleep out its long poll
    // while the slow one takes the part it leaves. Every waiting worker is
    // woken instead: both fast workers get a part at once.
    let app = splitting_app();
    const PAIR: &str = r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#;
    let hold = Duration::from_millis(100);
    app.submit(PAIR).await;
    compute_part_in(&app, "fast-1", hold).await;
    compute_part_in(&app, "slow", hold * 20).await;
    app.submit(PAIR).await;
    compute_part_in(&app, "fast-2", hold).await;
    compute_part_in(&app, "fast-1", hold).await;

    let wait = Duration::from_secs(10);
    let poll = |worker: &'static str, wait: Duration, after: Duration| {
        let app = &app;
        async move {
            tokio::time::sleep(after).await;
            let asked = Instant::now();
            let uri = format!("/task/next?workerId={worker}&wait={}", wait.as_secs());
            (app.get(&uri).await, asked.elapsed())
        }
    };
    let step = Duration::from_millis(50);
    let (slow, fast_1, fast_2, split) = tokio::join!(
        poll("slow", Duration::from_secs(1), Duration::ZERO),
        poll("fast-1", wait, step),
        poll("fast-2", wait, step * 2),
        async {
            tokio::time::sleep(step * 4).await;
            app.submit(PAIR).await
        }
    );
    let mut parts = Vec::new();
    for (name, (answer, took)) in [("fast-1", &fast_1), ("fast-2", &fast_2)] {
        assert_eq!(answer.status, StatusCode::OK, "{name}: {}", answer.text());
        assert!(
            *took < wait / 2,
            "{name} got its part only after {took:?} of a {wait:?} long poll"
        );
        parts.push(answer.json()["taskId"].as_u64().unwrap());
    }
    parts.sort_unstable();
    parts.dedup();
    assert_eq!(parts.len(), 2, "each fast worker got its own part");
    let report = app.get(&format!("/result/{split}?parts=1")).await.json();
    assert_eq!(report["partsTotal"], 2, "{report}");
    // The slow worker asked for one second: both parts were taken by then.
    assert_eq!(slow.0.status, StatusCode::NO_CONTENT, "{}", slow.0.text());
}

#[tokio::test]
async fn parts_keep_their_place_and_workers_across_a_restart() {
    let config = Config {
        split_min_flops: Some(1),
        data_dir: Some(common::scratch_dir("parts-restart")),
        ..config(static_dir())
    };
    let app = TestApp::open(config.clone()).unwrap();
    let split = app
        .submit(r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#)
        .await;
    let first = app.get("/task/next?workerId=w1").await.json();
    let answer = app
        .post(
            &format!("/task/{}/result?workerId=w1", first["taskId"]),
            r#"{"result":"[[19,22]]"}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    app.get("/task/next?workerId=w2").await;
    app.state.close();
    drop(app);

    // The lease of the second part is gone; who computed the first is kept.
    let app = TestApp::open(config).unwrap();
    let listed = app.get(&format!("/result/{split}?parts=1")).await.json();
    assert_eq!(listed["parts"][0]["status"], "completed");
    assert_eq!(listed["parts"][0]["workerId"], "w1");
    assert_eq!(listed["parts"][1]["status"], "pending");
    let second = app.get("/task/next?workerId=w3&describe=1").await.json();
    assert_eq!(
        second["part"],
        json!({"of": split, "number": 2, "total": 2})
    );
    app.post(
        &format!("/task/{}/result?workerId=w3", second["taskId"]),
        r#"{"result":"[[43,50]]"}"#,
    )
    .await;
    let done = app.get(&format!("/result/{split}?parts=1")).await.json();
    assert_eq!(done["result"], "[[19,22],[43,50]]");
    let workers: Vec<&str> = done["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["workerId"].as_str().unwrap())
        .collect();
    assert_eq!(workers, ["w1", "w3"]);
    app.state.close();
}

#[tokio::test]
async fn a_cancelled_split_task_lists_its_parts_as_failed() {
    let app = splitting_app();
    let split = app
        .submit(r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#)
        .await;
    let part = app.get("/task/next?workerId=w1").await.json();
    app.post(&format!("/task/{split}/cancel"), "").await;
    let listed = app.get(&format!("/result/{split}?parts=1")).await.json();
    assert_eq!(listed["status"], "failed");
    let parts = listed["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["taskId"], part["taskId"]);
    assert_eq!(
        parts[0]["workerId"], "w1",
        "who held it when it was cancelled"
    );
    for part in parts {
        assert_eq!(part["status"], "failed", "{listed}");
    }
    assert_eq!(
        app.get("/task/next?workerId=w2").await.status,
        StatusCode::NO_CONTENT,
        "no part of a cancelled task is handed out"
    );
}

#[tokio::test]
async fn full_queue_answers_503_with_retry_after() {
    let app = TestApp::with_config(Config {
        max_tasks: 2,
        ..config(static_dir())
    });
    app.submit("1").await;
    app.submit("2").await;
    let answer = app.post("/task", "3").await;
    answer.assert_error(StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.header("retry-after").is_some());
    assert_eq!(app.get("/stats").await.json()["totalTasks"], 2);
}

#[tokio::test]
async fn expired_lease_is_requeued_and_late_result_accepted() {
    if common::runs_on_embedded_only(
        "expired_lease_is_requeued_and_late_result_accepted",
        "it moves the queue's clock by hand (AppState::tick with a later instant); Redis keeps wall-clock deadlines, and tests/cluster.rs expires leases on Redis for real",
    ) {
        return;
    }
    let lease = Duration::from_secs(60);
    let app = TestApp::with_config(Config {
        lease,
        ..config(static_dir())
    });
    let id = app.submit("{}").await;
    app.get("/task/next?workerId=slow").await;
    let changes = app
        .state
        .tick(Instant::now() + lease + Duration::from_secs(1));
    let requeued = changes
        .iter()
        .filter(|change| matches!(change, Change::Requeued { .. }))
        .count();
    assert_eq!(requeued, 1);
    let stats = app.get("/stats").await.json();
    assert_eq!(
        (stats["queueSize"].as_u64(), stats["requeuedTasks"].as_u64()),
        (Some(1), Some(1))
    );

    let again = app.get("/task/next?workerId=fast").await.json();
    assert_eq!(again["taskId"], id);
    let got = app.get(&format!("/result/{id}")).await.json();
    assert_eq!(
        (got["workerId"].as_str(), got["attempts"].as_u64()),
        (Some("fast"), Some(2))
    );

    // The slow worker's answer arrives late and still counts.
    let late = app
        .post(&format!("/task/{id}/result"), r#"{"result":"[[1]]"}"#)
        .await;
    assert_eq!(late.json()["status"], "completed");
    let dup = app
        .post(&format!("/task/{id}/result"), r#"{"result":"[[2]]"}"#)
        .await;
    assert_eq!(dup.json()["result"], "[[1]]");
}

#[tokio::test]
async fn task_fails_after_max_attempts() {
    if common::runs_on_embedded_only(
        "task_fails_after_max_attempts",
        "it moves the queue's clock by hand (AppState::tick with a later instant); Redis keeps wall-clock deadlines, and tests/cluster.rs expires leases on Redis for real",
    ) {
        return;
    }
    let lease = Duration::from_secs(10);
    let app = TestApp::with_config(Config {
        lease,
        max_attempts: 2,
        ..config(static_dir())
    });
    let id = app.submit("{}").await;
    let mut now = Instant::now();
    for _ in 0..2 {
        assert_eq!(
            app.get("/task/next?workerId=w").await.status,
            StatusCode::OK
        );
        now += lease * 2;
        app.state.tick(now);
    }
    let got = app.get(&format!("/result/{id}")).await.json();
    assert_eq!(got["status"], "failed");
    assert!(got["error"].as_str().unwrap().contains("2 attempts"));
    assert_eq!(
        app.get("/task/next?workerId=w").await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn evicted_result_is_404_expired() {
    if common::runs_on_embedded_only(
        "evicted_result_is_404_expired",
        "it moves the queue's clock by hand (AppState::tick with a later instant); Redis keeps wall-clock deadlines, and tests/cluster.rs expires leases on Redis for real",
    ) {
        return;
    }
    let keep = Duration::from_secs(3600);
    let app = TestApp::with_config(Config {
        keep_finished: keep,
        ..config(static_dir())
    });
    let id = app.submit("{}").await;
    // Leased first: an answer from a client that never held it is ignored.
    app.get("/task/next?workerId=w").await;
    app.post(&format!("/task/{id}/result"), r#"{"result":"x"}"#)
        .await;
    app.state
        .tick(Instant::now() + keep + Duration::from_secs(1));
    let got = app.get(&format!("/result/{id}")).await;
    assert_eq!(
        got.assert_error(StatusCode::NOT_FOUND),
        "Task result expired"
    );
    let stats = app.get("/stats").await.json();
    assert_eq!(
        (
            stats["completedTasks"].as_u64(),
            stats["heldTasks"].as_u64()
        ),
        (Some(1), Some(0))
    );
}

#[tokio::test]
async fn release_puts_the_task_back_first() {
    let app = TestApp::new();
    let a = app.submit("1").await;
    app.submit("2").await;
    app.get("/task/next?workerId=tab").await;
    let wrong = app
        .post(&format!("/task/{a}/release?workerId=other"), "")
        .await;
    wrong.assert_error(StatusCode::CONFLICT);
    let released = app
        .post(&format!("/task/{a}/release?workerId=tab"), "")
        .await;
    assert_eq!(released.status, StatusCode::OK);
    assert_eq!(
        released.text(),
        format!(r#"{{"taskId":{a},"status":"pending"}}"#)
    );
    let next = app.get("/task/next?workerId=other").await.json();
    assert_eq!(next["taskId"], a);
    assert_eq!(app.get(&format!("/result/{a}")).await.json()["attempts"], 1);
    app.post("/task/99/release?workerId=tab", "")
        .await
        .assert_error(StatusCode::NOT_FOUND);
    app.post("/task/abc/release", "")
        .await
        .assert_error(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn long_poll_answers_when_a_task_arrives() {
    let app = TestApp::new();
    let router = app.router.clone();
    let poll = tokio::spawn(async move {
        let response = tower::ServiceExt::oneshot(
            router,
            request("GET", "/task/next?workerId=w&wait=20", Body::empty()),
        )
        .await
        .unwrap();
        common::Answer::read(response).await
    });
    // The poll has asked once (the worker is seen) and found nothing.
    while app.get("/stats").await.json()["workersSeen"] != 1 {
        tokio::task::yield_now().await;
    }
    assert!(!poll.is_finished());
    let id = app.submit(r#"{"k":1}"#).await;
    let answer = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), json!({"taskId": id, "data": {"k": 1}}));
}

#[tokio::test(start_paused = true)]
async fn long_poll_times_out_with_204() {
    if common::runs_on_embedded_only(
        "long_poll_times_out_with_204",
        "it runs on a paused clock, which times out every request to Redis at once",
    ) {
        return;
    }
    let app = TestApp::new();
    let answer = app.get("/task/next?workerId=w&wait=2").await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert!(answer.body.is_empty());
}

#[tokio::test]
async fn invalid_wait_is_400() {
    let app = TestApp::new();
    app.get("/task/next?wait=soon")
        .await
        .assert_error(StatusCode::BAD_REQUEST);
    app.get("/task/next?wait=-1")
        .await
        .assert_error(StatusCode::BAD_REQUEST);
}

/// Starts `GET uri` on its own task and lets it run until it waits.
async fn start_waiting(app: &TestApp, uri: &str) -> tokio::task::JoinHandle<common::Answer> {
    let router = app.router.clone();
    let request = request("GET", uri, Body::empty());
    let poll = tokio::spawn(async move {
        let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
        common::Answer::read(response).await
    });
    // One thread: the poll runs only when this task yields.
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    poll
}

#[tokio::test]
async fn result_long_poll_answers_when_the_task_completes() {
    let app = TestApp::new();
    let id = app
        .submit(r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#)
        .await;
    app.get("/task/next?workerId=w1").await;
    let poll = start_waiting(&app, &format!("/result/{id}?wait=30")).await;
    assert!(!poll.is_finished(), "a processing task is waited on");
    app.post(
        &format!("/task/{id}/result"),
        r#"{"result":"[[19,22],[43,50]]"}"#,
    )
    .await;
    let answer = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .expect("answered when the result came, not after 30 s")
        .unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    answer.assert_contract_headers();
    let answer = answer.json();
    assert_eq!(answer["status"], "completed");
    assert_eq!(answer["result"], "[[19,22],[43,50]]");
}

#[tokio::test]
async fn result_long_poll_answers_any_change_and_finished_tasks_at_once() {
    let app = TestApp::new();
    let id = app.submit(r#"{"k":1}"#).await;
    // Pending -> processing.
    let poll = start_waiting(&app, &format!("/result/{id}?wait=30")).await;
    assert!(!poll.is_finished());
    app.get("/task/next?workerId=w1").await;
    let answer = tokio::time::timeout(Duration::from_secs(5), poll).await;
    assert_eq!(answer.unwrap().unwrap().json()["status"], "processing");
    // Processing -> pending, when the worker gives it back.
    let poll = start_waiting(&app, &format!("/result/{id}?wait=30")).await;
    assert!(!poll.is_finished());
    app.post(&format!("/task/{id}/release?workerId=w1"), "")
        .await;
    let answer = tokio::time::timeout(Duration::from_secs(5), poll).await;
    assert_eq!(answer.unwrap().unwrap().json()["status"], "pending");
    // A change the caller has not seen yet is answered at once, however
    // late the request comes.
    app.get("/task/next?workerId=w2").await;
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        app.get(&format!("/result/{id}?wait=30&status=pending")),
    )
    .await
    .expect("the caller knew it as pending");
    assert_eq!(answer.json()["status"], "processing");
    let poll = start_waiting(&app, &format!("/result/{id}?wait=30&status=processing")).await;
    assert!(!poll.is_finished(), "the caller knows it as processing");
    app.post(&format!("/task/{id}/release?workerId=w2"), "")
        .await;
    tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .unwrap()
        .unwrap();
    // A failed task is answered at once.
    app.get("/task/next?workerId=w3").await;
    app.post(&format!("/task/{id}/result"), r#"{"error":"no"}"#)
        .await;
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        app.get(&format!("/result/{id}?wait=30")),
    )
    .await
    .expect("a finished task is not waited on");
    assert_eq!(answer.json()["status"], "failed");
}

#[tokio::test]
async fn result_long_poll_follows_a_split_task_part_by_part() {
    let app = TestApp::with_config(Config {
        split_min_flops: Some(1),
        ..config(static_dir())
    });
    let id = app
        .submit(r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#)
        .await;
    assert_eq!(
        app.get(&format!("/result/{id}")).await.json()["partsTotal"],
        2
    );
    for done in 0..2 {
        let poll = start_waiting(
            &app,
            &format!("/result/{id}?wait=30&status=processing&partsDone={done}"),
        )
        .await;
        let part = app.get("/task/next?workerId=w1").await.json();
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        assert!(!poll.is_finished(), "leasing a part changes nothing shown");
        let product = match part["data"]["A"].as_str() {
            Some("[[1,2]]") => "[[19,22]]",
            _ => "[[43,50]]",
        };
        let part_id = part["taskId"].as_u64().unwrap();
        app.post(
            &format!("/task/{part_id}/result"),
            json!({ "result": product }).to_string(),
        )
        .await;
        let answer = tokio::time::timeout(Duration::from_secs(5), poll)
            .await
            .expect("woken by the part's result")
            .unwrap()
            .json();
        assert_eq!(answer["partsDone"], done + 1);
        if done == 1 {
            // The last part completes the split task (and its parts are
            // dropped): its clients are woken all the same.
            assert_eq!(answer["status"], "completed");
            assert_eq!(answer["result"], "[[19,22],[43,50]]");
        }
    }
    assert!(app.state.tasks_waited_on() == 0, "no waiter left behind");
}

#[tokio::test(start_paused = true)]
async fn result_long_poll_times_out_with_the_unchanged_status() {
    if common::runs_on_embedded_only(
        "result_long_poll_times_out_with_the_unchanged_status",
        "it runs on a paused clock, which times out every request to Redis at once",
    ) {
        return;
    }
    let app = TestApp::new();
    let id = app.submit(r#"{"k":1}"#).await;
    let answer = app.get(&format!("/result/{id}?wait=2")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["status"], "pending");
    for query in [
        "wait=soon",
        "wait=-1",
        "wait=NaN",
        "wait=1&status=done",
        "wait=1&status=pending&partsDone=-1",
    ] {
        app.get(&format!("/result/{id}?{query}"))
            .await
            .assert_error(StatusCode::BAD_REQUEST);
    }
    app.get("/result/999?wait=2")
        .await
        .assert_error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn head_on_next_leases_nothing() {
    let app = TestApp::new();
    let id = app.submit("{}").await;
    let answer = app
        .send(request("HEAD", "/task/next?workerId=probe", Body::empty()))
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/result/{id}")).await.json()["status"],
        "pending"
    );
}

#[tokio::test]
async fn long_poll_gets_a_task_whose_lease_expired() {
    if common::runs_on_embedded_only(
        "long_poll_gets_a_task_whose_lease_expired",
        "it moves the queue's clock by hand (AppState::tick with a later instant); Redis keeps wall-clock deadlines, and tests/cluster.rs expires leases on Redis for real",
    ) {
        return;
    }
    let lease = Duration::from_secs(60);
    let app = TestApp::with_config(Config {
        lease,
        ..config(static_dir())
    });
    let id = app.submit("{}").await;
    app.get("/task/next?workerId=gone").await;
    let router = app.router.clone();
    let poll = tokio::spawn(async move {
        let response = tower::ServiceExt::oneshot(
            router,
            request("GET", "/task/next?workerId=waiting&wait=20", Body::empty()),
        )
        .await
        .unwrap();
        common::Answer::read(response).await
    });
    while app.get("/stats").await.json()["workersSeen"] != 2 {
        tokio::task::yield_now().await;
    }
    assert!(!poll.is_finished());
    app.state
        .tick(Instant::now() + lease + Duration::from_secs(1));
    let answer = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.json()["taskId"], id);
    assert_eq!(
        app.get(&format!("/result/{id}")).await.json()["workerId"],
        "waiting"
    );
}

/// Opens a long poll for `worker` in the background.
fn spawn_long_poll(app: &TestApp, worker: &str) -> tokio::task::JoinHandle<common::Answer> {
    let router = app.router.clone();
    let uri = format!("/task/next?workerId={worker}&wait=20");
    tokio::spawn(async move {
        let response = tower::ServiceExt::oneshot(router, request("GET", &uri, Body::empty()))
            .await
            .unwrap();
        common::Answer::read(response).await
    })
}

#[tokio::test]
async fn a_released_task_goes_to_another_worker_not_to_the_releasers_waiting_poll() {
    let app = TestApp::new();
    let id = app.submit("{}").await;
    assert_eq!(
        app.get("/task/next?workerId=tab").await.json()["taskId"],
        id
    );
    // The closing tab's long poll waits first, then another worker's.
    let tab_poll = spawn_long_poll(&app, "tab");
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    let other_poll = spawn_long_poll(&app, "other");
    while app.get("/stats").await.json()["workersSeen"] != 2 {
        tokio::task::yield_now().await;
    }
    let released = app
        .post(&format!("/task/{id}/release?workerId=tab"), "")
        .await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.text());
    let answer = tokio::time::timeout(Duration::from_secs(5), other_poll)
        .await
        .expect("the other worker's poll gets the task")
        .unwrap();
    assert_eq!(answer.json()["taskId"], id);
    assert!(!tab_poll.is_finished(), "the releaser's poll got nothing");
    tab_poll.abort();
    assert_eq!(
        app.get(&format!("/result/{id}")).await.json()["workerId"],
        "other"
    );
}
