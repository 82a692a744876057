//! The metrics follow the change record: driven through the use cases on
//! [`AppState`], with a controlled clock where leases expire.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::config::Config;
use crate::queue::{Asker, ClientKey, WorkerId};
use crate::state::{AppState, Caller, UseCaseError};

const TASK: &str = r#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#;
const RIGHT: &str = r#"{"result":"[[19,22],[43,50]]"}"#;
const WRONG: &str = r#"{"result":"[[19,22],[43,51]]"}"#;

/// The value of the sample `name` (with its labels, as written) in `text`.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

fn worker(name: &str) -> WorkerId {
    WorkerId::from_param(Some(name))
}

/// Worker `name` asking for a task from an address of its own.
fn asker(name: &str) -> Asker {
    Asker {
        client: ClientKey::Unknown,
        worker: worker(name),
        tokened: false,
    }
}

#[tokio::test]
async fn counters_and_histograms_follow_a_rejected_then_completed_task() {
    let state = AppState::new(&Config::default());
    let id = state
        .submit(Bytes::from_static(TASK.as_bytes()))
        .await
        .unwrap();
    let lease = state.lease(&asker("liar-7"), Duration::ZERO).await.unwrap();
    assert_eq!(lease.id, id);
    let liar = Caller::anonymous(Some(worker("liar-7")));
    let wrong = state.answer(id, &liar, Bytes::from_static(WRONG.as_bytes()));
    assert!(matches!(wrong.await, Err(UseCaseError::Rejected(_))));
    state
        .lease(&asker("honest-3"), Duration::ZERO)
        .await
        .unwrap();
    let honest = Caller::anonymous(Some(worker("honest-3")));
    let right = state.answer(id, &honest, Bytes::from_static(RIGHT.as_bytes()));
    right.await.unwrap();

    let text = state.metrics_text().unwrap();
    let expect = [
        ("coordinator_tasks_submitted_total{kind=\"single\"}", 1.0),
        ("coordinator_tasks_completed_total{kind=\"single\"}", 1.0),
        ("coordinator_results_rejected_total", 1.0),
        ("coordinator_tasks_requeued_total{reason=\"rejected\"}", 1.0),
        ("coordinator_task_pending_seconds_count", 1.0),
        ("coordinator_task_processing_seconds_count", 1.0),
        (
            "coordinator_task_end_to_end_seconds_count{kind=\"single\"}",
            1.0,
        ),
        ("coordinator_flops_completed_total", 16.0),
        // Passes over a few bytes are timed on the wall clock only.
        ("coordinator_cpu_seconds_count{pass=\"verify\"}", 0.0),
        ("coordinator_cpu_seconds_count{pass=\"plan\"}", 0.0),
        ("coordinator_tasks_pending", 0.0),
        ("coordinator_tasks_processing", 0.0),
        ("coordinator_tasks_held", 1.0),
    ];
    for (name, value) in expect {
        assert_eq!(sample(&text, name), Some(value), "{name} in\n{text}");
    }
    assert!(
        !text.contains("liar-7") && !text.contains("honest-3"),
        "worker ids are no labels"
    );

    let snapshot = state.snapshot();
    assert_eq!(snapshot.problems.len(), 1);
    assert_eq!(snapshot.problems[0].kind, "rejected");
    assert_eq!(snapshot.problems[0].worker_id.as_deref(), Some("liar-7"));
    assert_eq!(snapshot.latency_samples, 1);
    let honest = snapshot
        .workers
        .iter()
        .find(|w| w.worker_id == "honest-3")
        .unwrap();
    assert!(honest.gflops > 0.0, "the honest worker delivered 16 flops");
}

#[tokio::test]
async fn a_split_task_counts_its_parts_and_its_assembly() {
    let config = Config {
        split_min_flops: Some(1),
        ..Config::default()
    };
    let state = AppState::new(&config);
    let id = state
        .submit(Bytes::from_static(TASK.as_bytes()))
        .await
        .unwrap();
    for _ in 0..2 {
        let part = state.lease(&asker("w"), Duration::ZERO).await.unwrap();
        let row = if part.data.to_text().contains("[[1,2]]") {
            r#"{"result":"[[19,22]]"}"#
        } else {
            r#"{"result":"[[43,50]]"}"#
        };
        state
            .answer(
                part.id,
                &Caller::anonymous(None),
                Bytes::from_static(row.as_bytes()),
            )
            .await
            .unwrap();
    }
    assert_eq!(
        state
            .view(id, Duration::ZERO, Default::default())
            .await
            .unwrap()
            .status,
        crate::queue::TaskStatus::Completed
    );
    let text = state.metrics_text().unwrap();
    let expect = [
        ("coordinator_tasks_submitted_total{kind=\"split\"}", 1.0),
        ("coordinator_tasks_submitted_total{kind=\"part\"}", 2.0),
        ("coordinator_tasks_completed_total{kind=\"part\"}", 2.0),
        ("coordinator_tasks_completed_total{kind=\"split\"}", 1.0),
        (
            "coordinator_task_end_to_end_seconds_count{kind=\"split\"}",
            1.0,
        ),
        ("coordinator_cpu_seconds_count{pass=\"assemble\"}", 0.0),
        ("coordinator_flops_completed_total", 16.0),
    ];
    for (name, value) in expect {
        assert_eq!(sample(&text, name), Some(value), "{name} in\n{text}");
    }
    assert_eq!(
        sample(
            &text,
            "coordinator_task_end_to_end_seconds_count{kind=\"single\"}"
        ),
        Some(0.0),
        "parts are no client tasks"
    );
}

#[tokio::test]
async fn an_expired_lease_is_counted_and_shown() {
    let state = AppState::new(&Config::default());
    let id = state
        .submit(Bytes::from_static(TASK.as_bytes()))
        .await
        .unwrap();
    state.lease(&asker("gone"), Duration::ZERO).await.unwrap();
    state.tick(Instant::now() + state.config().lease + Duration::from_secs(1));
    let text = state.metrics_text().unwrap();
    assert_eq!(
        sample(
            &text,
            "coordinator_tasks_requeued_total{reason=\"lease_expired\"}"
        ),
        Some(1.0)
    );
    assert_eq!(sample(&text, "coordinator_tasks_pending"), Some(1.0));
    let problems = state.snapshot().problems;
    assert_eq!(
        (problems[0].task_id, problems[0].kind),
        (id.0, "lease expired")
    );
}

#[tokio::test(start_paused = true)]
async fn open_long_polls_are_counted_while_they_wait() {
    let state = AppState::new(&Config::default());
    let waiting = state.clone();
    let poll =
        tokio::spawn(async move { waiting.lease(&asker("w"), Duration::from_secs(20)).await });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(state.metrics().long_polls_open(), 1);
    state
        .submit(Bytes::from_static(TASK.as_bytes()))
        .await
        .unwrap();
    assert!(poll.await.unwrap().is_some());
    assert_eq!(state.metrics().long_polls_open(), 0);
    let text = state.metrics_text().unwrap();
    assert_eq!(
        sample(&text, "coordinator_long_polls_open{long_poll=\"task\"}"),
        Some(0.0)
    );
}

#[tokio::test]
async fn with_metrics_off_nothing_is_recorded_but_gauges_answer() {
    let config = Config {
        metrics: false,
        ..Config::default()
    };
    let state = AppState::new(&config);
    state
        .submit(Bytes::from_static(TASK.as_bytes()))
        .await
        .unwrap();
    let text = state.metrics_text().unwrap();
    assert_eq!(
        sample(&text, "coordinator_tasks_submitted_total{kind=\"single\"}"),
        Some(0.0)
    );
    assert_eq!(sample(&text, "coordinator_tasks_pending"), Some(1.0));
}

#[test]
fn event_streams_are_bounded() {
    let metrics = super::Metrics::new(true);
    let open: Vec<_> = (0..super::MAX_EVENT_STREAMS)
        .map(|_| metrics.open_event_stream().unwrap())
        .collect();
    assert!(metrics.open_event_stream().is_none());
    assert_eq!(
        metrics.event_streams_open(),
        super::MAX_EVENT_STREAMS as i64
    );
    drop(open);
    assert!(metrics.open_event_stream().is_some());
}

/// An `n` x `n` matrix of single digits, as Dana writes it.
fn digits(n: usize, seed: usize) -> Vec<Vec<i64>> {
    (0..n)
        .map(|i| {
            (0..n)
                .map(|j| ((i * 7 + j * 3 + seed) % 10) as i64)
                .collect()
        })
        .collect()
}

fn text(matrix: &[Vec<i64>]) -> String {
    serde_json::to_string(matrix).unwrap()
}

#[tokio::test]
async fn passes_over_large_bodies_count_their_cpu_time() {
    let n = 192;
    let (a, b) = (digits(n, 1), digits(n, 4));
    let body = serde_json::json!({ "A": text(&a), "B": text(&b) }).to_string();
    assert!(body.len() >= crate::state::cost::CPU_TIMED_BYTES);
    let config = Config {
        split_min_flops: Some(1),
        max_parts: 2,
        ..Config::default()
    };
    let state = AppState::new(&config);
    let id = state.submit(Bytes::from(body)).await.unwrap();
    for _ in 0..2 {
        let part = state.lease(&asker("w"), Duration::ZERO).await.unwrap();
        let data: serde_json::Value = serde_json::from_str(&part.data.to_text()).unwrap();
        let rows: Vec<Vec<i64>> = serde_json::from_str(data["A"].as_str().unwrap()).unwrap();
        let product: Vec<Vec<i64>> = rows
            .iter()
            .map(|row| {
                (0..n)
                    .map(|j| (0..n).map(|k| row[k] * b[k][j]).sum())
                    .collect()
            })
            .collect();
        let answer = serde_json::json!({ "result": text(&product) }).to_string();
        assert!(answer.len() >= crate::state::cost::CPU_TIMED_BYTES);
        state
            .answer(part.id, &Caller::anonymous(None), Bytes::from(answer))
            .await
            .unwrap();
    }
    let status = state.view(id, Duration::ZERO, Default::default()).await;
    assert_eq!(status.unwrap().status, crate::queue::TaskStatus::Completed);
    let text = state.metrics_text().unwrap();
    for (pass, count) in [
        ("read", 3.0),
        ("plan", 1.0),
        ("verify", 2.0),
        ("assemble", 1.0),
    ] {
        let name = format!("coordinator_cpu_seconds_count{{pass=\"{pass}\"}}");
        assert_eq!(sample(&text, &name), Some(count), "{name} in\n{text}");
    }
}
