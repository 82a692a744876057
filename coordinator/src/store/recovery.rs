//! Reading the store back into tasks at start.
//!
//! The records come in key order, so each task's fields come together.
//! Each task is rebuilt from them: its data (a part's from its split task's
//! data), its check (to be prepared again from the data and the kept seed
//! when a result first needs it, or a replicated task's quorum), its
//! attempts and how it ended. A record that does not decode is skipped with
//! a warning, never a refusal to start; so is a part whose split task is
//! gone.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::layout::{
    self, ATTEMPTS, CheckSpec, DATA, FINAL, Final, FinalOutcome, META, META_IDS, PART_RESULT,
    Piece, QUORUM, RESULT, STATIC, Static,
};
use crate::check::{Quorum, SharedProduct, TaskCheck};
use crate::plan;
use crate::queue::{
    IdWindow, PartRef, RestoredFinish, RestoredKind, RestoredOutcome, RestoredTask, TaskId,
    WorkerId,
};
use crate::shared_text::SharedText;

/// What a store held, ready for [`crate::queue::TaskQueue::restore`].
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    /// The tasks, client tasks by id, each split task's parts after it.
    pub(crate) tasks: Vec<RestoredTask>,
    /// The ids reserved before.
    pub(crate) ids: Option<IdWindow>,
    /// What was found, for the log.
    pub(crate) found: Found,
}

/// Counts of what recovery found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Found {
    /// Tasks waiting for a worker (processing ones come back pending).
    pub(crate) pending: usize,
    /// Tasks completed.
    pub(crate) completed: usize,
    /// Tasks failed (cancelled ones included).
    pub(crate) failed: usize,
    /// Split tasks (of any status).
    pub(crate) split_tasks: usize,
    /// Bytes of task data and results.
    pub(crate) bytes: u64,
    /// Records that did not decode, or parts whose split task was gone.
    pub(crate) skipped: usize,
    /// Time to open the engine (replaying its journal).
    pub(crate) open_time: std::time::Duration,
    /// Time to read every record.
    pub(crate) scan_time: std::time::Duration,
    /// Time to rebuild the tasks from the records.
    pub(crate) build_time: std::time::Duration,
    /// Time to put them back in the queue.
    pub(crate) restore_time: std::time::Duration,
}

/// The fields of one task as read.
#[derive(Debug, Default)]
struct Fields {
    data: Option<Bytes>,
    record: Option<Static>,
    attempts: u32,
    finished: Option<Final>,
    result: Option<Bytes>,
    part_results: Vec<(usize, Bytes)>,
    quorum: Option<Quorum>,
}

/// Builds the tasks from `records`, every `(key, value)` in key order.
pub(crate) fn recover(records: impl Iterator<Item = (Vec<u8>, Bytes)>) -> Recovered {
    let mut recovered = Recovered::default();
    let mut tasks: Vec<(TaskId, Fields)> = Vec::new();
    for (key, value) in records {
        let Some((id, tag, rest)) = split_key(&key) else {
            recovered.found.skipped += 1;
            continue;
        };
        if id == TaskId(0) {
            if tag == META && rest == [META_IDS] {
                recovered.ids = postcard::from_bytes(&value).ok();
            }
            continue;
        }
        if tasks.last().is_none_or(|(last, _)| *last != id) {
            tasks.push((id, Fields::default()));
        }
        let Some((_, fields)) = tasks.last_mut() else {
            continue;
        };
        let ok = match tag {
            DATA => {
                fields.data = Some(value);
                true
            }
            STATIC => postcard::from_bytes(&value)
                .map(|record| fields.record = Some(record))
                .is_ok(),
            ATTEMPTS => <[u8; 4]>::try_from(&value[..])
                .map(|bytes| fields.attempts = u32::from_be_bytes(bytes))
                .is_ok(),
            FINAL => postcard::from_bytes(&value)
                .map(|record| fields.finished = Some(record))
                .is_ok(),
            RESULT => {
                fields.result = Some(value);
                true
            }
            QUORUM => postcard::from_bytes(&value)
                .map(|quorum| fields.quorum = Some(quorum))
                .is_ok(),
            PART_RESULT => <[u8; 4]>::try_from(rest)
                .map(|index| {
                    let index = u32::from_be_bytes(index) as usize;
                    fields.part_results.push((index, value));
                })
                .is_ok(),
            _ => false,
        };
        if !ok {
            recovered.found.skipped += 1;
        }
    }
    build(tasks, &mut recovered);
    recovered
}

/// A key's task id, tag and what follows.
fn split_key(key: &[u8]) -> Option<(TaskId, u8, &[u8])> {
    let id = u64::from_be_bytes(key.get(..8)?.try_into().ok()?);
    Some((TaskId(id), *key.get(8)?, &key[9..]))
}

/// What the parts of a split task share: its data, its parts' results,
/// and its product check (one, prepared when first needed).
#[derive(Debug, Default)]
struct SplitSource {
    data: Bytes,
    results: Vec<Option<SharedText>>,
    check: Option<(u64, SharedProduct)>,
}

impl SplitSource {
    /// The check `spec` describes; the parts share one product check.
    fn check(&mut self, spec: CheckSpec) -> Option<TaskCheck> {
        let product = match &self.check {
            Some((seed, product)) if *seed == spec.seed => product.clone(),
            _ => {
                let product = lazy_product(self.data.clone(), spec);
                self.check = Some((spec.seed, product.clone()));
                product
            }
        };
        Some(product.rows(spec.rows()?, spec.seed))
    }
}

/// The product check of task data `data` that `spec` describes, prepared
/// when a result first needs it.
fn lazy_product(data: Bytes, spec: CheckSpec) -> SharedProduct {
    let seed = spec.seed;
    let (inner, cols) = (spec.inner as usize, spec.cols as usize);
    let prepare =
        move || plan::rebuild_product_check(&SharedText::from_utf8_bytes(data.clone()), seed);
    SharedProduct::lazy(Box::new(prepare), inner, cols)
}

/// Turns the fields read into restored tasks.
fn build(tasks: Vec<(TaskId, Fields)>, recovered: &mut Recovered) {
    let now_ms = layout::now_ms();
    let mut splits: HashMap<TaskId, SplitSource> = HashMap::new();
    let mut parts: Vec<(TaskId, Fields)> = Vec::new();
    let found = &mut recovered.found;
    let mut whole = Vec::new();
    for (id, fields) in tasks {
        match &fields.record {
            Some(Static::Part { .. }) => parts.push((id, fields)),
            Some(_) => match whole_task(id, fields, now_ms, &mut splits, found) {
                Some(task) => whole.push(task),
                None => found.skipped += 1,
            },
            None => found.skipped += 1,
        }
    }
    // Each split task's parts queue right after it, in row order.
    let mut by_split: HashMap<TaskId, Vec<RestoredTask>> = HashMap::new();
    for (id, fields) in parts {
        match part_task(id, fields, now_ms, &mut splits, found) {
            Some((part, task)) => by_split.entry(part.split).or_default().push(task),
            None => found.skipped += 1,
        }
    }
    for mut task in whole {
        let id = task.id;
        let mut parts = by_split.remove(&id).unwrap_or_default();
        parts.sort_by_key(|part| match part.kind {
            RestoredKind::Part(part) => part.index,
            _ => 0,
        });
        if let RestoredKind::Split { parts: ids, .. } = &mut task.kind {
            for part in &parts {
                if let RestoredKind::Part(at) = part.kind
                    && let Some(slot) = ids.get_mut(at.index)
                {
                    *slot = part.id;
                }
            }
        }
        recovered.tasks.push(task);
        recovered.tasks.extend(parts);
    }
}

/// A task that is not a part: a plain task or a split task.
fn whole_task(
    id: TaskId,
    fields: Fields,
    now_ms: u64,
    splits: &mut HashMap<TaskId, SplitSource>,
    found: &mut Found,
) -> Option<RestoredTask> {
    let data = fields.data?;
    found.bytes += data.len() as u64;
    let text = SharedText::from_utf8_bytes(data.clone());
    // A completed task takes no more results: its check is not needed.
    let completed = is_completed(fields.finished.as_ref());
    let (kind, check, result) = match fields.record? {
        Static::One { check } => {
            let check = match fields.quorum {
                Some(quorum) => Some(TaskCheck::Quorum(quorum)),
                None => check.filter(|_| !completed).and_then(|spec| {
                    Some(lazy_product(data.clone(), spec).rows(spec.rows()?, spec.seed))
                }),
            };
            let result = fields.result.map(|bytes| {
                found.bytes += bytes.len() as u64;
                SharedText::from_utf8_bytes(bytes)
            });
            (RestoredKind::One, check, result)
        }
        Static::Split { parts } => {
            found.split_tasks += 1;
            let mut results = vec![None; parts as usize];
            for (index, result) in fields.part_results {
                found.bytes += result.len() as u64;
                if let Some(slot) = results.get_mut(index) {
                    *slot = Some(SharedText::from_utf8_bytes(result));
                }
            }
            let product = results
                .iter()
                .cloned()
                .collect::<Option<Vec<_>>>()
                .and_then(|all| crate::queue::assemble(&all).ok());
            splits.insert(
                id,
                SplitSource {
                    data,
                    results: results.clone(),
                    check: None,
                },
            );
            let parts = vec![TaskId(0); parts as usize];
            (RestoredKind::Split { parts, results }, None, product)
        }
        Static::Part { .. } => return None,
    };
    let finished = match fields.finished {
        Some(record) => Some(finish(record, result, found)?.at(now_ms)),
        None => {
            if matches!(kind, RestoredKind::One) {
                found.pending += 1;
            }
            None
        }
    };
    Some(RestoredTask {
        id,
        data: text,
        check,
        attempts: fields.attempts,
        kind,
        finished,
    })
}

/// A part of a split task, its data rebuilt from its split task's.
fn part_task(
    id: TaskId,
    fields: Fields,
    now_ms: u64,
    splits: &mut HashMap<TaskId, SplitSource>,
    found: &mut Found,
) -> Option<(PartRef, RestoredTask)> {
    let Some(Static::Part {
        split,
        index,
        pieces,
        check,
    }) = fields.record
    else {
        return None;
    };
    let part = PartRef {
        split: TaskId(split),
        index: index as usize,
    };
    let source = splits.get_mut(&part.split)?;
    let mut borrowed = 0;
    let pieces = pieces
        .into_iter()
        .map(|piece| match piece {
            Piece::Literal(bytes) => Some(Bytes::from(bytes)),
            Piece::Slice { start, len } => {
                let start = usize::try_from(start).ok()?;
                let end = start.checked_add(usize::try_from(len).ok()?)?;
                borrowed += end - start;
                (end <= source.data.len()).then(|| source.data.slice(start..end))
            }
        })
        .collect::<Option<Vec<_>>>()?;
    let data = SharedText::from_pieces(pieces).borrowing(borrowed);
    let check = match fields.quorum {
        Some(quorum) => Some(TaskCheck::Quorum(quorum)),
        None => check
            .filter(|_| !is_completed(fields.finished.as_ref()))
            .and_then(|spec| source.check(spec)),
    };
    let result = source.results.get(part.index).cloned().flatten();
    let finished = match fields.finished {
        Some(record) => Some(finish(record, result, found)?.at(now_ms)),
        None => {
            found.pending += 1;
            None
        }
    };
    let task = RestoredTask {
        id,
        data,
        check,
        attempts: fields.attempts,
        kind: RestoredKind::Part(part),
        finished,
    };
    Some((part, task))
}

/// Whether a task's final record says it completed.
fn is_completed(finished: Option<&Final>) -> bool {
    finished.is_some_and(|record| {
        matches!(
            record.outcome,
            FinalOutcome::Completed | FinalOutcome::Assembled
        )
    })
}

/// How a task ended, from its record, before its age is known.
struct Finishing {
    outcome: RestoredOutcome,
    worker: Option<WorkerId>,
    finished_at_ms: u64,
}

impl Finishing {
    /// The finish, aged as of `now_ms`.
    fn at(self, now_ms: u64) -> RestoredFinish {
        RestoredFinish {
            outcome: self.outcome,
            worker: self.worker,
            age: Duration::from_millis(now_ms.saturating_sub(self.finished_at_ms)),
        }
    }
}

/// How a task ended, from its record; `None` for a completed task whose
/// result is missing.
fn finish(record: Final, result: Option<SharedText>, found: &mut Found) -> Option<Finishing> {
    let outcome = match record.outcome {
        FinalOutcome::Completed | FinalOutcome::Assembled => {
            found.completed += 1;
            RestoredOutcome::Completed(result?)
        }
        FinalOutcome::Failed(error) => {
            found.failed += 1;
            RestoredOutcome::Failed(Arc::from(error))
        }
        FinalOutcome::Cancelled => {
            found.failed += 1;
            RestoredOutcome::Cancelled
        }
    };
    Some(Finishing {
        outcome,
        worker: record.worker.map(|w| WorkerId::from_param(Some(&w))),
        finished_at_ms: record.finished_at_ms,
    })
}
