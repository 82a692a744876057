//! Replicated tasks: distinct addresses, votes and the quorum.

use super::*;
use crate::check::{Quorum, TaskCheck};

/// A task nothing can check, handed to `replicas` workers, `agree` of
/// which must agree.
fn replicated(replicas: u32, agree: u32) -> NewTask {
    NewTask::One {
        data: SharedText::from("\"job\""),
        check: Quorum::new(replicas, agree).map(TaskCheck::Quorum),
    }
}

fn answer(q: &mut Harness, id: TaskId, who: &Asker, result: &str, now: Instant) -> Outcome {
    q.complete_as(id, text(result), &poster_of(who), now)
        .unwrap()
}

#[test]
fn a_replicated_task_goes_to_distinct_addresses_at_once() {
    let mut q = Harness::new(limits());
    let t0 = Instant::now();
    let id = q.submit_task(replicated(3, 2), t0).unwrap();
    let later = q.submit(data("later"), t0).unwrap();
    assert_eq!(q.lease_as(&asker("a", 1), t0).unwrap().id, id);
    // The same address gets the next task, not a second replica.
    assert_eq!(q.lease_as(&asker("a2", 1), t0).unwrap().id, later);
    assert_eq!(q.lease_as(&asker("b", 2), t0).unwrap().id, id);
    let third = q.lease_as(&asker("c", 3), t0).unwrap();
    assert_eq!((third.id, third.attempts, third.number), (id, 3, 3));
    // Three replicas out: no fourth.
    assert_eq!(q.lease_as(&asker("d", 4), t0), Err(NoLease::NonePending));
    assert_eq!(status(&q, id), TaskStatus::Processing);
}

#[test]
fn agreeing_answers_complete_it_against_a_liar() {
    let mut q = Harness::new(limits());
    let t0 = Instant::now();
    let id = q.submit_task(replicated(3, 2), t0).unwrap();
    let (liar, a, b) = (asker("liar", 1), asker("a", 2), asker("b", 3));
    for who in [&liar, &a, &b] {
        q.lease_as(who, t0).unwrap();
    }
    assert!(matches!(
        answer(&mut q, id, &liar, "lie", t0),
        Outcome::Kept(_)
    ));
    assert!(matches!(
        answer(&mut q, id, &a, "truth", t0),
        Outcome::Kept(_)
    ));
    assert_eq!(status(&q, id), TaskStatus::Processing);
    assert!(matches!(
        answer(&mut q, id, &b, "truth", t0),
        Outcome::Applied(_)
    ));
    let view = q.get(id).unwrap();
    assert_eq!(view.status, TaskStatus::Completed);
    assert_eq!(view.result, Some(text("truth")));
    // The votes are dropped; the result is held once.
    assert_eq!(
        q.stats(t0).held_bytes,
        ("\"job\"".len() + "truth".len()) as u64
    );
}

#[test]
fn a_disagreement_leases_another_replica() {
    let mut q = Harness::new(limits());
    let t0 = Instant::now();
    let id = q.submit_task(replicated(2, 2), t0).unwrap();
    let (liar, a, b) = (asker("liar", 1), asker("a", 2), asker("b", 3));
    q.lease_as(&liar, t0).unwrap();
    q.lease_as(&a, t0).unwrap();
    assert_eq!(q.lease_as(&b, t0), Err(NoLease::NonePending));
    answer(&mut q, id, &liar, "lie", t0);
    answer(&mut q, id, &a, "truth", t0);
    // Two answers, no two alike: a third worker is wanted.
    assert_eq!(status(&q, id), TaskStatus::Pending);
    assert_eq!(q.lease_as(&b, t0).unwrap().id, id);
    // The voters get no second replica of it.
    assert_eq!(q.lease_as(&liar, t0), Err(NoLease::NonePending));
    assert!(matches!(
        answer(&mut q, id, &b, "truth", t0),
        Outcome::Applied(_)
    ));
    assert_eq!(q.get(id).unwrap().result, Some(text("truth")));
}

#[test]
fn one_vote_per_address_and_strangers_do_not_vote() {
    let mut q = Harness::new(limits());
    let t0 = Instant::now();
    let id = q.submit_task(replicated(3, 2), t0).unwrap();
    let a = asker("a", 1);
    q.lease_as(&a, t0).unwrap();
    answer(&mut q, id, &a, "lie", t0);
    // The same address again, under another id: no second vote.
    let again = Poster::tokenless(client(1), Some(worker("a2")));
    let outcome = q.complete_as(id, text("lie"), &again, t0).unwrap();
    assert!(matches!(outcome, Outcome::Ignored(_)));
    let stranger = Poster::tokenless(client(7), None);
    let outcome = q.complete_as(id, text("lie"), &stranger, t0).unwrap();
    assert!(matches!(outcome, Outcome::Ignored(_)));
    assert_eq!(status(&q, id), TaskStatus::Pending);
}

#[test]
fn agreeing_error_reports_fail_it() {
    let mut q = Harness::new(limits());
    let t0 = Instant::now();
    let id = q.submit_task(replicated(2, 2), t0).unwrap();
    let (a, b) = (asker("a", 1), asker("b", 2));
    q.lease_as(&a, t0).unwrap();
    q.lease_as(&b, t0).unwrap();
    let report = |who: &Asker| Poster::tokenless(who.client, Some(who.worker.clone()));
    let first = q.fail_as(id, data("bad input"), &report(&a), t0).unwrap();
    assert!(matches!(first, Outcome::Kept(_)));
    q.fail_as(id, data("bad input"), &report(&b), t0).unwrap();
    let view = q.get(id).unwrap();
    assert_eq!(view.status, TaskStatus::Failed);
    assert_eq!(view.last_error.as_deref(), Some("bad input"));
}

#[test]
fn a_replicated_task_fails_when_its_leases_keep_expiring() {
    let mut q = Harness::new(QueueLimits {
        max_attempts: 1,
        ..limits()
    });
    let t0 = Instant::now();
    let id = q.submit_task(replicated(2, 2), t0).unwrap();
    q.lease_as(&asker("a", 1), t0).unwrap();
    q.lease_as(&asker("b", 2), t0).unwrap();
    // max_attempts times replicas hand-outs, all expired.
    q.requeue_expired(t0 + LEASE);
    let view = q.get(id).unwrap();
    assert_eq!(view.status, TaskStatus::Failed);
    assert!(
        view.last_error.unwrap().contains("No 2 identical answers"),
        "{:?}",
        q.get(id).unwrap().last_error
    );
}

#[test]
fn a_replica_lease_that_expires_is_handed_out_again() {
    let mut q = Harness::new(limits());
    let t0 = Instant::now();
    let id = q.submit_task(replicated(2, 2), t0).unwrap();
    let (a, slow) = (asker("a", 1), asker("slow", 2));
    q.lease_as(&a, t0).unwrap();
    q.lease_as(&slow, t0 + LEASE / 2).unwrap();
    answer(&mut q, id, &a, "r", t0);
    // The first lease's deadline passes after it was answered: nothing.
    assert!(q.requeue_expired(t0 + LEASE).requeued.is_empty());
    // The slow replica's lease expires: another address takes its place.
    let report = q.requeue_expired(t0 + LEASE + LEASE / 2);
    assert_eq!(report.requeued, vec![id]);
    let b = asker("b", 3);
    assert_eq!(q.lease_as(&b, t0 + LEASE * 2).unwrap().id, id);
    assert!(matches!(
        answer(&mut q, id, &b, "r", t0 + LEASE * 2),
        Outcome::Applied(_)
    ));
}
