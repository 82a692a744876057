//! Split tasks and their parts.
//!
//! A *split task* keeps the id the client got. It is `Processing` from the
//! start, never handed out itself, and holds the results of its *parts*
//! (ordinary tasks that each compute a row block of the product). The
//! result of its last part completes it in the same step: the parts'
//! results are joined, in row order, into the product text, sharing their
//! bytes ([`assemble`]), and the parts are dropped. A part that fails fails
//! its split task, and the split task's other parts end with it.
//!
//! Every operation here is O(parts).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::change::{Change, Changes};
use super::client::{ClientKey, Poster};
use super::speed::{Pace, SplitPace, backup_due_in, backup_gain, pick_part};
use super::task::{PartPlace, PartRef, PartView, PartsProgress, Role, Task, TaskId, TaskStatus};
use super::workers::WorkerId;
use super::{QueueError, TaskQueue};
use crate::check::TaskCheck;
use crate::shared_text::SharedText;

/// One part of a task to split, as [`super::NewTask::Split`] holds it.
#[derive(Debug, Clone)]
pub(crate) struct NewPart {
    /// The part's task data, handed to workers as is.
    pub data: SharedText,
    /// The check of the part's results.
    pub check: Option<TaskCheck>,
    /// Its cost (0 when not known): its floating-point operations and the
    /// reading of its data ([`super::part_cost`]), what its workers'
    /// speeds are measured by and its size is weighed by.
    pub work: u64,
}

/// A split task's parts and their results.
#[derive(Debug)]
pub(super) struct SplitState {
    /// The parts' ids, in row order.
    pub(super) parts: Vec<TaskId>,
    pub(super) results: Vec<Option<SharedText>>,
    /// The worker credited with each part's result (parts are dropped once
    /// the split task is assembled; this says who computed them).
    pub(super) done_by: Vec<Option<WorkerId>>,
    pub(super) done: usize,
    /// How its parts were sized, when by measured speeds.
    pub(super) pace: Option<Pace>,
}

impl SplitState {
    /// The state of a split task restored from a store: its parts' ids and
    /// the results of the parts that are done (who computed them is read
    /// from the parts while they are kept).
    pub(super) fn restored(parts: Vec<TaskId>, results: Vec<Option<SharedText>>) -> Self {
        let done = results.iter().flatten().count();
        Self {
            done_by: vec![None; parts.len()],
            parts,
            results,
            done,
            pace: None,
        }
    }

    /// The parts' ids, in row order.
    pub(super) fn parts(&self) -> &[TaskId] {
        &self.parts
    }

    pub(super) fn progress(&self) -> PartsProgress {
        PartsProgress {
            done: self.done,
            total: self.results.len(),
        }
    }
}

/// Why part results could not be assembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AssembleError {
    /// There were no parts.
    #[error("no parts to assemble")]
    NoParts,
    /// A part's result is not a `[[..],..]` matrix text.
    #[error("the result of part {part} is not a matrix text")]
    NotAMatrix {
        /// Index of the part.
        part: usize,
    },
}

impl TaskQueue {
    /// Adds split task `data` and its `parts`, queued in order at the back.
    pub(super) fn submit_split(
        &mut self,
        data: SharedText,
        parts: Vec<NewPart>,
        pace: Option<SplitPace>,
        now: Instant,
        changes: &mut Changes,
    ) -> Result<TaskId, QueueError> {
        let bytes = data.own_len() + parts.iter().map(|p| p.data.own_len()).sum::<usize>();
        if !self.has_part_ids_for(parts.len()) {
            return Err(QueueError::PartIdsExhausted);
        }
        if !self.ids_reserved_for(parts.len()) {
            return Err(QueueError::IdsNotReserved);
        }
        self.make_room(1 + parts.len(), bytes, now, changes)?;
        let mut split = Task::new(data.clone(), None);
        split.status = TaskStatus::Processing;
        let first_part = self.next_part_id;
        let work: u64 = parts.iter().map(|p| p.work).fold(0, u64::saturating_add);
        let pace = pace.filter(|p| p.rate > 0.0 && work > 0).map(|p| Pace {
            planned_secs: work as f64 / p.rate,
            fastest: p.fastest,
            slowest: p.slowest,
            submitted_at: now,
        });
        split.split = Some(Box::new(SplitState {
            parts: (0..parts.len() as u64)
                .map(|k| TaskId(first_part - k))
                .collect(),
            results: vec![None; parts.len()],
            done_by: vec![None; parts.len()],
            done: 0,
            pace,
        }));
        let split_id = self.insert(split);
        self.open_splits.push_back(split_id);
        self.counters.processing += 1;
        changes.push(Change::SplitSubmitted {
            id: split_id,
            data,
            parts: parts.len(),
        });
        for (index, spec) in parts.into_iter().enumerate() {
            let mut part = Task::new(spec.data.clone(), spec.check.clone());
            part.work = spec.work;
            part.part_of = Some(PartRef {
                split: split_id,
                index,
            });
            let id = self.insert_part(part);
            self.pending.push_back(id);
            self.counters.pending += 1;
            changes.push(Change::PartSubmitted {
                id,
                part: PartRef {
                    split: split_id,
                    index,
                },
                data: spec.data,
                check: spec.check,
            });
        }
        Ok(split_id)
    }

    /// Keeps a part's result, and the worker credited with it, for its split
    /// task; when it was the last part, assembles and completes the split
    /// task.
    pub(super) fn record_part(
        &mut self,
        part_of: PartRef,
        result: SharedText,
        worker: Option<WorkerId>,
        now: Instant,
        changes: &mut Changes,
    ) {
        let Some(split) = self.tasks.get_mut(&part_of.split) else {
            return; // the split task was evicted
        };
        if split.status == TaskStatus::Completed {
            return;
        }
        let Some(state) = split.split.as_mut() else {
            return;
        };
        let Some(slot) = state.results.get_mut(part_of.index) else {
            return;
        };
        if slot.is_some() {
            return;
        }
        *slot = Some(result);
        state.done_by[part_of.index] = worker;
        state.done += 1;
        if state.done < state.results.len() {
            return;
        }
        let results: Vec<SharedText> = state.results.iter().flatten().cloned().collect();
        let parts = state.parts.clone();
        match assemble(&results) {
            Ok(product) => {
                self.settle(
                    part_of.split,
                    TaskStatus::Completed,
                    Some(product.clone()),
                    None,
                    None,
                    now,
                );
                changes.push(Change::Assembled {
                    id: part_of.split,
                    result: product,
                });
                self.keep_part_workers(part_of.split, &parts);
                self.drop_completed_parts(&parts, changes);
            }
            Err(error) => {
                let error = Arc::from(format!("Could not assemble the parts: {error}"));
                self.mark_failed(part_of.split, error, None, now, changes);
            }
        }
    }

    /// Notes, before the `parts` of split task `split` are dropped, who
    /// computed those whose worker it has not recorded (parts completed
    /// before a restart).
    fn keep_part_workers(&mut self, split: TaskId, parts: &[TaskId]) {
        let workers: Vec<Option<WorkerId>> = parts
            .iter()
            .map(|part| self.tasks.get(part).and_then(|task| task.leased_by.clone()))
            .collect();
        let Some(state) = self
            .tasks
            .get_mut(&split)
            .and_then(|task| task.split.as_mut())
        else {
            return;
        };
        for (recorded, worker) in state.done_by.iter_mut().zip(workers) {
            if recorded.is_none() {
                *recorded = worker;
            }
        }
    }

    /// Removes the completed `parts` of an assembled split task (their
    /// results live on in its product; stale entries in the queues are
    /// skipped when met, as for evicted tasks), except those with a backup
    /// copy. A late answer for a removed one is then told the task expired.
    fn drop_completed_parts(&mut self, parts: &[TaskId], changes: &mut Changes) {
        for &part in parts {
            let completed = self
                .tasks
                .get(&part)
                // A part with a backup copy is kept for its keep time, so
                // that the other copy's late answer is known as such.
                .is_some_and(|task| task.status == TaskStatus::Completed && !task.backed_up);
            if completed && self.drop_task(part).is_some() {
                changes.push(Change::Evicted { id: part });
            }
        }
    }

    /// Fails the split task of a part that failed, and its other parts.
    pub(super) fn fail_split(
        &mut self,
        part_of: PartRef,
        part: TaskId,
        now: Instant,
        changes: &mut Changes,
    ) {
        let error = self
            .tasks
            .get(&part)
            .and_then(|task| task.last_error.clone())
            .unwrap_or_else(|| Arc::from("failed"));
        let message = format!("Part {} (task {part}) failed: {error}", part_of.index + 1);
        let split = part_of.split;
        let was_open = self
            .tasks
            .get(&split)
            .is_some_and(|task| !task.status.is_finished());
        self.mark_failed(split, Arc::from(message), None, now, changes);
        if !was_open {
            return;
        }
        // The product can no longer be assembled: its other parts are not
        // handed out any more, and they end (and are evicted) with it.
        let others = self
            .tasks
            .get(&split)
            .and_then(|task| task.split.as_ref())
            .map(|state| state.parts.clone())
            .unwrap_or_default();
        let reason: Arc<str> = Arc::from(format!("Split task {split} failed"));
        for other in others.into_iter().filter(|&p| p != part) {
            self.mark_failed(other, Arc::clone(&reason), None, now, changes);
        }
    }
}

/// A worker looking for a backup copy looks at this many open split tasks
/// at most (the oldest first).
const BACKUP_SCAN_SPLITS: usize = 4;

/// ... among this many entries at most of the list of split tasks that may
/// be open (finished ones are skipped).
const BACKUP_SCAN_ENTRIES: usize = 64;

impl TaskQueue {
    /// The part `worker` of `client` should take when pending task `id` is
    /// the first it may take: `id` itself, unless `id` is a part of a split
    /// task sized by measured speeds, then the pending part of it that fits
    /// the worker's speed, or none for the time faster workers may still
    /// take them (`Err`, [`super::speed::pick_part`]). O(parts).
    pub(super) fn fitting_part(
        &self,
        id: TaskId,
        client: ClientKey,
        worker: &WorkerId,
        now: Instant,
    ) -> Result<TaskId, Duration> {
        if !self.limits.by_speed {
            return Ok(id);
        }
        let Some(part_of) = self.tasks.get(&id).and_then(|task| task.part_of) else {
            return Ok(id);
        };
        let Some(state) = self
            .tasks
            .get(&part_of.split)
            .and_then(|task| task.split.as_deref())
        else {
            return Ok(id);
        };
        let Some(pace) = state.pace else {
            return Ok(id);
        };
        let pending: Vec<(usize, u64)> = state
            .parts
            .iter()
            .enumerate()
            .filter_map(|(index, part)| {
                let task = self.tasks.get(part)?;
                let open = task.status == TaskStatus::Pending
                    && task.wants_lease()
                    && task.attempts < self.attempt_limit(task)
                    && task.takeable_by(client);
                open.then_some((index, task.work))
            })
            .collect();
        let speed = self.workers.speed(client, worker);
        match pick_part(&pending, speed, pace, now) {
            Ok(index) => Ok(state.parts[index]),
            Err(left) if left.is_zero() => Ok(id),
            Err(left) => Err(left),
        }
    }

    /// The part of an open split task whose backup copy `worker` of
    /// `client` should compute now: of the oldest open split tasks with no
    /// part left pending, the part held by one other worker that the asker
    /// is expected to finish soonest before its holder
    /// ([`super::speed::backup_gain`]). Otherwise, when such a copy may
    /// become worth it if nothing changes: how long until then.
    /// O(parts of [`BACKUP_SCAN_SPLITS`] split tasks, among
    /// [`BACKUP_SCAN_ENTRIES`]).
    pub(super) fn backup_for(
        &mut self,
        client: ClientKey,
        worker: &WorkerId,
        now: Instant,
    ) -> Result<TaskId, Option<Duration>> {
        while let Some(split) = self.open_splits.front() {
            let open = self
                .tasks
                .get(split)
                .is_some_and(|task| !task.status.is_finished());
            if open {
                break;
            }
            self.open_splits.pop_front();
        }
        let asker = self.workers.speed(client, worker);
        if asker.is_none() {
            return Err(None);
        }
        let mut best: Option<(Duration, TaskId)> = None;
        let mut due: Option<Duration> = None;
        let open = self
            .open_splits
            .iter()
            .take(BACKUP_SCAN_ENTRIES)
            .filter_map(|split| self.tasks.get(split))
            .filter(|task| !task.status.is_finished())
            .take(BACKUP_SCAN_SPLITS);
        for split in open {
            let Some(state) = split.split.as_deref() else {
                continue;
            };
            let parts: Vec<&Task> = state
                .parts
                .iter()
                .filter_map(|part| self.tasks.get(part))
                .collect();
            if parts.iter().any(|part| part.status == TaskStatus::Pending) {
                continue; // not near its end yet
            }
            for (part, id) in parts.iter().zip(&state.parts) {
                let [lease] = part.leases.as_slice() else {
                    continue;
                };
                // A holder whose answer is arriving is about to finish: a
                // copy would only compete with it (for its uplink, when it
                // shares one with the asker, and for the check).
                if part.backed_up || part.work == 0 || part.quorum().is_some() || lease.answering {
                    continue;
                }
                let holder = &lease.holder;
                if holder.worker == *worker && holder.client == client {
                    continue;
                }
                let held = now.saturating_duration_since(lease.started_at);
                let holder_speed = self.workers.speed(holder.client, &holder.worker);
                match backup_gain(part.work, asker, holder_speed, held) {
                    Some(gain) if best.is_none_or(|(g, _)| gain > g) => best = Some((gain, *id)),
                    Some(_) => {}
                    None => {
                        if let Some(left) = backup_due_in(part.work, asker, holder_speed, held) {
                            due = Some(due.map_or(left, |d| d.min(left)));
                        }
                    }
                }
            }
        }
        best.map(|(_, id)| id).ok_or(due)
    }

    /// Marks the live lease of task `id` that `poster` holds as answering:
    /// its holder's answer is arriving, so the lease is about to end, and
    /// no backup copy of it is handed out meanwhile. Returns the lease's
    /// number, for [`TaskQueue::unmark_answering`]; `None` when `poster`
    /// holds no live lease of `id`, or `id` is not a part (only parts are
    /// copied). No change record: the mark lasts one request, and a
    /// restart forgets leases anyway. O(leases of `id`).
    pub(crate) fn mark_answering(&mut self, id: TaskId, poster: &Poster) -> Option<u64> {
        let task = self
            .tasks
            .get_mut(&id)
            .filter(|task| task.part_of.is_some())?;
        let Role::Holder(index) = task.role(poster) else {
            return None;
        };
        let lease = &mut task.leases[index];
        lease.answering = true;
        Some(lease.number)
    }

    /// Ends the mark of [`TaskQueue::mark_answering`] on lease `number` of
    /// task `id`, when that lease is still live (an answer that did not
    /// arrive whole). O(leases of `id`).
    pub(crate) fn unmark_answering(&mut self, id: TaskId, number: u64) {
        let lease = self
            .tasks
            .get_mut(&id)
            .and_then(|task| task.leases.iter_mut().find(|l| l.number == number));
        if let Some(lease) = lease {
            lease.answering = false;
        }
    }

    /// Where part `part_of` sits in its split task, for a lease; `None` when
    /// the split task is gone.
    pub(super) fn part_place(&self, part_of: PartRef) -> Option<PartPlace> {
        let state = self.tasks.get(&part_of.split)?.split.as_ref()?;
        Some(PartPlace {
            split: part_of.split,
            index: part_of.index,
            total: state.parts.len(),
        })
    }

    /// The parts of split task `task`, in row order: a part with a result
    /// is completed by the worker credited with it (as recorded, else as the
    /// part says while it is kept: after a restart), any other part is as
    /// the queue holds it (failed with its split task when it is gone).
    /// `None` for a task that is not split. O(parts).
    pub(super) fn part_views(&self, task: &Task) -> Option<Vec<PartView>> {
        let state = task.split.as_ref()?;
        let views = state
            .parts
            .iter()
            .enumerate()
            .map(|(index, &id)| {
                if state.results[index].is_some() {
                    let worker = state.done_by[index]
                        .clone()
                        .or_else(|| self.tasks.get(&id).and_then(|part| part.leased_by.clone()));
                    return PartView {
                        id,
                        status: TaskStatus::Completed,
                        worker,
                    };
                }
                match self.tasks.get(&id) {
                    Some(part) => PartView {
                        id,
                        status: part.status,
                        worker: match part.status {
                            TaskStatus::Pending => None,
                            _ => part.leased_by.clone(),
                        },
                    },
                    None => PartView {
                        id,
                        status: TaskStatus::Failed,
                        worker: None,
                    },
                }
            })
            .collect();
        Some(views)
    }
}

/// Joins the product texts of consecutive row blocks, in order, into the
/// full product text: `["[[1,2]]", "[[3,4],[5,6]]"]` gives
/// `"[[1,2],[3,4],[5,6]]"`. Rows are kept as the parts wrote them, and
/// shared, not copied.
pub(crate) fn assemble(parts: &[SharedText]) -> Result<SharedText, AssembleError> {
    if parts.is_empty() {
        return Err(AssembleError::NoParts);
    }
    let rows = parts
        .iter()
        .enumerate()
        .map(|(part, text)| {
            text.slice(|text| {
                let rows = text.trim().strip_prefix('[')?.strip_suffix(']')?.trim();
                (rows.starts_with('[') && rows.ends_with(']')).then_some(rows)
            })
            .ok_or(AssembleError::NotAMatrix { part })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SharedText::join(&rows, "[", ",", "]"))
}
