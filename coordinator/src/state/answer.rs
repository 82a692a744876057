//! Taking a worker's answer: read it, check it against the task's check
//! outside the lock, then complete (a split task with its last part) or
//! fail the task, or reject the answer.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::cost::{Cost, Spent};
use super::{AppState, UseCaseError, run_sized};
use crate::check::CheckFailed;
use crate::queue::{Outcome, TaskId, TaskView, WorkerId};
use crate::shared_text::SharedText;
use crate::worker_answer::WorkerAnswer;

impl AppState {
    /// `POST /task/N/result`: a worker's `{"result":...}` completes task
    /// `id` (a completed task keeps its first result); `{"error":"..."}`
    /// fails it, unless its check says the product cannot fail (then the
    /// report is false). A result or report that fails the check is
    /// rejected: the task goes back to the queue and the worker is counted.
    /// `worker` is the poster when it said who it is. Returns the task as it
    /// is afterwards.
    ///
    /// # Errors
    ///
    /// [`UseCaseError::BadAnswer`] for a body that is not an answer;
    /// [`UseCaseError::Queue`] for an unknown task or a split task's own id;
    /// [`UseCaseError::Rejected`] for an answer that failed the check.
    pub async fn answer(
        &self,
        id: TaskId,
        worker: Option<WorkerId>,
        body: Bytes,
    ) -> Result<TaskView, UseCaseError> {
        let (answer, read) = run_sized(body.len(), move || {
            Spent::measure(|| WorkerAnswer::read(&body))
        })
        .await?;
        let answer = answer.map_err(|bad| UseCaseError::BadAnswer(bad.0))?;
        let mut cost = Cost {
            read: Some(read),
            ..Cost::none()
        };
        let check = if self.config().verify {
            self.queue().check_for(id).inspect_err(|e| unknown(id, e))?
        } else {
            None
        };
        let (decided, changes, ticket) = match answer {
            WorkerAnswer::Result(text) => {
                let text = SharedText::from(text);
                if let Some(check) = check {
                    let result = text.clone();
                    let (verdict, spent) =
                        run_sized(text.len(), move || Spent::measure(|| check.verify(&result)))
                            .await?;
                    cost.verify = Some(spent);
                    verdict.map_err(|refused| self.reject(id, worker.as_ref(), refused))?;
                }
                let (decided, spent) = Spent::measure(|| {
                    self.decide(|queue, changes| {
                        queue.complete(id, text, worker.as_ref(), Instant::now(), changes)
                    })
                });
                cost.decide = Some(spent);
                decided
            }
            WorkerAnswer::Error(report) => {
                if let Some(check) = check {
                    check
                        .verify_error_report(&report)
                        .map_err(|refused| self.reject(id, worker.as_ref(), refused))?;
                }
                self.decide(|queue, changes| {
                    let report = Arc::from(report);
                    queue.fail(id, report, worker.as_ref(), Instant::now(), changes)
                })
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
            Outcome::Applied(_) => {}
            Outcome::AlreadyCompleted(_) => {
                tracing::warn!(task = %id, "answer for a completed task ignored: results are immutable");
            }
            Outcome::AlreadyFailed(_) => {
                tracing::warn!(task = %id, "error for a failed task ignored");
            }
        }
        Ok(outcome.view().clone())
    }

    /// Records a rejected answer for task `id` and gives the error to
    /// answer with.
    fn reject(&self, id: TaskId, worker: Option<&WorkerId>, refused: CheckFailed) -> UseCaseError {
        let (rejected, changes, _) = self
            .decide(|queue, changes| queue.reject(id, worker, &refused.0, Instant::now(), changes));
        self.commit(&changes, &Cost::none());
        match rejected {
            Ok(_) => UseCaseError::Rejected(refused.0),
            Err(e) => e.into(),
        }
    }
}

/// Logs an answer for a task the queue does not hold.
fn unknown(id: TaskId, error: &crate::queue::QueueError) {
    tracing::warn!(task = %id, error = %error, "answer for an unknown task");
}
