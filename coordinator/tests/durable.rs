//! The durable store, in process: what a restart keeps (tasks, results,
//! failures, cancels, split tasks part by part, attempts, ids), what it
//! drops (leases), and how a data directory refuses a second coordinator.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{TestApp, config, scratch_dir, static_dir};
use coordinator::{Config, StoreError};
use serde_json::json;

/// A config keeping its state in `dir`.
fn durable(dir: &Path) -> Config {
    Config {
        data_dir: Some(dir.to_path_buf()),
        ..config(static_dir())
    }
}

/// Opens the app on `dir`, panicking with the reason if it cannot.
fn open(config: &Config) -> TestApp {
    TestApp::open(config.clone()).unwrap_or_else(|e| panic!("open: {e}"))
}

/// `GET /result/N` as JSON.
async fn report(app: &TestApp, id: u64) -> serde_json::Value {
    let answer = app.get(&format!("/result/{id}")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.json()
}

/// Leases the next task as `worker`: its id and data.
async fn lease(app: &TestApp, worker: &str) -> (u64, serde_json::Value) {
    let answer = app.get(&format!("/task/next?workerId={worker}")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let json = answer.json();
    (json["taskId"].as_u64().unwrap(), json["data"].clone())
}

async fn post_result(app: &TestApp, id: u64, result: &str) -> StatusCode {
    app.post(
        &format!("/task/{id}/result?workerId=w"),
        json!({ "result": result }).to_string(),
    )
    .await
    .status
}

#[tokio::test]
async fn a_restart_keeps_every_acknowledged_task_and_result() {
    let dir = scratch_dir("restart");
    let config = durable(&dir);
    let app = open(&config);
    let pending = app.submit(r#"{"A":"[[1,2]]","B":"[[3],[4]]"}"#).await;
    let processing = app
        .submit(r#""text, leased when the process stopped""#)
        .await;
    let completed = app
        .submit(r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#)
        .await;
    let failed = app.submit(r#""will fail""#).await;
    let cancelled = app.submit(r#""will be cancelled""#).await;
    // Leased in submission order: pending first, then given back.
    let (first, _) = lease(&app, "w").await;
    assert_eq!(first, pending);
    app.post(&format!("/task/{pending}/release?workerId=w"), "")
        .await;
    let (second, _) = lease(&app, "other").await;
    assert_eq!(second, pending);
    // `w` gave a task back, so it waits out the release pause: others lease.
    let (leased, _) = lease(&app, "w2").await;
    assert_eq!(leased, processing);
    assert_eq!(post_result(&app, pending, "[[11]]").await, StatusCode::OK);
    lease(&app, "w2").await;
    assert_eq!(
        post_result(&app, completed, "[[19,22],[43,50]]").await,
        StatusCode::OK
    );
    lease(&app, "w2").await;
    app.post(&format!("/task/{failed}/result"), r#"{"error":"boom"}"#)
        .await;
    app.post(&format!("/task/{cancelled}/cancel"), "").await;
    let before: Vec<serde_json::Value> = {
        let mut all = Vec::new();
        for id in [pending, processing, completed, failed, cancelled] {
            all.push(report(&app, id).await);
        }
        all
    };
    app.state.close();
    drop(app);

    let app = open(&config);
    assert_eq!(report(&app, pending).await, before[0], "completed stays");
    assert_eq!(report(&app, completed).await, before[2]);
    assert_eq!(report(&app, failed).await["error"], "boom");
    assert_eq!(report(&app, cancelled).await["error"], "Task cancelled");
    // A lease is not kept: the task is pending again, its attempt counted.
    let again = report(&app, processing).await;
    assert_eq!(
        (again["status"].as_str(), again["attempts"].as_u64()),
        (Some("pending"), Some(1))
    );
    let (next, data) = lease(&app, "w").await;
    assert_eq!(
        (next, data.as_str()),
        (processing, Some("text, leased when the process stopped"))
    );
    // Ids go on above the ones given out before.
    let new = app.submit(r#""after""#).await;
    assert!(new > cancelled, "{new} after {cancelled}");
    let stats = app.get("/stats").await.json();
    assert_eq!(stats["store"]["kind"], "disk");
    assert!(stats["store"]["bytesOnDisk"].as_u64().unwrap() > 0);
    app.state.close();
}

#[tokio::test]
async fn a_result_computed_before_a_restart_is_taken_and_checked_after_it() {
    let dir = scratch_dir("late");
    let config = durable(&dir);
    let app = open(&config);
    let id = app
        .submit(r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#)
        .await;
    lease(&app, "before").await;
    app.state.close();
    drop(app);

    let app = open(&config);
    // The check is prepared again from the kept data: a wrong product is
    // still refused, the right one taken.
    assert_eq!(
        post_result(&app, id, "[[19,22],[43,51]]").await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        post_result(&app, id, "[[19,22],[43,50]]").await,
        StatusCode::OK
    );
    assert_eq!(report(&app, id).await["result"], "[[19,22],[43,50]]");
    app.state.close();
}

/// A matrix pair of `n x n` integers, as Dana main apps send it.
fn pair(n: usize) -> (String, Vec<Vec<i64>>, Vec<Vec<i64>>) {
    let a: Vec<Vec<i64>> = (0..n)
        .map(|i| (0..n).map(|j| ((i * 7 + j * 3) % 11) as i64 - 5).collect())
        .collect();
    let b: Vec<Vec<i64>> = (0..n)
        .map(|i| (0..n).map(|j| ((i * 5 + j) % 13) as i64 - 6).collect())
        .collect();
    let text = |m: &Vec<Vec<i64>>| serde_json::to_string(m).unwrap();
    let data = json!({ "A": text(&a), "B": text(&b) }).to_string();
    (data, a, b)
}

/// The product of the rows of `a` that a part's data holds with `b`.
fn part_product(data: &serde_json::Value) -> String {
    kernel::multiply_text(data["A"].as_str().unwrap(), data["B"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn a_split_task_goes_on_part_by_part_across_restarts() {
    let dir = scratch_dir("split");
    let config = Config {
        split_min_flops: Some(0),
        ..durable(&dir)
    };
    let (data, a, b) = pair(6);
    let app = open(&config);
    for worker in ["w1", "w2", "w3"] {
        app.get(&format!("/task/next?workerId={worker}")).await;
    }
    let id = app.submit(&data).await;
    assert_eq!(report(&app, id).await["partsTotal"], 3);
    let (first, first_data) = lease(&app, "w1").await;
    assert_eq!(
        post_result(&app, first, &part_product(&first_data)).await,
        StatusCode::OK
    );
    let (second, _) = lease(&app, "w2").await;
    app.state.close();
    drop(app);

    let app = open(&config);
    let shown = report(&app, id).await;
    assert_eq!(
        (shown["status"].as_str(), shown["partsDone"].as_u64()),
        (Some("processing"), Some(1))
    );
    // The part leased before the restart comes back first (it is before
    // the third part in the queue), with its data rebuilt from the kept
    // body.
    let (again, again_data) = lease(&app, "w2").await;
    assert_eq!(again, second);
    assert_eq!(
        post_result(&app, again, &part_product(&again_data)).await,
        StatusCode::OK
    );
    app.state.close();
    drop(app);

    let app = open(&config);
    let (third, third_data) = lease(&app, "w3").await;
    assert_eq!(
        post_result(&app, third, &part_product(&third_data)).await,
        StatusCode::OK
    );
    let text = |m: &Vec<Vec<i64>>| serde_json::to_string(m).unwrap();
    let expected = kernel::multiply_text(&text(&a), &text(&b)).unwrap();
    assert_eq!(report(&app, id).await["result"], expected.as_str());
    app.state.close();
    drop(app);

    // The assembled product itself survives a restart.
    let app = open(&config);
    let shown = report(&app, id).await;
    assert_eq!(
        (shown["status"].as_str(), shown["result"].as_str()),
        (Some("completed"), Some(expected.as_str()))
    );
    app.state.close();
}

#[tokio::test]
async fn evicted_tasks_leave_the_store() {
    let dir = scratch_dir("evict");
    let config = Config {
        keep_finished: Duration::from_secs(60),
        ..durable(&dir)
    };
    let app = open(&config);
    let id = app.submit(r#""short-lived""#).await;
    lease(&app, "w").await;
    assert_eq!(post_result(&app, id, "done").await, StatusCode::OK);
    let kept = app.submit(r#""kept""#).await;
    app.state.tick(Instant::now() + Duration::from_secs(61));
    app.get(&format!("/result/{id}"))
        .await
        .assert_error(StatusCode::NOT_FOUND);
    app.state.close();
    drop(app);

    let app = open(&config);
    app.get(&format!("/result/{id}"))
        .await
        .assert_error(StatusCode::NOT_FOUND);
    assert_eq!(report(&app, kept).await["status"], "pending");
    let stats = app.get("/stats").await.json();
    assert_eq!(stats["heldTasks"], 1);
    app.state.close();
}

#[tokio::test]
async fn a_second_coordinator_on_the_same_directory_is_refused() {
    let dir = scratch_dir("locked");
    let config = durable(&dir);
    let app = open(&config);
    let refused = TestApp::open(config.clone()).err().unwrap();
    assert!(matches!(refused, StoreError::Locked(_)), "{refused}");
    assert!(
        refused
            .to_string()
            .contains("in use by another coordinator")
    );
    app.state.close();
    drop(app);
    drop(open(&config));
}

/// Bytes of the files under `dir`.
fn disk_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|entry| {
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                disk_bytes(&entry.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

#[tokio::test]
async fn evicted_tasks_give_their_disk_space_back() {
    let dir = scratch_dir("space");
    let config = Config {
        keep_finished: Duration::from_secs(60),
        ..durable(&dir)
    };
    let app = open(&config);
    let large = |k: usize| format!("\"{k}{}\"", "7".repeat(3 << 20));
    let mut ids = Vec::new();
    for k in 0..6 {
        ids.push(app.submit(&large(k)).await);
    }
    for &id in &ids {
        lease(&app, "w").await;
        assert_eq!(post_result(&app, id, "done").await, StatusCode::OK);
    }
    let peak = disk_bytes(&dir);
    app.state.tick(Instant::now() + Duration::from_secs(61));
    let kept = app.submit(r#""small""#).await;
    app.state.close();
    drop(app);
    let after = disk_bytes(&dir);
    println!("disk: {peak} bytes holding 6 tasks of 3 MiB, {after} after they were evicted");
    assert!(peak > 18 << 20, "{peak}");
    assert!(
        after < 1 << 20,
        "the space of evicted tasks came back: {after} bytes left"
    );
    let app = open(&config);
    assert_eq!(report(&app, kept).await["status"], "pending");
    app.state.close();
}
