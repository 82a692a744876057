//! Taking a worker's answer: establish who sent it, bound its size, read
//! it, check it against the task's check outside the lock, then let the
//! queue complete (a split task with its last part), fail, keep or ignore
//! it, or reject the answer.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::cost::{Cost, PassTimer, Spent};
use super::shared::Target;
use super::{AppState, Caller, UseCaseError, run_sized};
use crate::check::{CheckFailed, TaskCheck};
use crate::queue::{Outcome, Poster, QueueError, TaskId, TaskView};
use crate::shared_text::SharedText;
use crate::store::shared::Snapshot;
use crate::worker_answer::WorkerAnswer;

impl AppState {
    /// `POST /task/N/result`: a worker's `{"result":...}` or
    /// `{"error":"..."}` for task `id`, from `caller`. A result is checked
    /// against the task's check outside the lock (a product check also
    /// bounds its size); a result or a report that fails the check is
    /// rejected. The queue then weighs the answer by whether its poster
    /// holds the task ([`crate::queue`]'s `answers`). Returns the task as
    /// it is afterwards.
    ///
    /// # Errors
    ///
    /// [`UseCaseError::WrongToken`] or [`UseCaseError::TokenRequired`] for
    /// a token that proves nothing; [`UseCaseError::ResultTooLarge`] for a
    /// body larger than the product can be; [`UseCaseError::BadAnswer`] for
    /// a body that is not an answer; [`UseCaseError::Rejected`] for an
    /// answer that failed the check; [`UseCaseError::Queue`] for an unknown
    /// task, a split task's own id, a poster that holds no lease of a task
    /// its answer cannot settle, or no room to hold the result.
    pub async fn answer(
        &self,
        id: TaskId,
        caller: &Caller,
        body: Bytes,
    ) -> Result<TaskView, UseCaseError> {
        let poster = self.poster(id, caller)?;
        let (check, mut seen) = match self.shared().cloned() {
            Some(shared) => self
                .shared_check_for(&shared, id, true)
                .await
                .map(|(check, read)| (check, Some(read))),
            None => self
                .queue()
                .check_for(id)
                .map(|check| (check, None))
                .map_err(UseCaseError::from),
        }
        .inspect_err(|e| {
            if let UseCaseError::Queue(e) = e {
                unknown(id, e);
            }
        })?;
        let check = check.filter(|_| self.config().verify);
        if let Some(limit) = check.as_ref().and_then(TaskCheck::max_result_bytes)
            && body.len() > limit.saturating_add(ANSWER_FRAME_BYTES)
            && self.check_still_applies(id, &mut seen).await?
        {
            return Err(UseCaseError::ResultTooLarge {
                id,
                bytes: body.len(),
                limit,
            });
        }
        let (answer, read) = run_sized(body.len(), move || {
            Spent::measure(body.len(), || WorkerAnswer::read(&body))
        })
        .await?;
        let answer = answer.map_err(|bad| UseCaseError::BadAnswer(bad.0))?;
        let mut cost = Cost {
            read: Some(read),
            ..Cost::none()
        };
        let (decided, changes, ticket) = match answer {
            WorkerAnswer::Result(text) => {
                let text = SharedText::from(text);
                if let Some(check) = check {
                    let result = text.clone();
                    let (verdict, spent) = run_sized(text.len(), move || {
                        Spent::measure(result.len(), || check.verify(&result))
                    })
                    .await?;
                    cost.verify = Some(spent);
                    if let Err(refused) = verdict
                        && self.check_still_applies(id, &mut seen).await?
                    {
                        return Err(self.reject(id, &poster, refused, &cost, seen.take()).await);
                    }
                }
                // On a shared store the decision waits on Redis, and the
                // thread runs other requests meanwhile: no CPU time then.
                let timer = PassTimer::start(if self.shared().is_none() {
                    text.len()
                } else {
                    0
                });
                let decided = self
                    .decide_on_read(Target::Task(id), seen.take(), |queue, changes| {
                        queue.complete(id, text.clone(), &poster, Instant::now(), changes)
                    })
                    .await?;
                cost.decide = Some(timer.stop());
                decided
            }
            WorkerAnswer::Error(report) => {
                if let Some(check) = check
                    && let Err(refused) = check.verify_error_report(&report)
                    && self.check_still_applies(id, &mut seen).await?
                {
                    return Err(self.reject(id, &poster, refused, &cost, seen.take()).await);
                }
                let report: Arc<str> = Arc::from(report);
                self.decide_on_read(Target::Task(id), seen.take(), |queue, changes| {
                    queue.fail(id, Arc::clone(&report), &poster, Instant::now(), changes)
                })
                .await?
            }
        };
        let outcome = decided.inspect_err(|e| unknown(id, e))?;
        // What the answer acknowledges is on disk first: this answer's
        // changes, or, when it changed nothing, the task's earlier ones.
        let ticket = if changes.is_empty() {
            self.inner.store.durable(id)
        } else {
            ticket
        };
        ticket.durable().await?;
        self.commit(&changes, &cost);
        match &outcome {
            Outcome::Applied(_) | Outcome::Kept(_) => {}
            Outcome::Ignored(_) => {
                tracing::warn!(task = %id, "answer from a client that holds no lease of the task ignored");
                return Err(QueueError::NotLeasedBy(id).into());
            }
            Outcome::AlreadyCompleted(_) => {
                tracing::warn!(task = %id, "answer for a completed task ignored: results are immutable");
            }
            Outcome::AlreadyFailed(_) => {
                tracing::warn!(task = %id, "error for a failed task ignored");
            }
        }
        Ok(outcome.view().clone())
    }

    /// Whether the check that refused an answer for task `id` still
    /// applies. It does unless `seen` is this coordinator's copy of a task
    /// on a shared store: that task is read again (it may have finished
    /// since, and a finished task checks no answer), and `seen` becomes
    /// the fresh read.
    async fn check_still_applies(
        &self,
        id: TaskId,
        seen: &mut Option<Snapshot>,
    ) -> Result<bool, UseCaseError> {
        let Some(shared) = self
            .shared()
            .cloned()
            .filter(|_| seen.as_ref().is_some_and(|s| s.copied))
        else {
            return Ok(true);
        };
        let (check, fresh) = self.shared_check_for(&shared, id, false).await?;
        *seen = Some(fresh);
        Ok(check.is_some_and(|_| self.config().verify))
    }

    /// Records a rejected answer for task `id` (`cost`: what reading and
    /// checking it took) and gives the error to answer with.
    async fn reject(
        &self,
        id: TaskId,
        poster: &Poster,
        refused: CheckFailed,
        cost: &Cost,
        read: Option<Snapshot>,
    ) -> UseCaseError {
        let decided = self
            .decide_on_read(Target::Task(id), read, |queue, changes| {
                queue.reject(id, poster, &refused.0, Instant::now(), changes)
            })
            .await;
        let (rejected, changes, _) = match decided {
            Ok(decided) => decided,
            Err(error) => return error,
        };
        self.commit(&changes, cost);
        match rejected {
            Ok(_) => UseCaseError::Rejected(refused.0),
            Err(e) => e.into(),
        }
    }
}

/// Bytes an answer body takes beyond its result text: `{"result":"..."}`
/// and some whitespace.
const ANSWER_FRAME_BYTES: usize = 1024;

/// Logs an answer for a task the queue does not hold.
fn unknown(id: TaskId, error: &crate::queue::QueueError) {
    tracing::warn!(task = %id, error = %error, "answer for an unknown task");
}
