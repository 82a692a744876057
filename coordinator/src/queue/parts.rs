//! Split tasks, checked results and rejections: the part of the state
//! machine that issue "distributed multiplication, verified" adds.
//!
//! - A *split task* keeps the id the client got. It is `Processing` from
//!   the start, never handed out itself, and completes when every one of
//!   its *parts* (ordinary tasks that hold a row block of the product) is
//!   done and the caller has assembled their results
//!   ([`TaskQueue::take_ready`], then [`TaskQueue::finish_split`]); the
//!   assembling happens outside the queue's lock. A part that fails fails
//!   its split task.
//! - A task may carry a [`TaskCheck`]: every result for it is checked
//!   (outside the lock) before [`TaskQueue::complete`] is called; a result
//!   that fails goes to [`TaskQueue::reject`], which puts the task back at
//!   the front of the queue, counts the rejection for the worker and, after
//!   [`RejectPolicy::limit`] rejections in a row, gives that worker no task
//!   for [`RejectPolicy::bench_time`].
//!
//! Every operation here is O(1) apart from creating a split task (O(parts))
//! and handing out a ready one's results (O(parts)).

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kernel::verify::ProductCheck;

use super::{QueueError, ResultText, Task, TaskId, TaskQueue, TaskStatus, TaskView, WorkerId};
use crate::task_data::TaskData;

/// Default number of rejected results in a row after which a worker is
/// benched.
pub const DEFAULT_REJECT_LIMIT: u32 = 3;

/// Default time a benched worker gets no tasks: five minutes.
pub const DEFAULT_BENCH_TIME: Duration = Duration::from_secs(300);

/// What every result for a task is checked against: the prepared check of
/// the whole product and the rows of it this task covers.
#[derive(Debug, Clone)]
pub struct TaskCheck {
    /// The prepared Freivalds check of `A·B`, shared by all parts.
    pub check: Arc<ProductCheck>,
    /// The rows of the product this task computes.
    pub rows: Range<usize>,
}

/// One part of a task to split, as [`TaskQueue::submit_split`] takes it.
#[derive(Debug, Clone)]
pub struct PartSpec {
    /// The part's task data, handed to workers as is.
    pub data: TaskData,
    /// The check of the part's results.
    pub check: Option<TaskCheck>,
}

/// How far a split task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartsProgress {
    /// Parts with a result.
    pub done: usize,
    /// All parts.
    pub total: usize,
}

/// A split task whose parts are all done: its parts' results in row order,
/// to be assembled and passed to [`TaskQueue::finish_split`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyParent {
    /// The split task.
    pub id: TaskId,
    /// The parts' results, in row order.
    pub results: Vec<ResultText>,
}

/// When a worker is benched for posting wrong results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RejectPolicy {
    /// Rejected results in a row (no accepted result in between) that bench
    /// a worker.
    pub limit: u32,
    /// How long a benched worker gets no tasks.
    pub bench_time: Duration,
}

impl Default for RejectPolicy {
    fn default() -> Self {
        Self {
            limit: DEFAULT_REJECT_LIMIT,
            bench_time: DEFAULT_BENCH_TIME,
        }
    }
}

/// What [`TaskQueue::reject`] did with the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// It went back to the front of the queue for another worker.
    Requeued,
    /// It had used its last attempt and failed.
    Failed,
    /// It was not processing by the poster (completed, failed, requeued after
    /// its lease expired, or leased to someone else): it stays as it is.
    Unchanged(TaskStatus),
}

/// Where a part belongs.
#[derive(Debug, Clone, Copy)]
pub(super) struct PartOf {
    pub(super) parent: TaskId,
    pub(super) index: usize,
}

/// A split task's parts and their results.
#[derive(Debug)]
pub(super) struct SplitState {
    /// The parts' ids, in row order.
    parts: Vec<TaskId>,
    results: Vec<Option<ResultText>>,
    done: usize,
    /// The results were handed out to be assembled.
    handed_out: bool,
}

impl SplitState {
    pub(super) fn progress(&self) -> PartsProgress {
        PartsProgress {
            done: self.done,
            total: self.results.len(),
        }
    }
}

impl TaskQueue {
    /// Sets when workers are benched for wrong results.
    pub fn set_reject_policy(&mut self, policy: RejectPolicy) {
        self.reject_policy = policy;
    }

    /// Workers seen within [`super::WORKER_SEEN_WINDOW`] (as of the last
    /// tick, which forgets the others), plus benched ones.
    pub fn workers_seen(&self) -> usize {
        self.workers.len()
    }

    /// Adds a split task whose data is `data` (what the client sent, kept
    /// for reference) and its `parts`, queued in order at the back. The
    /// split task's id is returned and is the next client id; the parts take
    /// ids counting down from [`super::FIRST_PART_ID`].
    ///
    /// # Errors
    ///
    /// [`QueueError::Full`] or [`QueueError::FullBytes`] when holding the
    /// task and its parts would pass a limit.
    pub fn submit_split(
        &mut self,
        data: impl Into<TaskData>,
        parts: Vec<PartSpec>,
        now: Instant,
    ) -> Result<TaskId, QueueError> {
        let data = data.into();
        let bytes = data.own_len() + parts.iter().map(|p| p.data.own_len()).sum::<usize>();
        if !self.has_part_ids_for(parts.len()) {
            return Err(QueueError::PartIdsExhausted);
        }
        self.make_room(1 + parts.len(), bytes, now)?;
        let mut parent = Task::new(data, None);
        parent.status = TaskStatus::Processing;
        let parent_id = TaskId(self.next_id);
        let first_part = self.next_part_id;
        parent.split = Some(Box::new(SplitState {
            parts: (0..parts.len() as u64)
                .map(|k| TaskId(first_part - k))
                .collect(),
            results: vec![None; parts.len()],
            done: 0,
            handed_out: false,
        }));
        let inserted = self.insert(parent);
        debug_assert_eq!(inserted, parent_id);
        self.counters.processing += 1;
        for (index, spec) in parts.into_iter().enumerate() {
            let mut part = Task::new(spec.data, spec.check);
            part.part_of = Some(PartOf {
                parent: parent_id,
                index,
            });
            let id = self.insert_part(part);
            self.pending.push_back(id);
            self.counters.pending += 1;
        }
        Ok(parent_id)
    }

    /// The check a result for task `id` must pass, if it has one and is not
    /// completed yet (a result for a completed task changes nothing).
    pub fn check_for(&self, id: TaskId) -> Option<TaskCheck> {
        self.tasks
            .get(&id)
            .filter(|task| task.status != TaskStatus::Completed)
            .and_then(|task| task.check.clone())
    }

    /// Records that a result for task `id` failed its check: counts the
    /// rejection for `worker` (the poster, or the task's lease holder when
    /// unknown), benches the worker after [`RejectPolicy::limit`] rejections
    /// in a row, and, when the task is processing by that worker, puts it
    /// back at the front of the queue (or fails it after its last attempt).
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] or [`QueueError::Expired`] for an unknown id.
    pub fn reject(
        &mut self,
        id: TaskId,
        worker: Option<&WorkerId>,
        reason: &str,
        now: Instant,
    ) -> Result<Rejection, QueueError> {
        let max_attempts = self.limits.max_attempts;
        let Some(task) = self.tasks.get_mut(&id) else {
            return Err(self.missing(id));
        };
        let poster = worker.cloned().or_else(|| task.leased_by.clone());
        let held_by_poster = task.status == TaskStatus::Processing && task.leased_by == poster;
        let rejection = if !held_by_poster {
            Rejection::Unchanged(task.status)
        } else if task.attempts >= max_attempts {
            let error = format!(
                "Every result was rejected ({} attempts): {reason}",
                task.attempts
            );
            self.mark_failed(id, Arc::from(error), None, now);
            Rejection::Failed
        } else {
            task.status = TaskStatus::Pending;
            task.leased_by = None;
            task.lease_expires_at = None;
            self.pending.push_front(id);
            self.counters.processing -= 1;
            self.counters.pending += 1;
            Rejection::Requeued
        };
        self.counters.rejected += 1;
        if let Some(poster) = poster {
            self.touch_worker(&poster, now);
            let policy = self.reject_policy;
            if let Some(record) = self.workers.get_mut(&poster) {
                record.results_rejected += 1;
                record.rejections_in_a_row += 1;
                if record.rejections_in_a_row >= policy.limit {
                    record.rejections_in_a_row = 0;
                    record.benched_until = Some(now + policy.bench_time);
                }
            }
        }
        Ok(rejection)
    }

    /// Whether `worker` is benched at `now`.
    pub fn is_benched(&self, worker: &WorkerId, now: Instant) -> bool {
        self.workers
            .get(worker)
            .and_then(|record| record.benched_until)
            .is_some_and(|until| until > now)
    }

    /// Hands out the split tasks whose parts are all done (each once).
    pub fn take_ready(&mut self) -> Vec<ReadyParent> {
        std::mem::take(&mut self.ready)
    }

    /// Completes split task `id` with its assembled result, or fails it
    /// when assembling failed. Once it is completed its parts are dropped
    /// (their results live on in its result): a late answer for one of them
    /// is then told the task expired.
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] or [`QueueError::Expired`] for an unknown id.
    pub fn finish_split(
        &mut self,
        id: TaskId,
        assembled: Result<ResultText, Arc<str>>,
        now: Instant,
    ) -> Result<TaskView, QueueError> {
        match assembled {
            Ok(result) => {
                let view = self.complete_task(id, result, None, now)?.view().clone();
                self.drop_parts(id);
                Ok(view)
            }
            Err(error) => self
                .mark_failed(id, error, None, now)
                .ok_or_else(|| self.missing(id)),
        }
    }

    /// Removes the completed parts of split task `id` (stale entries in the
    /// queues are skipped when met, as for evicted tasks).
    fn drop_parts(&mut self, id: TaskId) {
        let Some(parts) = self
            .tasks
            .get(&id)
            .and_then(|task| task.split.as_ref())
            .map(|split| split.parts.clone())
        else {
            return;
        };
        for part in parts {
            let completed = self
                .tasks
                .get(&part)
                .is_some_and(|task| task.status == TaskStatus::Completed);
            if completed && let Some(task) = self.tasks.remove(&part) {
                self.held_bytes -= task.held_bytes();
            }
        }
    }

    /// Keeps a part's result for its split task; queues the split task for
    /// assembling when it was the last one.
    pub(super) fn record_part(&mut self, part_of: PartOf, result: ResultText) {
        let Some(parent) = self.tasks.get_mut(&part_of.parent) else {
            return; // the split task was evicted
        };
        if parent.status == TaskStatus::Completed {
            return;
        }
        let Some(split) = parent.split.as_mut() else {
            return;
        };
        let Some(slot) = split.results.get_mut(part_of.index) else {
            return;
        };
        if slot.is_none() {
            *slot = Some(result);
            split.done += 1;
        }
        if split.done == split.results.len() && !split.handed_out {
            split.handed_out = true;
            let results = split.results.iter().flatten().cloned().collect();
            self.ready.push(ReadyParent {
                id: part_of.parent,
                results,
            });
        }
    }

    /// Fails the split task of a part that failed.
    pub(super) fn fail_split(&mut self, part_of: PartOf, part: TaskId, now: Instant) {
        let error = self
            .tasks
            .get(&part)
            .and_then(|task| task.last_error.clone())
            .unwrap_or_else(|| Arc::from("failed"));
        let message = format!("Part {} (task {part}) failed: {error}", part_of.index + 1);
        let parent = part_of.parent;
        let was_open = self
            .tasks
            .get(&parent)
            .is_some_and(|task| !task.status.is_finished());
        self.mark_failed(parent, Arc::from(message), None, now);
        if !was_open {
            return;
        }
        // The product can no longer be assembled: its other parts are not
        // handed out any more, and they end (and are evicted) with it.
        let siblings = self
            .tasks
            .get(&parent)
            .and_then(|task| task.split.as_ref())
            .map(|split| split.parts.clone())
            .unwrap_or_default();
        let reason: Arc<str> = Arc::from(format!("Split task {parent} failed"));
        for sibling in siblings.into_iter().filter(|&s| s != part) {
            self.mark_failed(sibling, Arc::clone(&reason), None, now);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A result text.
    fn text(text: &str) -> ResultText {
        text.into()
    }
    use crate::queue::{Outcome, QueueLimits};

    const LEASE: Duration = Duration::from_secs(60);

    fn queue() -> TaskQueue {
        TaskQueue::new(QueueLimits {
            lease: LEASE,
            max_attempts: 5,
            max_tasks: 100,
            max_held_bytes: 1 << 20,
            keep_finished: Duration::from_secs(3600),
        })
    }

    fn worker(name: &str) -> WorkerId {
        WorkerId::from_param(Some(name))
    }

    fn parts(texts: &[&str]) -> Vec<PartSpec> {
        texts
            .iter()
            .map(|t| PartSpec {
                data: TaskData::from(*t),
                check: None,
            })
            .collect()
    }

    #[test]
    fn parts_that_share_the_task_body_are_not_counted_again() {
        let body = r#"{"A":"[[1,2],[3,4],[5,6]]","B":"[[1,0],[0,1]]"}"#;
        let source = axum::body::Bytes::from_static(body.as_bytes());
        let pair = crate::split::MatrixPair::parse(body).unwrap();
        let specs = pair
            .split(&source, 3)
            .into_iter()
            .map(|part| PartSpec {
                data: part.data,
                check: None,
            })
            .collect();
        let mut q = queue();
        let t0 = Instant::now();
        q.submit_split(TaskData::from_pieces(vec![source.clone()]), specs, t0)
            .unwrap();
        // The body once, and each part's 15 literal bytes (`{"A":"[`, `]"`,
        // `,"B":`, `}`).
        assert_eq!(q.stats(t0).held_bytes, (body.len() + 3 * 15) as u64);
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
        let first_part = TaskId(super::super::FIRST_PART_ID);
        assert_eq!((lease.id, lease.data.to_text()), (first_part, "p1".into()));
        assert_eq!(q.get(first_part).unwrap().part_of, Some(id));
        let stats = q.stats(t0);
        assert_eq!(
            (stats.total_tasks, stats.active_tasks, stats.queue_size),
            (4, 2, 2)
        );
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
        assert!(q.take_ready().is_empty());
        assert_eq!(q.get(id).unwrap().parts.unwrap().done, 1);
        q.complete(second.id, text("[[1]]"), Some(&w), t0).unwrap();
        let ready = q.take_ready();
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].id, id);
        assert_eq!(ready[0].results, vec![text("[[1]]"), text("[[3]]")]);
        assert!(q.take_ready().is_empty(), "handed out once");
        assert_eq!(q.get(id).unwrap().status, TaskStatus::Processing);
        let view = q.finish_split(id, Ok(text("[[1],[3]]")), t0).unwrap();
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
    fn late_result_for_a_requeued_part_is_taken_once() {
        let mut q = queue();
        let t0 = Instant::now();
        let id = q
            .submit_split(Arc::from("all"), parts(&["p1"]), t0)
            .unwrap();
        let (slow, fast) = (worker("slow"), worker("fast"));
        let part = q.lease_next(&slow, t0).unwrap().id;
        let later = t0 + LEASE;
        q.requeue_expired(later);
        assert_eq!(q.lease_next(&fast, later).unwrap().id, part);
        // The slow worker's honest result arrives late: accepted.
        let first = q.complete(part, text("[[7]]"), Some(&slow), later).unwrap();
        assert!(matches!(first, Outcome::Applied(_)));
        // The fast worker's result for the same part changes nothing.
        let second = q.complete(part, text("[[7]]"), Some(&fast), later).unwrap();
        assert!(matches!(second, Outcome::AlreadyCompleted(_)));
        let ready = q.take_ready();
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].results.len(), 1);
        q.finish_split(id, Ok(text("[[7]]")), later).unwrap();
        assert_eq!(
            q.stats(later).completed_tasks,
            2,
            "one part, one split task"
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
        let top = super::super::FIRST_PART_ID;
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
        assert_eq!(
            q.get(TaskId(super::super::FIRST_PART_ID - 1)),
            Err(QueueError::NotFound)
        );
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
    fn task_fails_when_its_last_attempt_is_rejected() {
        let mut q = queue();
        let t0 = Instant::now();
        let id = q.submit(Arc::from("a"), t0).unwrap();
        q.set_reject_policy(RejectPolicy {
            limit: 100,
            bench_time: LEASE,
        });
        for attempt in 1..=5 {
            q.lease_next(&worker("liar"), t0).unwrap();
            let expected = if attempt < 5 {
                Rejection::Requeued
            } else {
                Rejection::Failed
            };
            assert_eq!(q.reject(id, None, "row 0 is wrong", t0), Ok(expected));
        }
        let view = q.get(id).unwrap();
        assert_eq!(view.status, TaskStatus::Failed);
        assert!(view.last_error.unwrap().contains("row 0 is wrong"));
    }

    #[test]
    fn repeated_rejections_bench_a_worker_for_a_while() {
        let mut q = queue();
        let t0 = Instant::now();
        let bench = Duration::from_secs(300);
        q.set_reject_policy(RejectPolicy {
            limit: 2,
            bench_time: bench,
        });
        for _ in 0..3 {
            q.submit(Arc::from("a"), t0).unwrap();
        }
        let liar = worker("liar");
        let first = q.lease_next(&liar, t0).unwrap().id;
        q.reject(first, Some(&liar), "wrong", t0).unwrap();
        let second = q.lease_next(&liar, t0).unwrap().id;
        q.reject(second, Some(&liar), "wrong", t0).unwrap();
        assert!(q.is_benched(&liar, t0));
        assert_eq!(q.lease_next(&liar, t0), None, "benched");
        assert!(q.lease_next(&worker("honest"), t0).is_some());
        let line = q
            .stats(t0)
            .workers
            .into_iter()
            .find(|w| w.id == liar)
            .unwrap();
        assert_eq!(line.benched_for, Some(bench));
        // Still benched after a tick past the seen window, then free again.
        q.tick(t0 + Duration::from_secs(120));
        assert!(q.is_benched(&liar, t0 + Duration::from_secs(120)));
        assert!(q.lease_next(&liar, t0 + bench).is_some());
    }

    #[test]
    fn an_accepted_result_resets_the_rejection_count() {
        let mut q = queue();
        let t0 = Instant::now();
        q.set_reject_policy(RejectPolicy {
            limit: 2,
            bench_time: LEASE,
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
        assert!(!q.is_benched(&w, t0));
    }
}
