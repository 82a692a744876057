//! Tests of every transition, through a harness that also checks the change
//! record: after each test, folding every change it recorded must give the
//! tasks the queue holds.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::shared_text::SharedText;

/// What the harness reports of a requeue pass or a tick.
#[derive(Debug, Default)]
struct Report {
    requeued: Vec<TaskId>,
    failed: Vec<TaskId>,
    evicted: usize,
}

impl Report {
    fn of(changes: &Changes) -> Self {
        let mut report = Self::default();
        for change in changes {
            match change {
                Change::Requeued { id, .. } => report.requeued.push(*id),
                Change::Failed { id, .. } => report.failed.push(*id),
                Change::Evicted { .. } => report.evicted += 1,
                _ => {}
            }
        }
        report
    }
}

/// A queue with the calls of its tests, keeping every change it made.
struct Harness {
    queue: TaskQueue,
    log: Vec<Change>,
}

impl std::ops::Deref for Harness {
    type Target = TaskQueue;
    fn deref(&self) -> &TaskQueue {
        &self.queue
    }
}

impl Harness {
    fn new(limits: QueueLimits) -> Self {
        Self {
            queue: TaskQueue::new(limits, RejectPolicy::default()),
            log: Vec::new(),
        }
    }

    fn set_reject_policy(&mut self, policy: RejectPolicy) {
        self.queue.workers = Workers::new(policy);
    }

    /// Runs `op` with a fresh change record, which it then keeps.
    fn record<T>(&mut self, op: impl FnOnce(&mut TaskQueue, &mut Changes) -> T) -> (T, Changes) {
        let mut changes = Changes::none();
        let out = op(&mut self.queue, &mut changes);
        self.log.extend(changes.iter().cloned());
        (out, changes)
    }

    fn submit(&mut self, data: impl Into<SharedText>, now: Instant) -> Result<TaskId, QueueError> {
        let task = NewTask::unchecked(data);
        self.record(|q, c| q.submit(task, now, c)).0
    }

    fn submit_split(
        &mut self,
        data: impl Into<SharedText>,
        parts: Vec<NewPart>,
        now: Instant,
    ) -> Result<TaskId, QueueError> {
        let task = NewTask::Split {
            data: data.into(),
            parts,
            pace: None,
        };
        self.record(|q, c| q.submit(task, now, c)).0
    }

    fn lease_next(&mut self, worker: &WorkerId, now: Instant) -> Option<Lease> {
        let asker = Asker {
            client: ClientKey::Unknown,
            worker: worker.clone(),
            tokened: false,
        };
        self.lease_as(&asker, now).ok()
    }

    fn lease_as(&mut self, asker: &Asker, now: Instant) -> Result<Lease, NoLease> {
        self.record(|q, c| q.lease_next(asker, now, c)).0
    }

    fn complete(
        &mut self,
        id: TaskId,
        result: SharedText,
        worker: Option<&WorkerId>,
        now: Instant,
    ) -> Result<Outcome, QueueError> {
        self.complete_as(id, result, &anonymous(worker), now)
    }

    fn complete_as(
        &mut self,
        id: TaskId,
        result: SharedText,
        poster: &Poster,
        now: Instant,
    ) -> Result<Outcome, QueueError> {
        self.record(|q, c| q.complete(id, result, poster, now, c)).0
    }

    fn fail(
        &mut self,
        id: TaskId,
        error: Arc<str>,
        worker: Option<&WorkerId>,
        now: Instant,
    ) -> Result<Outcome, QueueError> {
        self.fail_as(id, error, &anonymous(worker), now)
    }

    fn fail_as(
        &mut self,
        id: TaskId,
        error: Arc<str>,
        poster: &Poster,
        now: Instant,
    ) -> Result<Outcome, QueueError> {
        self.record(|q, c| q.fail(id, error, poster, now, c)).0
    }

    fn reject(
        &mut self,
        id: TaskId,
        worker: Option<&WorkerId>,
        reason: &str,
        now: Instant,
    ) -> Result<Rejection, QueueError> {
        self.reject_as(id, &anonymous(worker), reason, now)
    }

    fn reject_as(
        &mut self,
        id: TaskId,
        poster: &Poster,
        reason: &str,
        now: Instant,
    ) -> Result<Rejection, QueueError> {
        self.record(|q, c| q.reject(id, poster, reason, now, c)).0
    }

    fn release(&mut self, id: TaskId, worker: &WorkerId, now: Instant) -> Result<(), QueueError> {
        self.release_as(id, &anonymous(Some(worker)), now)
    }

    fn release_as(&mut self, id: TaskId, poster: &Poster, now: Instant) -> Result<(), QueueError> {
        self.record(|q, c| q.release(id, poster, now, c)).0
    }

    fn submit_task(&mut self, task: NewTask, now: Instant) -> Result<TaskId, QueueError> {
        self.record(|q, c| q.submit(task, now, c)).0
    }

    fn cancel(&mut self, id: TaskId, now: Instant) -> Result<TaskView, QueueError> {
        self.record(|q, c| q.cancel(id, now, c)).0
    }

    fn requeue_expired(&mut self, now: Instant) -> Report {
        Report::of(&self.record(|q, c| q.requeue_expired(now, c)).1)
    }

    fn tick(&mut self, now: Instant) -> Report {
        Report::of(&self.record(|q, c| q.tick(now, c)).1)
    }

    /// Folds the change record into a table of tasks and checks it against
    /// the queue.
    fn check_record(&self) {
        #[derive(Debug)]
        struct Folded {
            status: TaskStatus,
            attempts: u32,
            result: Option<SharedText>,
            error: Option<Arc<str>>,
            leased_by: Option<WorkerId>,
            split: Option<TaskId>,
            parts: Option<PartsProgress>,
            /// Live leases: number and holder.
            leases: Vec<(u64, WorkerId)>,
        }
        impl Folded {
            /// Lease `number` ended without settling the task.
            fn end_lease(&mut self, number: Option<u64>) {
                self.leases.retain(|(n, _)| Some(*n) != number);
                self.leased_by = self.leases.last().map(|(_, w)| w.clone());
                self.status = if self.leases.is_empty() {
                    TaskStatus::Pending
                } else {
                    TaskStatus::Processing
                };
            }
        }
        let fresh = |status, split, parts| Folded {
            status,
            attempts: 0,
            result: None,
            error: None,
            leased_by: None,
            split,
            parts,
            leases: Vec::new(),
        };
        let mut tasks: HashMap<TaskId, Folded> = HashMap::new();
        for change in &self.log {
            let id = change.id();
            match change {
                Change::Submitted { .. } => {
                    tasks.insert(id, fresh(TaskStatus::Pending, None, None));
                }
                Change::SplitSubmitted { parts, .. } => {
                    let progress = PartsProgress {
                        done: 0,
                        total: *parts,
                    };
                    tasks.insert(id, fresh(TaskStatus::Processing, None, Some(progress)));
                }
                Change::PartSubmitted { part, .. } => {
                    tasks.insert(id, fresh(TaskStatus::Pending, Some(part.split), None));
                }
                Change::Leased {
                    worker,
                    attempts,
                    lease,
                    ..
                } => {
                    let task = tasks.get_mut(&id).unwrap();
                    task.status = TaskStatus::Processing;
                    task.leased_by = Some(worker.clone());
                    task.attempts = *attempts;
                    task.leases.push((*lease, worker.clone()));
                }
                Change::Requeued {
                    attempts, lease, ..
                } => {
                    let task = tasks.get_mut(&id).unwrap();
                    task.end_lease(Some(*lease));
                    task.attempts = *attempts;
                }
                Change::Voted { lease, .. } => {
                    let task = tasks.get_mut(&id).unwrap();
                    if lease.is_some() {
                        task.end_lease(*lease);
                    }
                }
                Change::Kept { .. } => {}
                Change::Completed {
                    result,
                    worker,
                    part,
                    ..
                } => {
                    let task = tasks.get_mut(&id).unwrap();
                    task.status = TaskStatus::Completed;
                    task.result = Some(result.clone());
                    task.error = None;
                    task.leases.clear();
                    if worker.is_some() {
                        task.leased_by.clone_from(worker);
                    }
                    if let Some(part) = part
                        && let Some(parts) =
                            tasks.get_mut(&part.split).and_then(|s| s.parts.as_mut())
                    {
                        parts.done += 1;
                    }
                }
                Change::Assembled { result, .. } => {
                    let task = tasks.get_mut(&id).unwrap();
                    task.status = TaskStatus::Completed;
                    task.result = Some(result.clone());
                    task.error = None;
                }
                Change::Failed { error, worker, .. } => {
                    let task = tasks.get_mut(&id).unwrap();
                    task.leases.clear();
                    task.status = TaskStatus::Failed;
                    task.error = Some(Arc::clone(error));
                    if worker.is_some() {
                        task.leased_by.clone_from(worker);
                    }
                }
                Change::Cancelled { .. } => {
                    let task = tasks.get_mut(&id).unwrap();
                    task.leases.clear();
                    task.status = TaskStatus::Failed;
                    task.error = Some(Arc::from(CANCELLED));
                }
                Change::Rejected { .. } => {}
                Change::Evicted { .. } => {
                    tasks.remove(&id).unwrap();
                }
            }
        }
        let now = Instant::now();
        assert_eq!(
            self.queue.stats(now).held_tasks,
            tasks.len() as u64,
            "tasks held"
        );
        for (id, folded) in &tasks {
            let view = self.queue.get(*id).unwrap();
            assert_eq!(view.status, folded.status, "task {id} status");
            assert_eq!(view.attempts, folded.attempts, "task {id} attempts");
            assert_eq!(view.result, folded.result, "task {id} result");
            assert_eq!(view.last_error, folded.error, "task {id} error");
            assert_eq!(view.leased_by, folded.leased_by, "task {id} holder");
            assert_eq!(view.split, folded.split, "task {id} split task");
            assert_eq!(view.parts, folded.parts, "task {id} parts");
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.check_record();
        }
    }
}

const LEASE: Duration = Duration::from_secs(60);
const KEEP: Duration = Duration::from_secs(3600);

fn limits() -> QueueLimits {
    QueueLimits {
        lease: LEASE,
        max_attempts: 3,
        max_tasks: 100,
        max_held_bytes: 1 << 20,
        keep_finished: KEEP,
        task_overhead_bytes: 0,
        by_speed: true,
    }
}

/// A poster from an unknown address with no token.
fn anonymous(worker: Option<&WorkerId>) -> Poster {
    Poster::tokenless(ClientKey::Unknown, worker.cloned())
}

/// The address key of `127.0.0.N`.
fn client(n: u8) -> ClientKey {
    ClientKey::V4([127, 0, 0, n])
}

/// Worker `name` at `127.0.0.N`, without a token.
fn asker(name: &str, n: u8) -> Asker {
    Asker {
        client: client(n),
        worker: WorkerId::from_param(Some(name)),
        tokened: false,
    }
}

/// `asker` posting without a token.
fn poster_of(asker: &Asker) -> Poster {
    Poster::tokenless(asker.client, Some(asker.worker.clone()))
}

fn data(text: &str) -> Arc<str> {
    Arc::from(text)
}

/// A result text.
fn text(text: &str) -> SharedText {
    text.into()
}

fn worker(name: &str) -> WorkerId {
    WorkerId::from_param(Some(name))
}

fn status(queue: &Harness, id: TaskId) -> TaskStatus {
    queue.get(id).unwrap().status
}

#[test]
fn ids_start_at_one_and_grow_by_one() {
    let mut queue = Harness::new(limits());
    let now = Instant::now();
    assert_eq!(queue.submit(data("1"), now).unwrap(), TaskId(1));
    assert_eq!(queue.submit(data("2"), now).unwrap(), TaskId(2));
    assert_eq!(queue.submit(data("3"), now).unwrap(), TaskId(3));
}

#[test]
fn submitted_task_is_pending_with_empty_result() {
    let mut queue = Harness::new(limits());
    let id = queue.submit(data("{}"), Instant::now()).unwrap();
    let view = queue.get(id).unwrap();
    assert_eq!(view.status, TaskStatus::Pending);
    assert_eq!(view.result, None);
    assert_eq!(view.attempts, 0);
}

#[test]
fn lease_hands_out_tasks_in_submission_order() {
    let mut queue = Harness::new(limits());
    let now = Instant::now();
    let a = queue.submit(data("\"a\""), now).unwrap();
    let b = queue.submit(data("\"b\""), now).unwrap();
    let first = queue.lease_next(&worker("w"), now).unwrap();
    let second = queue.lease_next(&worker("w"), now).unwrap();
    assert_eq!((first.id, first.data.to_text()), (a, "\"a\"".into()));
    assert_eq!((second.id, second.data.to_text()), (b, "\"b\"".into()));
    assert_eq!(queue.lease_next(&worker("w"), now), None);
}

#[test]
fn leased_task_is_processing_by_its_worker() {
    let mut queue = Harness::new(limits());
    let now = Instant::now();
    let id = queue.submit(data("1"), now).unwrap();
    let lease = queue.lease_next(&worker("w1"), now).unwrap();
    assert_eq!(lease.attempts, 1);
    let view = queue.get(id).unwrap();
    assert_eq!(view.status, TaskStatus::Processing);
    assert_eq!(view.leased_by, Some(worker("w1")));
    let stats = queue.stats(now);
    assert_eq!((stats.active_tasks, stats.queue_size), (1, 0));
}

#[test]
fn result_completes_a_processing_task() {
    let mut queue = Harness::new(limits());
    let now = Instant::now();
    let id = queue.submit(data("1"), now).unwrap();
    queue.lease_next(&worker("w"), now).unwrap();
    let outcome = queue.complete(id, text("[[1]]"), None, now).unwrap();
    assert!(matches!(outcome, Outcome::Applied(_)));
    let view = queue.get(id).unwrap();
    assert_eq!(view.status, TaskStatus::Completed);
    assert_eq!(
        view.result.as_ref().map(|r| r.to_string()).as_deref(),
        Some("[[1]]")
    );
    assert_eq!(view.leased_by, Some(worker("w")));
    let stats = queue.stats(now);
    assert_eq!((stats.completed_tasks, stats.active_tasks), (1, 0));
    assert_eq!(stats.workers[0].tasks_completed, 1);
}

#[test]
fn second_result_does_not_overwrite_first() {
    let mut queue = Harness::new(limits());
    let now = Instant::now();
    let id = queue.submit(data("1"), now).unwrap();
    queue.lease_next(&worker("w"), now).unwrap();
    queue.complete(id, text("first"), None, now).unwrap();
    let outcome = queue.complete(id, text("second"), None, now).unwrap();
    assert!(matches!(outcome, Outcome::AlreadyCompleted(_)));
    assert_eq!(
        outcome
            .view()
            .result
            .as_ref()
            .map(|r| r.to_string())
            .as_deref(),
        Some("first")
    );
    assert_eq!(
        queue
            .get(id)
            .unwrap()
            .result
            .as_ref()
            .map(|r| r.to_string())
            .as_deref(),
        Some("first")
    );
    assert_eq!(queue.stats(now).completed_tasks, 1);
}

#[test]
fn expired_lease_is_requeued_at_the_front() {
    let mut queue = Harness::new(limits());
    let t0 = Instant::now();
    let a = queue.submit(data("1"), t0).unwrap();
    let b = queue.submit(data("2"), t0).unwrap();
    queue.lease_next(&worker("slow"), t0).unwrap();
    let report = queue.requeue_expired(t0 + LEASE - Duration::from_millis(1));
    assert!(report.requeued.is_empty());
    assert_eq!(status(&queue, a), TaskStatus::Processing);

    let report = queue.requeue_expired(t0 + LEASE);
    assert_eq!(report.requeued, vec![a]);
    assert_eq!(status(&queue, a), TaskStatus::Pending);
    let next = queue.lease_next(&worker("fast"), t0 + LEASE).unwrap();
    assert_eq!(next.id, a, "a requeued task goes before {b}");
    assert_eq!(next.attempts, 2);
    let stats = queue.stats(t0 + LEASE / 2);
    assert_eq!(stats.requeued_tasks, 1);
    let slow = stats
        .workers
        .iter()
        .find(|w| w.id == worker("slow"))
        .unwrap();
    assert_eq!(slow.tasks_failed, 1);
}

#[test]
fn task_fails_after_max_attempts() {
    let mut queue = Harness::new(limits());
    let mut now = Instant::now();
    let id = queue.submit(data("1"), now).unwrap();
    for attempt in 1..=3 {
        let lease = queue.lease_next(&worker("w"), now).unwrap();
        assert_eq!(lease.attempts, attempt);
        now += LEASE;
        queue.requeue_expired(now);
    }
    let view = queue.get(id).unwrap();
    assert_eq!(view.status, TaskStatus::Failed);
    assert!(view.last_error.unwrap().contains("3 attempts"));
    assert_eq!(queue.lease_next(&worker("w"), now), None);
    let stats = queue.stats(now);
    assert_eq!((stats.failed_tasks, stats.requeued_tasks), (1, 2));
    assert_eq!((stats.queue_size, stats.active_tasks), (0, 0));
}

#[test]
fn late_result_after_requeue_is_accepted() {
    let mut queue = Harness::new(limits());
    let t0 = Instant::now();
    let id = queue.submit(data("1"), t0).unwrap();
    queue.lease_next(&worker("slow"), t0).unwrap();
    queue.requeue_expired(t0 + LEASE);
    assert_eq!(status(&queue, id), TaskStatus::Pending);
    let outcome = queue
        .complete(id, text("late"), Some(&worker("slow")), t0 + LEASE)
        .unwrap();
    assert!(matches!(outcome, Outcome::Applied(_)));
    assert_eq!(status(&queue, id), TaskStatus::Completed);
    // The stale queue entry is skipped, nothing is handed out twice.
    assert_eq!(queue.lease_next(&worker("w"), t0 + LEASE), None);
    let stats = queue.stats(t0 + LEASE);
    assert_eq!(
        (stats.queue_size, stats.active_tasks, stats.completed_tasks),
        (0, 0, 1)
    );
}

#[test]
fn late_result_while_another_worker_holds_the_task_is_accepted() {
    let mut queue = Harness::new(limits());
    let t0 = Instant::now();
    let id = queue.submit(data("1"), t0).unwrap();
    queue.lease_next(&worker("slow"), t0).unwrap();
    queue.requeue_expired(t0 + LEASE);
    queue.lease_next(&worker("fast"), t0 + LEASE).unwrap();
    queue.complete(id, text("late"), None, t0 + LEASE).unwrap();
    assert_eq!(status(&queue, id), TaskStatus::Completed);
    // The second worker's lease entry is stale and does nothing.
    let report = queue.requeue_expired(t0 + LEASE * 3);
    assert!(report.requeued.is_empty() && report.failed.is_empty());
    assert_eq!(queue.stats(t0).active_tasks, 0);
}

#[test]
fn late_result_completes_a_task_failed_by_expiry() {
    let mut queue = Harness::new(QueueLimits {
        max_attempts: 1,
        ..limits()
    });
    let t0 = Instant::now();
    let id = queue.submit(data("1"), t0).unwrap();
    queue.lease_next(&worker("w"), t0).unwrap();
    queue.requeue_expired(t0 + LEASE);
    assert_eq!(status(&queue, id), TaskStatus::Failed);
    queue.complete(id, text("ok"), None, t0 + LEASE).unwrap();
    let view = queue.get(id).unwrap();
    assert_eq!(view.status, TaskStatus::Completed);
    assert_eq!(view.last_error, None);
    let stats = queue.stats(t0);
    assert_eq!((stats.failed_tasks, stats.completed_tasks), (0, 1));
}

#[test]
fn error_result_fails_the_task() {
    let mut queue = Harness::new(limits());
    let now = Instant::now();
    let id = queue.submit(data("1"), now).unwrap();
    queue.lease_next(&worker("w"), now).unwrap();
    let outcome = queue.fail(id, data("ragged matrix"), None, now).unwrap();
    assert!(matches!(outcome, Outcome::Applied(_)));
    let view = queue.get(id).unwrap();
    assert_eq!(view.status, TaskStatus::Failed);
    assert_eq!(view.last_error.as_deref(), Some("ragged matrix"));
    let stats = queue.stats(now);
    assert_eq!((stats.failed_tasks, stats.active_tasks), (1, 0));
    assert_eq!(stats.workers[0].tasks_failed, 1);
    // A failed task's expired lease entry does nothing.
    assert!(queue.requeue_expired(now + LEASE).requeued.is_empty());
}

#[test]
fn error_result_does_not_undo_a_completed_task() {
    let mut queue = Harness::new(limits());
    let now = Instant::now();
    let id = queue.submit(data("1"), now).unwrap();
    queue.lease_next(&worker("w"), now).unwrap();
    queue.complete(id, text("ok"), None, now).unwrap();
    let outcome = queue.fail(id, data("boom"), None, now).unwrap();
    assert!(matches!(outcome, Outcome::AlreadyCompleted(_)));
    assert_eq!(status(&queue, id), TaskStatus::Completed);
}

#[test]
fn second_error_keeps_the_first() {
    let mut queue = Harness::new(limits());
    let now = Instant::now();
    let id = queue.submit(data("1"), now).unwrap();
    queue.lease_next(&worker("w"), now).unwrap();
    queue.fail(id, data("first"), None, now).unwrap();
    let outcome = queue.fail(id, data("second"), None, now).unwrap();
    assert!(matches!(outcome, Outcome::AlreadyFailed(_)));
    assert_eq!(queue.get(id).unwrap().last_error.as_deref(), Some("first"));
    assert_eq!(queue.stats(now).failed_tasks, 1);
}

#[test]
fn a_strangers_answer_for_a_task_nothing_checks_is_ignored() {
    let mut queue = Harness::new(limits());
    let now = Instant::now();
    let id = queue.submit(data("1"), now).unwrap();
    // Nobody ever leased it: the answer proves nothing and is ignored.
    let outcome = queue.complete(id, text("r"), None, now).unwrap();
    assert!(matches!(outcome, Outcome::Ignored(_)));
    let error = queue.fail(id, data("e"), None, now).unwrap();
    assert!(matches!(error, Outcome::Ignored(_)));
    assert_eq!(status(&queue, id), TaskStatus::Pending);
    // Leased to a worker at one address, a stranger at another (even one
    // giving the holder's worker id) is ignored; the holder is taken.
    let holder = asker("w", 1);
    queue.lease_as(&holder, now).unwrap();
    let stranger = Poster::tokenless(client(2), Some(worker("w")));
    let ignored = queue.complete_as(id, text("lie"), &stranger, now).unwrap();
    assert!(matches!(ignored, Outcome::Ignored(_)));
    assert_eq!(
        queue.release_as(id, &stranger, now),
        Err(QueueError::NotLeasedBy(id))
    );
    let view = queue.get(id).unwrap();
    assert_eq!((view.status, view.attempts), (TaskStatus::Processing, 1));
    let taken = queue
        .complete_as(id, text("r"), &poster_of(&holder), now)
        .unwrap();
    assert!(matches!(taken, Outcome::Applied(_)));
    assert_eq!(queue.get(id).unwrap().result, Some(text("r")));
    assert_eq!(queue.stats(now).queue_size, 0);
}

#[test]
fn released_task_goes_to_the_front_without_counting_an_attempt() {
    let mut queue = Harness::new(limits());
    let now = Instant::now();
    let a = queue.submit(data("1"), now).unwrap();
    queue.submit(data("2"), now).unwrap();
    queue.lease_next(&worker("tab"), now).unwrap();
    queue.release(a, &worker("tab"), now).unwrap();
    let view = queue.get(a).unwrap();
    assert_eq!((view.status, view.attempts), (TaskStatus::Pending, 0));
    let lease = queue.lease_next(&worker("other"), now).unwrap();
    assert_eq!((lease.id, lease.attempts), (a, 1));
    // The released lease's deadline does not requeue the new lease.
    assert!(queue.requeue_expired(now + LEASE / 2).requeued.is_empty());
    assert_eq!(status(&queue, a), TaskStatus::Processing);
}

#[test]
fn a_worker_that_released_a_task_gets_none_for_the_release_pause() {
    let mut queue = Harness::new(limits());
    let now = Instant::now();
    let id = queue.submit(data("1"), now).unwrap();
    queue.lease_next(&worker("tab"), now).unwrap();
    queue.release(id, &worker("tab"), now).unwrap();
    assert_eq!(
        queue.release_pause_left(&worker("tab"), now),
        Some(RELEASE_PAUSE)
    );
    // Its own (possibly abandoned) poll does not take the task back.
    assert_eq!(queue.lease_next(&worker("tab"), now), None);
    assert_eq!(status(&queue, id), TaskStatus::Pending);
    assert_eq!(queue.release_pause_left(&worker("other"), now), None);
    // After the pause it is served again.
    let later = now + RELEASE_PAUSE;
    assert_eq!(queue.release_pause_left(&worker("tab"), later), None);
    assert_eq!(queue.lease_next(&worker("tab"), later).unwrap().id, id);
}

#[test]
fn release_by_another_worker_is_refused() {
    let mut queue = Harness::new(limits());
    let now = Instant::now();
    let id = queue.submit(data("1"), now).unwrap();
    assert_eq!(
        queue.release(id, &worker("w"), now),
        Err(QueueError::NotLeasedBy(id))
    );
    queue.lease_next(&worker("owner"), now).unwrap();
    assert_eq!(
        queue.release(id, &worker("thief"), now),
        Err(QueueError::NotLeasedBy(id))
    );
    assert_eq!(status(&queue, id), TaskStatus::Processing);
    assert_eq!(
        queue.release(TaskId(99), &worker("w"), now),
        Err(QueueError::NotFound)
    );
}

#[test]
fn unknown_ids_are_not_found() {
    let mut queue = Harness::new(limits());
    let now = Instant::now();
    queue.submit(data("1"), now).unwrap();
    assert_eq!(queue.get(TaskId(0)), Err(QueueError::NotFound));
    assert_eq!(queue.get(TaskId(2)), Err(QueueError::NotFound));
    assert_eq!(
        queue.complete(TaskId(7), text("r"), None, now),
        Err(QueueError::NotFound)
    );
    assert_eq!(
        queue.fail(TaskId(7), data("e"), None, now),
        Err(QueueError::NotFound)
    );
}

#[test]
fn finished_task_is_evicted_after_keep_time() {
    let mut queue = Harness::new(limits());
    let t0 = Instant::now();
    let id = queue.submit(data("1"), t0).unwrap();
    let failed = queue.submit(data("2"), t0).unwrap();
    let open = queue.submit(data("3"), t0).unwrap();
    queue.lease_next(&worker("w"), t0).unwrap();
    queue.lease_next(&worker("w"), t0).unwrap();
    queue.complete(id, text("r"), None, t0).unwrap();
    queue.fail(failed, data("e"), None, t0).unwrap();
    assert_eq!(queue.tick(t0 + KEEP - Duration::from_millis(1)).evicted, 0);
    assert_eq!(queue.tick(t0 + KEEP).evicted, 2);
    assert_eq!(queue.get(id), Err(QueueError::Expired));
    assert_eq!(queue.get(failed), Err(QueueError::Expired));
    assert_eq!(status(&queue, open), TaskStatus::Pending);
    let stats = queue.stats(t0 + KEEP);
    assert_eq!((stats.held_tasks, stats.held_bytes), (1, 1));
    assert_eq!(stats.completed_tasks, 1, "counters survive eviction");
}

#[test]
fn completing_a_failed_task_restarts_its_keep_time() {
    let mut queue = Harness::new(limits());
    let t0 = Instant::now();
    let id = queue.submit(data("1"), t0).unwrap();
    queue.lease_next(&worker("w"), t0).unwrap();
    queue.fail(id, data("e"), None, t0).unwrap();
    // Its former holder's late result completes it.
    let late = queue.complete(id, text("r"), None, t0 + KEEP / 2).unwrap();
    assert!(matches!(late, Outcome::Applied(_)));
    assert_eq!(queue.tick(t0 + KEEP).evicted, 0);
    assert_eq!(status(&queue, id), TaskStatus::Completed);
    assert_eq!(queue.tick(t0 + KEEP + KEEP / 2).evicted, 1);
}

#[test]
fn full_queue_refuses_new_tasks() {
    let mut queue = Harness::new(QueueLimits {
        max_tasks: 2,
        ..limits()
    });
    let now = Instant::now();
    queue.submit(data("1"), now).unwrap();
    let done = queue.submit(data("2"), now).unwrap();
    assert_eq!(queue.submit(data("3"), now), Err(QueueError::Full(2)));
    queue.lease_next(&worker("w"), now).unwrap();
    queue.lease_next(&worker("w"), now).unwrap();
    queue.complete(done, text("r"), None, now).unwrap();
    assert_eq!(queue.submit(data("3"), now), Err(QueueError::Full(2)));
    // Once the finished task is due for eviction there is room again.
    assert_eq!(queue.submit(data("3"), now + KEEP).unwrap(), TaskId(3));
}

#[test]
fn byte_limit_refuses_new_tasks() {
    let mut queue = Harness::new(QueueLimits {
        max_held_bytes: 10,
        ..limits()
    });
    let now = Instant::now();
    queue.submit(data("12345678"), now).unwrap();
    assert_eq!(
        queue.submit(data("123"), now),
        Err(QueueError::FullBytes(8))
    );
    assert_eq!(queue.submit(data("12"), now).unwrap(), TaskId(2));
}

#[test]
fn stats_count_every_state() {
    let mut queue = Harness::new(limits());
    let now = Instant::now();
    for i in 0..5 {
        queue.submit(data(&i.to_string()), now).unwrap();
    }
    let a = queue.lease_next(&worker("w"), now).unwrap().id;
    let b = queue.lease_next(&worker("w"), now).unwrap().id;
    queue.lease_next(&worker("w"), now).unwrap();
    queue.complete(a, text("r"), None, now).unwrap();
    queue.fail(b, data("e"), None, now).unwrap();
    let stats = queue.stats(now);
    assert_eq!(stats.total_tasks, 5);
    assert_eq!(stats.completed_tasks, 1);
    assert_eq!(stats.failed_tasks, 1);
    assert_eq!(stats.active_tasks, 1);
    assert_eq!(stats.queue_size, 2);
}

#[test]
fn workers_not_seen_recently_are_forgotten() {
    let mut queue = Harness::new(limits());
    let t0 = Instant::now();
    queue.lease_next(&worker("old"), t0);
    queue.lease_next(&worker("new"), t0 + WORKER_SEEN_WINDOW / 2);
    let later = t0 + WORKER_SEEN_WINDOW;
    queue.tick(later);
    let names: Vec<_> = queue
        .stats(later)
        .workers
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(names, vec![worker("new")]);
}

#[test]
fn cancelled_task_fails_for_good_and_is_not_handed_out() {
    let mut queue = Harness::new(limits());
    let now = Instant::now();
    let pending = queue.submit(data("1"), now).unwrap();
    let leased = queue.submit(data("2"), now).unwrap();
    let kept = queue.submit(data("3"), now).unwrap();
    let holder = worker("w");
    assert_eq!(queue.lease_next(&holder, now).unwrap().id, pending);
    assert_eq!(queue.lease_next(&holder, now).unwrap().id, leased);
    queue.release(pending, &holder, now).unwrap();
    for id in [pending, leased] {
        let view = queue.cancel(id, now).unwrap();
        assert_eq!(view.status, TaskStatus::Failed);
        assert_eq!(view.last_error.as_deref(), Some(CANCELLED));
    }
    // The cancelled task is not handed out; the next one is.
    let later = now + RELEASE_PAUSE;
    assert_eq!(queue.lease_next(&holder, later).unwrap().id, kept);
    assert!(queue.lease_next(&holder, later).is_none());
    // A late result does not complete it, and its lease changes nothing.
    let late = queue.complete(leased, text("[[1]]"), Some(&holder), later);
    assert!(matches!(late, Ok(Outcome::AlreadyFailed(_))));
    assert_eq!(status(&queue, leased), TaskStatus::Failed);
    queue.complete(kept, text("[[3]]"), None, later).unwrap();
    assert!(queue.requeue_expired(now + LEASE * 2).requeued.is_empty());
    // Cancelling again changes nothing; a completed task cannot be.
    assert_eq!(
        queue.cancel(leased, later).unwrap().status,
        TaskStatus::Failed
    );
    assert_eq!(
        queue.cancel(kept, later),
        Err(QueueError::AlreadyCompleted(kept))
    );
    let stats = queue.stats(later);
    assert_eq!((stats.failed_tasks, stats.completed_tasks), (2, 1));
    assert_eq!((stats.queue_size, stats.active_tasks), (0, 0));
}

/// Split tasks, their parts, and rejected results.
mod split {
    use super::*;

    /// A result text.
    fn text(text: &str) -> SharedText {
        text.into()
    }

    const LEASE: Duration = Duration::from_secs(60);

    fn queue() -> Harness {
        Harness::new(QueueLimits {
            lease: LEASE,
            max_attempts: 5,
            max_tasks: 100,
            max_held_bytes: 1 << 20,
            keep_finished: Duration::from_secs(3600),
            task_overhead_bytes: 0,
            by_speed: true,
        })
    }

    fn worker(name: &str) -> WorkerId {
        WorkerId::from_param(Some(name))
    }

    fn parts(texts: &[&str]) -> Vec<NewPart> {
        texts
            .iter()
            .map(|t| NewPart {
                data: SharedText::from(*t),
                check: None,
                work: 0,
            })
            .collect()
    }

    #[test]
    fn parts_that_share_the_task_body_are_not_counted_again() {
        let body = r#"{"A":"[[1,2],[3,4],[5,6]]","B":"[[1,0],[0,1]]"}"#;
        let source = bytes::Bytes::from_static(body.as_bytes());
        let pair = crate::plan::MatrixPair::parse(body).unwrap();
        let specs = pair
            .part_rows(3)
            .into_iter()
            .map(|rows| NewPart {
                data: pair.part_data(&source, rows),
                check: None,
                work: 0,
            })
            .collect();
        let mut q = queue();
        let t0 = Instant::now();
        q.submit_split(SharedText::from_utf8_bytes(source.clone()), specs, t0)
            .unwrap();
        // The body once, and each part's 15 literal bytes (`{"A":"[`, `]"`,
        // `,"B":`, `}`).
        assert_eq!(q.stats(t0).held_bytes, (body.len() + 3 * 15) as u64);
    }

    #[test]
    fn split_task_completes_once_all_parts_are_assembled() {
        let mut q = queue();
        let t0 = Instant::now();
        let id = q
            .submit_split(Arc::from("all"), parts(&["p1", "p2"]), t0)
            .unwrap();
        let w = worker("w");
        let second = q.lease_next(&w, t0).unwrap();
        let third = q.lease_next(&w, t0).unwrap();
        // Out of order: the second part first.
        q.complete(third.id, text("[[3]]"), Some(&w), t0).unwrap();
        assert_eq!(q.get(id).unwrap().parts.unwrap().done, 1);
        assert_eq!(q.get(id).unwrap().status, TaskStatus::Processing);
        q.complete(second.id, text("[[1]]"), Some(&w), t0).unwrap();
        let view = q.get(id).unwrap();
        assert_eq!(view.status, TaskStatus::Completed);
        assert_eq!(
            view.result.as_ref().map(|r| r.to_string()).as_deref(),
            Some("[[1],[3]]")
        );
        let stats = q.stats(t0);
        assert_eq!((stats.completed_tasks, stats.active_tasks), (3, 0));
        // The parts are dropped; the split task holds the result.
        assert_eq!(stats.held_tasks, 1);
        assert_eq!(stats.held_bytes, ("all".len() + "[[1],[3]]".len()) as u64);
        assert_eq!(q.get(second.id), Err(QueueError::Expired));
        let late = q.complete(second.id, text("[[1]]"), Some(&w), t0);
        assert_eq!(late, Err(QueueError::Expired));
    }

    #[test]
    fn late_result_for_a_requeued_part_waits_for_the_holder_and_is_taken_once() {
        let mut q = queue();
        let t0 = Instant::now();
        let id = q
            .submit_split(Arc::from("all"), parts(&["p1", "p2"]), t0)
            .unwrap();
        let (slow, fast) = (worker("slow"), worker("fast"));
        let part = q.lease_next(&slow, t0).unwrap().id;
        let other = q.lease_next(&slow, t0).unwrap().id;
        let later = t0 + LEASE;
        q.requeue_expired(later);
        assert_eq!(q.lease_next(&fast, later).unwrap().id, other);
        assert_eq!(q.lease_next(&fast, later).unwrap().id, part);
        // The slow worker's late result is kept while the fast one holds
        // the part (nothing checks these parts).
        let first = q.complete(part, text("[[7]]"), Some(&slow), later).unwrap();
        assert!(matches!(first, Outcome::Kept(_)));
        assert_eq!(q.get(part).unwrap().status, TaskStatus::Processing);
        // The holder's result is the one taken, once.
        let second = q.complete(part, text("[[9]]"), Some(&fast), later).unwrap();
        assert!(matches!(second, Outcome::Applied(_)));
        let third = q.complete(part, text("[[7]]"), Some(&slow), later).unwrap();
        assert!(matches!(third, Outcome::AlreadyCompleted(_)));
        assert_eq!(q.get(id).unwrap().parts.unwrap().done, 1, "counted once");
        q.complete(other, text("[[8]]"), Some(&fast), later)
            .unwrap();
        assert_eq!(
            q.get(id).unwrap().result.map(|r| r.to_string()).as_deref(),
            Some("[[9],[8]]")
        );
        assert_eq!(
            q.stats(later).completed_tasks,
            3,
            "two parts, one split task"
        );
    }

    #[test]
    fn a_kept_late_answer_stands_when_the_holder_does_not_answer() {
        let mut q = queue();
        let t0 = Instant::now();
        let id = q.submit(Arc::from("a"), t0).unwrap();
        let (slow, fast) = (asker("slow", 1), asker("fast", 2));
        q.lease_as(&slow, t0).unwrap();
        let later = t0 + LEASE;
        q.requeue_expired(later);
        q.lease_as(&fast, later).unwrap();
        let kept = q
            .complete_as(id, text("late"), &poster_of(&slow), later)
            .unwrap();
        assert!(matches!(kept, Outcome::Kept(_)));
        assert_eq!(q.stats(later).held_bytes, ("a".len() + "late".len()) as u64);
        // A second late answer does not replace the first.
        let again = q
            .complete_as(id, text("other"), &poster_of(&slow), later)
            .unwrap();
        assert!(matches!(again, Outcome::Ignored(_)));
        // The fast worker's lease expires unanswered: the kept answer stands.
        q.requeue_expired(later + LEASE);
        let view = q.get(id).unwrap();
        assert_eq!(view.status, TaskStatus::Completed);
        assert_eq!(view.result, Some(text("late")));
        assert_eq!(view.leased_by, Some(worker("slow")));
        assert_eq!(q.stats(later).held_bytes, ("a".len() + "late".len()) as u64);
    }

    #[test]
    fn parts_that_are_not_matrices_fail_their_split_task() {
        let mut q = queue();
        let t0 = Instant::now();
        let id = q
            .submit_split(Arc::from("all"), parts(&["p1", "p2"]), t0)
            .unwrap();
        let w = worker("w");
        let first = q.lease_next(&w, t0).unwrap().id;
        let second = q.lease_next(&w, t0).unwrap().id;
        q.complete(first, text("[[1]]"), Some(&w), t0).unwrap();
        q.complete(second, text("7"), Some(&w), t0).unwrap();
        let view = q.get(id).unwrap();
        assert_eq!(view.status, TaskStatus::Failed);
        assert_eq!(
            view.last_error.as_deref(),
            Some("Could not assemble the parts: the result of part 1 is not a matrix text")
        );
    }

    #[test]
    fn cancelling_a_split_task_ends_its_open_parts() {
        let mut q = queue();
        let t0 = Instant::now();
        let id = q
            .submit_split(Arc::from("all"), parts(&["p1", "p2", "p3"]), t0)
            .unwrap();
        let w = worker("w");
        let first = q.lease_next(&w, t0).unwrap().id;
        let second = q.lease_next(&w, t0).unwrap().id;
        q.complete(first, text("[[1]]"), Some(&w), t0).unwrap();
        // Cancelling through a part cancels the split task.
        let view = q.cancel(second, t0).unwrap();
        assert_eq!((view.id, view.status), (id, TaskStatus::Failed));
        assert_eq!(q.get(first).unwrap().status, TaskStatus::Completed);
        for part in [second, TaskId(FIRST_PART_ID - 2)] {
            assert_eq!(q.get(part).unwrap().last_error.as_deref(), Some(CANCELLED));
        }
        assert!(q.lease_next(&w, t0).is_none(), "no part is handed out");
        let late = q.complete(second, text("[[2]]"), Some(&w), t0).unwrap();
        assert!(matches!(late, Outcome::AlreadyFailed(_)));
        assert_eq!(q.get(id).unwrap().parts.unwrap().done, 1);
        let stats = q.stats(t0);
        assert_eq!((stats.queue_size, stats.active_tasks), (0, 0));
    }

    #[test]
    fn assembling_rejects_what_is_not_a_matrix() {
        let assemble = |parts: &[&str]| {
            let parts: Vec<SharedText> = parts.iter().map(|&p| p.into()).collect();
            split_tasks::assemble(&parts).map(|text| text.to_string())
        };
        assert_eq!(assemble(&[]), Err(split_tasks::AssembleError::NoParts));
        assert_eq!(
            assemble(&["[[1]]", "7"]),
            Err(split_tasks::AssembleError::NotAMatrix { part: 1 })
        );
        for not_rows in ["[]", "[1,2]", "[[1]", ""] {
            assert_eq!(
                assemble(&[not_rows]),
                Err(split_tasks::AssembleError::NotAMatrix { part: 0 }),
                "{not_rows:?}"
            );
        }
        assert_eq!(
            assemble(&[" [[1, 2]] ", "[ [3,4],\n[5,6] ]"]),
            Ok("[[1, 2],[3,4],\n[5,6]]".to_owned())
        );
    }

    #[test]
    fn split_task_is_processing_and_its_parts_are_queued() {
        let mut q = queue();
        let t0 = Instant::now();
        let id = q
            .submit_split(Arc::from("all"), parts(&["p1", "p2", "p3"]), t0)
            .unwrap();
        assert_eq!(id, TaskId(1));
        let view = q.get(id).unwrap();
        assert_eq!(view.status, TaskStatus::Processing);
        assert_eq!(view.parts, Some(PartsProgress { done: 0, total: 3 }));
        let lease = q.lease_next(&worker("w"), t0).unwrap();
        let first_part = TaskId(FIRST_PART_ID);
        assert_eq!((lease.id, lease.data.to_text()), (first_part, "p1".into()));
        assert_eq!(q.get(first_part).unwrap().split, Some(id));
        let stats = q.stats(t0);
        assert_eq!(
            (stats.total_tasks, stats.active_tasks, stats.queue_size),
            (4, 2, 2)
        );
    }

    #[test]
    fn parts_do_not_use_up_client_task_ids() {
        let mut q = queue();
        let t0 = Instant::now();
        let split = q
            .submit_split(Arc::from("all"), parts(&["p1", "p2", "p3"]), t0)
            .unwrap();
        let next = q.submit(Arc::from("plain"), t0).unwrap();
        assert_eq!((split, next), (TaskId(1), TaskId(2)));
        let part_ids: Vec<u64> = (0..3)
            .map(|_| q.lease_next(&worker("w"), t0).unwrap().id.0)
            .collect();
        let top = FIRST_PART_ID;
        assert_eq!(part_ids, vec![top, top - 1, top - 2]);
        assert!(
            part_ids.iter().all(|&id| id <= i32::MAX as u64),
            "fits a 32-bit Dana int"
        );
        assert_eq!(
            q.stats(t0).total_tasks,
            5,
            "two client tasks and three parts"
        );
    }

    #[test]
    fn unknown_ids_between_client_and_part_ids_are_not_found() {
        let mut q = queue();
        let t0 = Instant::now();
        q.submit_split(Arc::from("all"), parts(&["p1"]), t0)
            .unwrap();
        assert_eq!(q.get(TaskId(2)), Err(QueueError::NotFound));
        assert_eq!(q.get(TaskId(1_000_000)), Err(QueueError::NotFound));
        assert_eq!(q.get(TaskId(FIRST_PART_ID - 1)), Err(QueueError::NotFound));
    }

    #[test]
    fn workers_cannot_complete_a_split_task_directly() {
        let mut q = queue();
        let t0 = Instant::now();
        let id = q
            .submit_split(Arc::from("all"), parts(&["p1"]), t0)
            .unwrap();
        assert_eq!(
            q.complete(id, text("[[1]]"), None, t0),
            Err(QueueError::SplitTask(id))
        );
    }

    #[test]
    fn a_failed_part_fails_its_split_task() {
        let mut q = queue();
        let t0 = Instant::now();
        let id = q
            .submit_split(Arc::from("all"), parts(&["p1", "p2"]), t0)
            .unwrap();
        let part = q.lease_next(&worker("w"), t0).unwrap().id;
        q.fail(part, Arc::from("ragged rows"), None, t0).unwrap();
        let view = q.get(id).unwrap();
        assert_eq!(view.status, TaskStatus::Failed);
        assert_eq!(
            view.last_error.as_deref(),
            Some("Part 1 (task 2147483647) failed: ragged rows")
        );
        // The other part ends with it: nobody computes it for nothing, and
        // everything is evicted (no bytes left held) after the keep time.
        let sibling = q.get(TaskId(2_147_483_646)).unwrap();
        assert_eq!(sibling.status, TaskStatus::Failed);
        assert_eq!(sibling.last_error.as_deref(), Some("Split task 1 failed"));
        assert!(q.lease_next(&worker("w2"), t0).is_none());
        q.tick(t0 + Duration::from_secs(3601));
        let stats = q.stats(t0 + Duration::from_secs(3601));
        assert_eq!((stats.held_tasks, stats.held_bytes), (0, 0));
    }

    #[test]
    fn rejected_result_requeues_the_task_at_the_front() {
        let mut q = queue();
        let t0 = Instant::now();
        let first = q.submit(Arc::from("a"), t0).unwrap();
        q.submit(Arc::from("b"), t0).unwrap();
        let liar = worker("liar");
        assert_eq!(q.lease_next(&liar, t0).unwrap().id, first);
        assert_eq!(
            q.reject(first, Some(&liar), "wrong", t0),
            Ok(Rejection::Requeued)
        );
        assert_eq!(q.get(first).unwrap().status, TaskStatus::Pending);
        assert_eq!(q.lease_next(&worker("honest"), t0).unwrap().id, first);
        let stats = q.stats(t0);
        assert_eq!(stats.rejected_results, 1);
        let line = stats.workers.iter().find(|w| w.id == liar).unwrap();
        assert_eq!(line.results_rejected, 1);
    }

    #[test]
    fn rejection_leaves_a_task_another_worker_holds() {
        let mut q = queue();
        let t0 = Instant::now();
        let id = q.submit(Arc::from("a"), t0).unwrap();
        q.lease_next(&worker("old"), t0).unwrap();
        q.requeue_expired(t0 + LEASE);
        q.lease_next(&worker("new"), t0 + LEASE).unwrap();
        assert_eq!(
            q.reject(id, Some(&worker("old")), "wrong", t0 + LEASE),
            Ok(Rejection::Unchanged(TaskStatus::Processing))
        );
        assert_eq!(q.get(id).unwrap().leased_by, Some(worker("new")));
    }

    #[test]
    fn rejected_results_never_fail_a_task() {
        // Seven fake workers, each under a fresh id, lease the task and post
        // a wrong product: each rejection gives its attempt back.
        let mut q = queue();
        let t0 = Instant::now();
        let id = q.submit(Arc::from("a"), t0).unwrap();
        q.set_reject_policy(RejectPolicy {
            limit: 100,
            ..RejectPolicy::default()
        });
        for fake in 0..7 {
            let liar = worker(&format!("fake-{fake}"));
            assert_eq!(q.lease_next(&liar, t0).unwrap().id, id);
            assert_eq!(
                q.reject(id, Some(&liar), "row 0 is wrong", t0),
                Ok(Rejection::Requeued)
            );
        }
        let view = q.get(id).unwrap();
        assert_eq!((view.status, view.attempts), (TaskStatus::Pending, 0));
        assert_eq!(q.stats(t0).failed_tasks, 0);
        assert_eq!(q.stats(t0).rejected_results, 7);
    }

    #[test]
    fn repeated_rejections_bench_a_worker_for_a_while() {
        let mut q = queue();
        let t0 = Instant::now();
        let bench = Duration::from_secs(300);
        q.set_reject_policy(RejectPolicy {
            limit: 2,
            bench_time: bench,
            ..RejectPolicy::default()
        });
        for _ in 0..3 {
            q.submit(Arc::from("a"), t0).unwrap();
        }
        let liar_at = asker("liar", 1);
        let liar = liar_at.worker.clone();
        let first = q.lease_as(&liar_at, t0).unwrap().id;
        q.reject_as(first, &poster_of(&liar_at), "wrong", t0)
            .unwrap();
        let second = q.lease_as(&liar_at, t0).unwrap().id;
        q.reject_as(second, &poster_of(&liar_at), "wrong", t0)
            .unwrap();
        assert!(q.is_benched(client(1), &liar, t0));
        assert_eq!(q.lease_as(&liar_at, t0), Err(NoLease::Benched));
        assert!(q.lease_as(&asker("honest", 2), t0).is_ok());
        let line = q
            .stats(t0)
            .workers
            .into_iter()
            .find(|w| w.id == liar)
            .unwrap();
        assert_eq!(line.benched_for, Some(bench));
        // Still benched after a tick past the seen window, then free again.
        q.tick(t0 + Duration::from_secs(120));
        assert!(q.is_benched(client(1), &liar, t0 + Duration::from_secs(120)));
        assert!(q.lease_as(&liar_at, t0 + bench).is_ok());
    }

    #[test]
    fn an_accepted_result_resets_the_rejection_count() {
        let mut q = queue();
        let t0 = Instant::now();
        q.set_reject_policy(RejectPolicy {
            limit: 2,
            bench_time: LEASE,
            ..RejectPolicy::default()
        });
        for _ in 0..4 {
            q.submit(Arc::from("a"), t0).unwrap();
        }
        let w = worker("w");
        let a = q.lease_next(&w, t0).unwrap().id;
        q.reject(a, Some(&w), "wrong", t0).unwrap();
        let b = q.lease_next(&w, t0).unwrap().id;
        q.complete(b, text("ok"), Some(&w), t0).unwrap();
        let c = q.lease_next(&w, t0).unwrap().id;
        q.reject(c, Some(&w), "wrong", t0).unwrap();
        assert!(!q.is_benched(ClientKey::Unknown, &w, t0));
    }
}

mod holders;
mod replicas;
mod room;
mod stragglers;
mod views;
