//! Measured speeds and stragglers, on a controlled clock: speeds learned
//! from leases and results, parts handed to the workers they fit, backup
//! copies only to an idle worker near the end, the first result winning,
//! no part done twice, late copies counted.

use super::*;

const GFLOP: u64 = 1_000_000_000;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Parts of `works` flops each (results of one row).
fn parts_of(works: &[u64]) -> Vec<NewPart> {
    works
        .iter()
        .enumerate()
        .map(|(i, &work)| NewPart {
            data: SharedText::from(format!("\"p{i}\"")),
            check: None,
            work,
        })
        .collect()
}

fn split_of(q: &mut Harness, works: &[u64], pace: Option<SplitPace>, now: Instant) -> TaskId {
    let task = NewTask::Split {
        data: SharedText::from("\"all\""),
        parts: parts_of(works),
        pace,
    };
    q.submit_task(task, now).unwrap()
}

/// `w` computes a one-part split task of `gflops` GFLOP in one second from
/// `now`, so that its speed is measured at `gflops` GFLOP/s; returns when
/// it is done.
fn measure(q: &mut Harness, w: &WorkerId, gflops: u64, now: Instant) -> Instant {
    let id = split_of(q, &[gflops * GFLOP], None, now);
    let lease = q.lease_next(w, now).unwrap();
    let done = now + secs(1.0);
    q.complete(lease.id, text("[[1]]"), Some(w), done).unwrap();
    assert_eq!(status(q, id), TaskStatus::Completed);
    done
}

fn speed_of(q: &Harness, w: &WorkerId, now: Instant) -> Option<u64> {
    q.stats(now)
        .workers
        .into_iter()
        .find(|line| line.id == *w)
        .and_then(|line| line.flops_per_sec)
}

#[test]
fn speeds_are_learned_from_lease_to_result_and_smoothed() {
    let mut q = Harness::new(limits());
    let t0 = Instant::now();
    let w = worker("w");
    assert_eq!(speed_of(&q, &w, t0), None);
    let split = split_of(&mut q, &[GFLOP, GFLOP], None, t0);
    let first = q.lease_next(&w, t0).unwrap();
    assert_eq!(speed_of(&q, &w, t0), None, "a lease measures nothing");
    let t1 = t0 + secs(1.0);
    q.complete(first.id, text("[[1]]"), Some(&w), t1).unwrap();
    assert_eq!(speed_of(&q, &w, t1), Some(GFLOP));
    // The second part takes half the time: 2 GFLOP/s, smoothed with 1.
    let second = q.lease_next(&w, t1).unwrap();
    let t2 = t1 + secs(0.5);
    q.complete(second.id, text("[[2]]"), Some(&w), t2).unwrap();
    assert_eq!(speed_of(&q, &w, t2), Some(3 * GFLOP / 2));
    assert_eq!(status(&q, split), TaskStatus::Completed);
    // The crew a task submitted now would be planned for.
    assert_eq!(q.crew(t2), Crew::new(vec![Some(1.5e9)]));
}

#[test]
fn parts_go_to_the_workers_whose_speed_they_fit() {
    let mut q = Harness::new(limits());
    let (fast, slow) = (worker("fast"), worker("slow"));
    let t = measure(&mut q, &fast, 4, Instant::now());
    let t = measure(&mut q, &slow, 1, t);
    let mut crew = q.crew(t).plan(8).speeds;
    crew.sort_by(f64::total_cmp);
    assert_eq!(crew, vec![1e9, 4e9]);
    // Parts sized 4 : 1 for them (as the planner cuts them), both 2 s.
    let pace = SplitPace {
        rate: 5e9,
        fastest: 4e9,
        slowest: 1e9,
    };
    let split = split_of(&mut q, &[8 * GFLOP, 2 * GFLOP], Some(pace), t);
    // The slow worker asks first and gets the small part, not the first.
    let small = q.lease_next(&slow, t).unwrap();
    assert_eq!(small.part.unwrap().index, 1);
    let big = q.lease_next(&fast, t).unwrap();
    assert_eq!(big.part.unwrap().index, 0);
    let done = t + secs(2.0);
    q.complete(big.id, text("[[1]]"), Some(&fast), done)
        .unwrap();
    q.complete(small.id, text("[[2]]"), Some(&slow), done)
        .unwrap();
    assert_eq!(status(&q, split), TaskStatus::Completed);
    assert_eq!(q.stats(done).backups, 0);
}

#[test]
fn a_much_slower_worker_gets_no_part_a_faster_one_can_finish_sooner() {
    let mut q = Harness::new(limits());
    let (fast, slow) = (worker("fast"), worker("slow"));
    let t = measure(&mut q, &fast, 8, Instant::now());
    let t = measure(&mut q, &slow, 1, t);
    // Planned for the fast worker alone: 1 s.
    let pace = SplitPace {
        rate: 8e9,
        fastest: 8e9,
        slowest: 8e9,
    };
    let split = split_of(&mut q, &[4 * GFLOP, 4 * GFLOP], Some(pace), t);
    // 4 s of work for the slow worker, 4 times the plan: not while the
    // fast one may still take it (twice the plan, 2 s).
    assert_eq!(
        q.lease_as(&asker_unknown(&slow), t).unwrap_err(),
        NoLease::NotYet(secs(2.0))
    );
    let first = q.lease_next(&fast, t).unwrap();
    assert_eq!(
        q.lease_as(&asker_unknown(&slow), t + secs(1.0))
            .unwrap_err(),
        NoLease::NotYet(secs(1.0))
    );
    // Past twice the planned time, anyone may take what is left.
    let late = t + secs(2.5);
    let second = q.lease_next(&slow, late).unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(status(&q, split), TaskStatus::Processing);
}

fn asker_unknown(w: &WorkerId) -> Asker {
    Asker {
        client: ClientKey::Unknown,
        worker: w.clone(),
        tokened: false,
    }
}

#[test]
fn a_backup_goes_only_to_an_idle_worker_near_the_end_and_the_first_result_wins() {
    let mut q = Harness::new(limits());
    let (fast, slow, other) = (worker("fast"), worker("slow"), worker("other"));
    let t = measure(&mut q, &fast, 4, Instant::now());
    let t = measure(&mut q, &slow, 1, t);
    let t = measure(&mut q, &other, 4, t);
    // Three equal parts of 4 GFLOP (not sized by speed).
    let split = split_of(&mut q, &[4 * GFLOP; 3], None, t);
    let held_by_slow = q.lease_next(&slow, t).unwrap();
    let held_by_fast = q.lease_next(&fast, t).unwrap();
    // A part is still pending: the fast worker's next ask is not a backup.
    let t1 = t + secs(1.0);
    q.complete(held_by_fast.id, text("[[2]]"), Some(&fast), t1)
        .unwrap();
    let third = q.lease_next(&fast, t1).unwrap();
    assert_eq!(third.attempts, 1);
    assert_ne!(third.id, held_by_slow.id);
    // Nothing pending now; the slow worker is expected to need 3 s more
    // for its part, `other` 1 s: a copy for `other`.
    let backup = q.lease_as(&asker_unknown(&other), t1).unwrap();
    assert_eq!(backup.id, held_by_slow.id);
    assert_eq!(backup.attempts, 1, "a backup costs the part no attempt");
    assert_eq!(q.stats(t1).backups, 1);
    // At most one backup per part; the fast worker, busy, gets none of a
    // part it holds, and the slow one none of its own.
    assert!(q.lease_next(&slow, t1).is_none());
    let t2 = t1 + secs(1.0);
    q.complete(third.id, text("[[3]]"), Some(&fast), t2)
        .unwrap();
    assert!(q.lease_next(&fast, t2).is_none());
    // The backup's result arrives first and completes the split task.
    q.complete(backup.id, text("[[1]]"), Some(&other), t2)
        .unwrap();
    let view = q.get(split).unwrap();
    assert_eq!(view.status, TaskStatus::Completed);
    assert_eq!(view.parts.unwrap().done, 3);
    assert_eq!(view.result.unwrap().to_string(), "[[1],[2],[3]]");
    // The slow worker's copy comes late: taken, ignored, counted.
    let late = q
        .complete(held_by_slow.id, text("[[9]]"), Some(&slow), t + secs(4.0))
        .unwrap();
    assert!(matches!(late, Outcome::AlreadyCompleted(_)));
    let stats = q.stats(t + secs(4.0));
    assert_eq!(stats.late_results, 1);
    assert_eq!(
        q.get(split).unwrap().result.unwrap().to_string(),
        "[[1],[2],[3]]"
    );
    assert_eq!(q.get(split).unwrap().parts.unwrap().done, 3);
    // Split task and its three parts, plus the four measuring tasks and
    // their parts: every one counted completed once.
    assert_eq!(stats.completed_tasks, 4 + 6);
    // It lost with 2 s held of a 4 GFLOP part: at most 1 GFLOP/s.
    assert_eq!(speed_of(&q, &slow, t2), Some(GFLOP));
}

/// A one-part split task of 4 GFLOP held by a worker measured at 1
/// GFLOP/s, copied 1 s later for one measured at 4.
struct BackedUp {
    q: Harness,
    fast: WorkerId,
    slow: WorkerId,
    split: TaskId,
    held: Lease,
    backup: Lease,
    /// When the copy was handed out.
    t1: Instant,
}

fn backed_up() -> BackedUp {
    let mut q = Harness::new(limits());
    let (fast, slow) = (worker("fast"), worker("slow"));
    let t = measure(&mut q, &fast, 4, Instant::now());
    let t = measure(&mut q, &slow, 1, t);
    let split = split_of(&mut q, &[4 * GFLOP], None, t);
    let held = q.lease_next(&slow, t).unwrap();
    let t1 = t + secs(1.0);
    let backup = q.lease_next(&fast, t1).unwrap();
    assert_eq!(backup.id, held.id);
    BackedUp {
        q,
        fast,
        slow,
        split,
        held,
        backup,
        t1,
    }
}

#[test]
fn the_holders_result_wins_when_it_comes_before_the_backups() {
    let mut b = backed_up();
    let t2 = b.t1 + secs(0.5);
    b.q.complete(b.held.id, text("[[5]]"), Some(&b.slow), t2)
        .unwrap();
    let late =
        b.q.complete(b.backup.id, text("[[6]]"), Some(&b.fast), t2 + secs(0.5))
            .unwrap();
    assert!(matches!(late, Outcome::AlreadyCompleted(_)));
    let view = b.q.get(b.split).unwrap();
    assert_eq!(view.result.unwrap().to_string(), "[[5]]");
    assert_eq!(view.parts.unwrap().done, 1);
    assert_eq!(b.q.stats(b.t1).late_results, 1);
    // The copy that lost started after the winner: it says nothing of the
    // fast worker's speed.
    assert_eq!(speed_of(&b.q, &b.fast, b.t1), Some(4 * GFLOP));
}

#[test]
fn a_backup_that_wins_does_not_move_its_workers_speed() {
    let mut b = backed_up();
    // The copy finishes in 0.5 s, 8 GFLOP/s: alone on its machine, twice
    // as fast as the fast worker computes beside the others.
    let t2 = b.t1 + secs(0.5);
    b.q.complete(b.backup.id, text("[[6]]"), Some(&b.fast), t2)
        .unwrap();
    assert_eq!(status(&b.q, b.split), TaskStatus::Completed);
    assert_eq!(speed_of(&b.q, &b.fast, t2), Some(4 * GFLOP));
    // Its own part is measured again as usual.
    let t3 = measure(&mut b.q, &b.fast, 2, t2);
    assert_eq!(speed_of(&b.q, &b.fast, t3), Some(3 * GFLOP));
    // The holder that lost, 1.5 s into a 4 GFLOP part, taken as half
    // done: at most 4/3 GFLOP/s; its measured 1 GFLOP/s stands.
    assert_eq!(speed_of(&b.q, &b.slow, t3), Some(GFLOP));
}

#[test]
fn no_backup_without_a_real_gain_and_the_wait_for_one_is_told() {
    let mut q = Harness::new(limits());
    let (a, b, c, new) = (worker("a"), worker("b"), worker("c"), worker("new"));
    let t = measure(&mut q, &a, 2, Instant::now());
    let t = measure(&mut q, &b, 2, t);
    let t = measure(&mut q, &c, 2, t);
    split_of(&mut q, &[4 * GFLOP, 4 * GFLOP], None, t);
    let held = q.lease_next(&a, t).unwrap();
    q.lease_next(&c, t).unwrap();
    // `b` is as fast as the holder, which is on time (2 s for the part):
    // no copy now, but one may be worth it once the holder is late by more
    // than `b` needs (2.2 s).
    let early = t + secs(0.5);
    let b_asks = asker_unknown(&b);
    match q.lease_as(&b_asks, early) {
        Err(NoLease::NotYet(due)) => assert!((due.as_secs_f64() - 3.7).abs() < 1e-6, "{due:?}"),
        other => panic!("expected a wait, got {other:?}"),
    }
    assert!(
        q.lease_as(&b_asks, t + secs(4.1)).is_err(),
        "late, not by enough"
    );
    // A worker whose speed is not measured gets no copy at all.
    assert_eq!(
        q.lease_as(&asker_unknown(&new), early).unwrap_err(),
        NoLease::NonePending
    );
    // Late by 2.3 s, the holder is expected to be late as long again; `b`
    // needs 2 s.
    let backup = q.lease_as(&b_asks, t + secs(4.3)).unwrap();
    assert_eq!(backup.id, held.id);
    assert_eq!(q.stats(t).backups, 1);
}

#[test]
fn the_equal_split_makes_no_backup() {
    let mut q = Harness::new(QueueLimits {
        by_speed: false,
        ..limits()
    });
    let (fast, slow) = (worker("fast"), worker("slow"));
    let t = measure(&mut q, &fast, 4, Instant::now());
    let t = measure(&mut q, &slow, 1, t);
    split_of(&mut q, &[4 * GFLOP], None, t);
    q.lease_next(&slow, t).unwrap();
    assert_eq!(
        q.lease_as(&asker_unknown(&fast), t + secs(30.0))
            .unwrap_err(),
        NoLease::NonePending
    );
    assert_eq!(q.stats(t).backups, 0);
}

#[test]
fn an_unmeasured_straggler_is_copied_once_it_has_held_its_part_longer_than_the_copy_needs() {
    let mut q = Harness::new(limits());
    let (fast, slow) = (worker("fast"), worker("slow"));
    let t = measure(&mut q, &fast, 4, Instant::now());
    split_of(&mut q, &[4 * GFLOP], None, t);
    let held = q.lease_next(&slow, t).unwrap();
    // The copy needs 1 s; the holder is expected to need as long again as
    // it has held the part.
    let fast_asks = asker_unknown(&fast);
    match q.lease_as(&fast_asks, t + secs(0.5)) {
        Err(NoLease::NotYet(due)) => assert!((due.as_secs_f64() - 0.6).abs() < 1e-6, "{due:?}"),
        other => panic!("expected a wait, got {other:?}"),
    }
    let backup = q.lease_as(&fast_asks, t + secs(1.2)).unwrap();
    assert_eq!(backup.id, held.id);
    let done = t + secs(2.2);
    q.complete(backup.id, text("[[1]]"), Some(&fast), done)
        .unwrap();
    // The straggler held 4 GFLOP for 2.2 s without finishing: taken as
    // half done, 4 / 4.4 GFLOP/s.
    assert_eq!(speed_of(&q, &slow, done), Some(909_090_909));
    assert_eq!(speed_of(&q, &fast, done), Some(4 * GFLOP));
}

#[test]
fn a_holder_whose_answer_is_arriving_gets_no_copy_until_it_stops() {
    let mut q = Harness::new(limits());
    let (fast, slow) = (worker("fast"), worker("slow"));
    let t = measure(&mut q, &fast, 4, Instant::now());
    split_of(&mut q, &[4 * GFLOP], None, t);
    let held = q.lease_next(&slow, t).unwrap();
    // The holder's answer starts arriving: past the time a copy was due
    // (1.1 s, as above), none is handed out, and no wait is told.
    let holder = Poster::tokenless(ClientKey::Unknown, Some(slow.clone()));
    let number = q.queue.mark_answering(held.id, &holder).unwrap();
    let fast_asks = asker_unknown(&fast);
    assert_eq!(
        q.lease_as(&fast_asks, t + secs(1.5)).unwrap_err(),
        NoLease::NonePending
    );
    // Only the holder's lease is marked: a stranger's answer marks nothing,
    // and neither does an answer to a task that is not a part.
    let stranger = Poster::tokenless(ClientKey::Unknown, Some(worker("other")));
    assert_eq!(q.queue.mark_answering(held.id, &stranger), None);
    let single = q.submit("\"one\"", t).unwrap();
    assert_eq!(q.lease_next(&slow, t).unwrap().id, single);
    assert_eq!(q.queue.mark_answering(single, &holder), None);
    // The answer did not arrive whole: the copy is handed out after all.
    q.queue.unmark_answering(held.id, number);
    let backup = q.lease_as(&fast_asks, t + secs(1.6)).unwrap();
    assert_eq!(backup.id, held.id);
    assert_eq!(q.stats(t).backups, 1);
}

#[test]
fn a_backed_up_part_keeps_its_check_for_the_losing_copy() {
    let mut q = Harness::new(limits());
    let (fast, slow) = (worker("fast"), worker("slow"));
    let t = measure(&mut q, &fast, 4, Instant::now());
    let task = NewTask::Split {
        data: SharedText::from("\"all\""),
        parts: vec![NewPart {
            data: SharedText::from("\"p\""),
            check: Some(TaskCheck::of_texts("[[1,2]]", "[[3],[4]]", 9)),
            work: 4 * GFLOP,
        }],
        pace: None,
    };
    let split = q.submit_task(task, t).unwrap();
    let held = q.lease_next(&slow, t).unwrap();
    let backup = q.lease_next(&fast, t + secs(1.5)).unwrap();
    assert_eq!(backup.id, held.id);
    q.complete(backup.id, text("[[11]]"), Some(&fast), t + secs(2.5))
        .unwrap();
    assert_eq!(status(&q, split), TaskStatus::Completed);
    // Kept after the split task was assembled, with its check: a wrong late
    // copy is rejected, not taken.
    assert!(q.check_for(held.id).unwrap().is_some());
}

#[test]
fn a_backup_counts_an_attempt_only_when_it_ends_unanswered() {
    let mut q = Harness::new(limits());
    let (fast, slow, other) = (worker("fast"), worker("slow"), worker("other"));
    let t = measure(&mut q, &fast, 4, Instant::now());
    let t = measure(&mut q, &slow, 1, t);
    let t = measure(&mut q, &other, 4, t);
    split_of(&mut q, &[4 * GFLOP], None, t);
    let held = q.lease_next(&slow, t).unwrap();
    let backup = q.lease_next(&fast, t + secs(1.0)).unwrap();
    assert_eq!((held.attempts, backup.attempts), (1, 1));
    // Given back: no attempt.
    q.release(backup.id, &fast, t + secs(1.5)).unwrap();
    assert_eq!(q.get(held.id).unwrap().attempts, 1);
    assert_eq!(status(&q, held.id), TaskStatus::Processing);
    // At most one backup per part, even after the first one ended.
    assert!(q.lease_next(&other, t + secs(3.0)).is_none());
}
