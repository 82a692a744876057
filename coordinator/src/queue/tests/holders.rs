//! Who holds a task: tokens, addresses, strangers, and the limits that key
//! on addresses.

use super::*;

/// A task with Freivalds' check of `[[1,2]]·[[3],[4]] = [[11]]`.
fn checked_task() -> NewTask {
    NewTask::One {
        data: SharedText::from("{}"),
        check: Some(TaskCheck::of_texts("[[1,2]]", "[[3],[4]]", 9)),
    }
}

fn tokened(name: &str, n: u8) -> Asker {
    Asker {
        tokened: true,
        ..asker(name, n)
    }
}

fn with_token(asker: &Asker, lease: u64) -> Poster {
    Poster {
        lease: Some(lease),
        ..poster_of(asker)
    }
}

#[test]
fn a_tokened_lease_is_proved_by_its_token_only() {
    let mut q = Harness::new(limits());
    let t0 = Instant::now();
    let id = q.submit(data("1"), t0).unwrap();
    let holder = tokened("w", 1);
    let lease = q.lease_as(&holder, t0).unwrap();
    assert_eq!(lease.number, 1);
    // Same address and worker id, but no token: not the holder.
    let outcome = q
        .complete_as(id, text("r"), &poster_of(&holder), t0)
        .unwrap();
    assert!(matches!(outcome, Outcome::Ignored(_)));
    assert_eq!(
        q.release_as(id, &poster_of(&holder), t0),
        Err(QueueError::NotLeasedBy(id))
    );
    // A token naming a lease never handed out proves nothing either.
    assert_eq!(
        q.release_as(id, &with_token(&holder, 2), t0),
        Err(QueueError::NotLeasedBy(id))
    );
    // The token works from any address.
    let moved = Poster {
        client: client(9),
        ..with_token(&holder, lease.number)
    };
    q.release_as(id, &moved, t0).unwrap();
    let view = q.get(id).unwrap();
    assert_eq!((view.status, view.attempts), (TaskStatus::Pending, 0));
}

#[test]
fn an_ended_leases_token_is_a_former_holders() {
    let mut q = Harness::new(limits());
    let t0 = Instant::now();
    let id = q.submit(data("1"), t0).unwrap();
    let (slow, fast) = (tokened("slow", 1), tokened("fast", 2));
    let first = q.lease_as(&slow, t0).unwrap().number;
    q.requeue_expired(t0 + LEASE);
    // Pending again: the former holder's late answer is the contract's
    // late result, and stands.
    let outcome = q
        .complete_as(id, text("late"), &with_token(&slow, first), t0 + LEASE)
        .unwrap();
    assert!(matches!(outcome, Outcome::Applied(_)));
    // Leased again to another worker, a late answer waits for the holder.
    let other = q.submit(data("2"), t0).unwrap();
    let old = q.lease_as(&slow, t0).unwrap().number;
    q.requeue_expired(t0 + LEASE * 2);
    let new = q.lease_as(&fast, t0 + LEASE * 2).unwrap().number;
    let kept = q
        .complete_as(other, text("late"), &with_token(&slow, old), t0 + LEASE * 2)
        .unwrap();
    assert!(matches!(kept, Outcome::Kept(_)));
    let taken = q
        .complete_as(
            other,
            text("fresh"),
            &with_token(&fast, new),
            t0 + LEASE * 2,
        )
        .unwrap();
    assert!(matches!(taken, Outcome::Applied(_)));
    assert_eq!(q.get(other).unwrap().result, Some(text("fresh")));
}

#[test]
fn a_verified_result_completes_whoever_sends_it() {
    let mut q = Harness::new(limits());
    let t0 = Instant::now();
    let id = q.submit_task(checked_task(), t0).unwrap();
    q.lease_as(&asker("holder", 1), t0).unwrap();
    // The use case verified it: right is right, from a stranger too.
    let stranger = Poster::tokenless(client(2), None);
    let outcome = q.complete_as(id, text("[[11]]"), &stranger, t0).unwrap();
    assert!(matches!(outcome, Outcome::Applied(_)));
    assert_eq!(status(&q, id), TaskStatus::Completed);
}

#[test]
fn a_strangers_rejected_result_costs_no_one_anything() {
    let mut q = Harness::new(limits());
    q.set_reject_policy(RejectPolicy {
        limit: 1,
        ..RejectPolicy::default()
    });
    let t0 = Instant::now();
    let id = q.submit_task(checked_task(), t0).unwrap();
    let holder = asker("honest", 1);
    q.lease_as(&holder, t0).unwrap();
    // A stranger posts a wrong result in the holder's name.
    let stranger = Poster::tokenless(client(2), Some(holder.worker.clone()));
    assert_eq!(
        q.reject_as(id, &stranger, "wrong", t0),
        Ok(Rejection::Unchanged(TaskStatus::Processing))
    );
    let view = q.get(id).unwrap();
    assert_eq!((view.status, view.attempts), (TaskStatus::Processing, 1));
    assert!(!q.is_benched(client(1), &holder.worker, t0));
    assert!(!q.is_benched(client(2), &holder.worker, t0));
    // The honest holder keeps working.
    q.submit(data("next"), t0).unwrap();
    assert!(q.lease_as(&holder, t0).is_ok());
    assert_eq!(q.stats(t0).rejected_results, 1);
}

#[test]
fn an_address_with_repeated_rejections_holds_back_its_unproven_workers() {
    let mut q = Harness::new(limits());
    let policy = RejectPolicy {
        limit: 3,
        bench_time: Duration::from_secs(300),
        ..RejectPolicy::default()
    };
    q.set_reject_policy(policy);
    let t0 = Instant::now();
    for _ in 0..8 {
        q.submit_task(checked_task(), t0).unwrap();
    }
    // An honest page behind the same address proves itself first.
    let honest = asker("honest", 1);
    let done = q.lease_as(&honest, t0).unwrap().id;
    q.complete_as(done, text("[[11]]"), &poster_of(&honest), t0)
        .unwrap();
    // A liar there gives itself a fresh id for every lease.
    for fake in 0..3 {
        let liar = asker(&format!("fake-{fake}"), 1);
        let id = q.lease_as(&liar, t0).unwrap().id;
        q.reject_as(id, &poster_of(&liar), "wrong", t0).unwrap();
    }
    // The address is on probation: its unproven ids hold one lease at a
    // time between them; the proven page works as before, and so does a
    // worker of another address.
    let minted = asker("fake-3", 1);
    let held = q.lease_as(&minted, t0).unwrap().id;
    assert_eq!(q.lease_as(&asker("fake-4", 1), t0), Err(NoLease::LeaseCap));
    assert!(q.lease_as(&honest, t0).is_ok());
    assert!(q.lease_as(&honest, t0).is_ok());
    assert!(q.lease_as(&asker("elsewhere", 2), t0).is_ok());
    // Its lie ends that lease (and is one more strike): the next unproven
    // id gets its turn.
    q.reject_as(held, &poster_of(&minted), "wrong", t0).unwrap();
    let next = asker("fake-5", 1);
    let held = q.lease_as(&next, t0).unwrap().id;
    assert_eq!(q.lease_as(&asker("fake-6", 1), t0), Err(NoLease::LeaseCap));
    q.release_as(held, &poster_of(&next), t0).unwrap();
    // One strike is forgiven per bench_time / limit: once fewer than the
    // limit are left, the address is off probation.
    let step = policy.bench_time / policy.limit;
    let off = t0 + step * 2;
    q.lease_as(&asker("fake-7", 1), off).unwrap();
    assert!(q.lease_as(&asker("fake-8", 1), off).is_ok());
}

#[test]
fn leases_per_address_are_capped() {
    let mut q = Harness::new(limits());
    q.set_reject_policy(RejectPolicy {
        max_leases_per_client: 2,
        ..RejectPolicy::default()
    });
    let t0 = Instant::now();
    for n in 0..4 {
        q.submit(data(&n.to_string()), t0).unwrap();
    }
    let first = q.lease_as(&asker("a", 1), t0).unwrap();
    q.lease_as(&asker("b", 1), t0).unwrap();
    assert_eq!(q.lease_as(&asker("c", 1), t0), Err(NoLease::LeaseCap));
    assert!(q.lease_as(&asker("d", 2), t0).is_ok(), "another address");
    assert_eq!(q.workers.leases_of(client(1)), 2);
    // An answered lease frees its place.
    q.complete_as(first.id, text("r"), &poster_of(&asker("a", 1)), t0)
        .unwrap();
    assert!(q.lease_as(&asker("c", 1), t0).is_ok());
    // So does an expired one.
    q.submit(data("4"), t0).unwrap();
    assert_eq!(q.lease_as(&asker("e", 1), t0), Err(NoLease::LeaseCap));
    assert!(q.lease_as(&asker("e", 1), t0 + LEASE).is_ok());
}

#[test]
fn minted_worker_ids_cannot_flood_the_worker_table() {
    let mut q = Harness::new(limits());
    let t0 = Instant::now();
    for n in 0..(workers::MAX_WORKERS_PER_CLIENT * 3) {
        q.lease_as(&asker(&format!("minted-{n}"), 1), t0)
            .unwrap_err();
    }
    assert_eq!(q.workers_seen(), workers::MAX_WORKERS_PER_CLIENT);
    // A worker of another address is still tracked (and can be benched).
    q.lease_as(&asker("honest", 2), t0).unwrap_err();
    assert_eq!(q.workers_seen(), workers::MAX_WORKERS_PER_CLIENT + 1);
    assert!(q.stats(t0).workers.iter().any(|w| w.id == worker("honest")));
}
