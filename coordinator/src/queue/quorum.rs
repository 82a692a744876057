//! Replicated tasks: answers as votes, and the quorum that settles them.
//!
//! A task whose check is a [`crate::check::Quorum`] of `replicas` and
//! `agree` is handed to `replicas` workers on distinct addresses at once
//! ([`super::task::Task::takeable_by`]). Each answer from a holder (or a
//! former holder) is a vote, one per address; strangers' answers are
//! ignored. When `agree` votes are identical the task settles with that
//! answer (completed with the result, or failed with the error), its other
//! leases end, and the votes are dropped. While no answer has enough
//! votes the task wants as many live leases as could still make a quorum
//! ([`super::task::Task::leases_wanted`]): a disagreement leases another
//! replica. It fails when its leases keep ending without a quorum
//! (`max_attempts` times `replicas` hand-outs).
//!
//! Votes are not kept by a store (neither are leases): a restart hands the
//! task out afresh. The agreed result is kept like any other.

use std::time::Instant;

use super::change::{Change, Changes};
use super::client::Poster;
use super::lifecycle::Outcome;
use super::task::{Answer, Role, TaskId, Vote};
use super::{QueueError, TaskQueue};

impl TaskQueue {
    /// Counts `answer` from `poster` (whose `role` is known) as a vote for
    /// replicated task `id`, settling it when a quorum agrees.
    ///
    /// # Errors
    ///
    /// [`QueueError::ResultTooLarge`] or [`QueueError::FullBytes`] when the
    /// answer cannot be held.
    pub(super) fn vote(
        &mut self,
        id: TaskId,
        answer: Answer,
        poster: &Poster,
        role: Role,
        now: Instant,
        changes: &mut Changes,
    ) -> Result<Outcome, QueueError> {
        let task = self.tasks.get(&id).ok_or(QueueError::NotFound)?;
        let Some(quorum) = task.quorum() else {
            return Ok(Outcome::Ignored(task.view(id)));
        };
        let (client, worker, index) = match role {
            Role::Holder(index) => {
                let holder = &task.leases[index].holder;
                (holder.client, holder.worker.clone(), Some(index))
            }
            Role::Former => match self.poster_worker(task, poster, role) {
                Some(worker) => (self.workers.resolve(poster.client), worker, None),
                None => return Ok(Outcome::Ignored(task.view(id))),
            },
            Role::Stranger => return Ok(Outcome::Ignored(task.view(id))),
        };
        if task.votes.iter().any(|vote| vote.client == client) {
            return Ok(Outcome::Ignored(task.view(id)));
        }
        self.room_for(&answer, now, changes)?;
        let lease = index
            .and_then(|index| self.end_lease(id, index))
            .map(|(_, number)| number);
        let task = self.tasks.get_mut(&id).ok_or(QueueError::NotFound)?;
        self.held_bytes += answer.held_bytes();
        task.votes.push(Vote {
            answer: answer.clone(),
            client,
        });
        let agreeing = task.votes.iter().filter(|v| v.answer == answer).count();
        changes.push(Change::Voted {
            id,
            part: task.part_of,
            lease,
            worker: worker.clone(),
            agreeing,
        });
        if agreeing >= quorum.agree as usize {
            let view = self
                .settle_answer(id, answer, Some(&worker), Some(client), false, now, changes)
                .ok_or(QueueError::NotFound)?;
            return Ok(Outcome::Applied(view));
        }
        self.after_lease_end(id, now, changes);
        let task = self.tasks.get(&id).ok_or(QueueError::NotFound)?;
        Ok(Outcome::Kept(task.view(id)))
    }
}
