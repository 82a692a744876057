//! What the queue holds: each task's overhead, results against the byte
//! limit, and finished tasks evicted under pressure.

use super::*;

#[test]
fn held_bytes_count_each_tasks_overhead() {
    let overhead = 100;
    let mut q = Harness::new(QueueLimits {
        task_overhead_bytes: overhead,
        max_held_bytes: 3 * overhead + 8,
        ..limits()
    });
    let t0 = Instant::now();
    q.submit(data("1234"), t0).unwrap();
    q.submit(data("5678"), t0).unwrap();
    assert_eq!(q.stats(t0).held_bytes, (2 * (overhead + 4)) as u64);
    // A third small task does not fit: its overhead counts.
    assert!(matches!(
        q.submit(data("9"), t0),
        Err(QueueError::FullBytes(_))
    ));
    assert!(TASK_OVERHEAD_BYTES > std::mem::size_of::<Task>());
}

#[test]
fn finished_tasks_are_evicted_oldest_first_under_pressure() {
    let mut q = Harness::new(QueueLimits {
        max_tasks: 3,
        ..limits()
    });
    let t0 = Instant::now();
    let ids: Vec<TaskId> = (0..3)
        .map(|n| q.submit(data(&n.to_string()), t0).unwrap())
        .collect();
    for (k, &id) in ids.iter().enumerate() {
        q.lease_next(&worker("w"), t0).unwrap();
        q.complete(id, text("r"), None, t0 + Duration::from_secs(k as u64))
            .unwrap();
    }
    // Finished less than the floor ago: still kept, the queue is full.
    let young = t0 + PRESSURE_KEEP_FLOOR - Duration::from_millis(1);
    assert_eq!(q.submit(data("x"), young), Err(QueueError::Full(3)));
    // Past the floor, long before the keep time, the oldest makes room.
    let old = t0 + PRESSURE_KEEP_FLOOR;
    let next = q.submit(data("x"), old).unwrap();
    assert_eq!(q.get(ids[0]), Err(QueueError::Expired));
    assert_eq!(status(&q, ids[1]), TaskStatus::Completed);
    assert_eq!(status(&q, next), TaskStatus::Pending);
}

#[test]
fn results_are_held_to_the_byte_limit() {
    let mut q = Harness::new(QueueLimits {
        max_held_bytes: 20,
        ..limits()
    });
    let t0 = Instant::now();
    let a = q.submit(data("aaaa"), t0).unwrap();
    let b = q.submit(data("bbbb"), t0).unwrap();
    q.lease_next(&worker("w"), t0).unwrap();
    q.lease_next(&worker("w"), t0).unwrap();
    // More than the queue may ever hold: refused for good.
    assert_eq!(
        q.complete(a, text(&"x".repeat(21)), None, t0),
        Err(QueueError::ResultTooLarge {
            bytes: 21,
            limit: 20
        })
    );
    q.complete(a, text("0123456789"), None, t0).unwrap();
    // No room now for b's result: refused until a's is evicted.
    assert_eq!(
        q.complete(b, text("0123456789"), None, t0),
        Err(QueueError::FullBytes(18))
    );
    assert_eq!(status(&q, b), TaskStatus::Processing);
    q.complete(b, text("0123456789"), None, t0 + PRESSURE_KEEP_FLOOR)
        .unwrap();
    assert_eq!(q.get(a), Err(QueueError::Expired));
    assert_eq!(q.stats(t0).held_bytes, 14);
}
