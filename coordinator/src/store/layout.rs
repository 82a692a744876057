//! How the task state lies in the store: keys, values, and the operations
//! each change of the record becomes.
//!
//! Every key starts with the 8 big-endian bytes of a task id, so a scan in
//! key order meets each task's fields together and evicting a task deletes
//! one key prefix. A field tag follows:
//!
//! | key | value | written when |
//! |---|---|---|
//! | `id d` | the task data, as received | submitted (not for parts) |
//! | `id s` | [`Static`]: kind, check seed and rows, a part's data as pieces of its split task's data | submitted |
//! | `id q` | [`Quorum`]: a replicated task's replicas and quorum | submitted (replicated tasks only) |
//! | `id a` | attempts, `u32` big-endian | leased, given back |
//! | `id f` | [`Final`]: how it ended, by whom, when | completed, failed, cancelled, assembled |
//! | `id r` | the result text | completed (not for parts) |
//! | `split p index` | a part's result, kept under its split task until that is evicted | a part completed |
//! | `0 m i` | the reserved [`IdWindow`] | ids reserved |
//!
//! Task data and results are written as the bytes the coordinator holds,
//! never copied into a record; the small records are [`postcard`]-encoded.
//! Leases are not kept (a processing task comes back pending), nor are
//! rejections, worker statistics, a former holder's answer kept aside or a
//! replicated task's votes (the task is handed out afresh; an agreed
//! result is kept like any other).

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::check::{ProductRows, Quorum, TaskCheck};
use crate::queue::{Change, Changes, IdWindow, TaskId};
use crate::shared_text::SharedText;

/// The version of this layout. A store written by another version is
/// refused at open.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// Field tags.
pub(super) const DATA: u8 = b'd';
pub(super) const STATIC: u8 = b's';
pub(super) const ATTEMPTS: u8 = b'a';
pub(super) const FINAL: u8 = b'f';
pub(super) const RESULT: u8 = b'r';
pub(super) const PART_RESULT: u8 = b'p';
pub(super) const QUORUM: u8 = b'q';
pub(super) const META: u8 = b'm';
/// Meta key names (under task id 0, which is never a task).
pub(super) const META_IDS: u8 = b'i';

/// The key of field `tag` of task `id`.
pub(super) fn key(id: TaskId, tag: u8) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    key.extend_from_slice(&id.0.to_be_bytes());
    key.push(tag);
    key
}

/// The key of the result of part `index` of split task `split`.
pub(super) fn part_result_key(split: TaskId, index: usize) -> Vec<u8> {
    let mut key = key(split, PART_RESULT);
    key.extend_from_slice(&(index as u32).to_be_bytes());
    key
}

/// The key of meta record `name`.
pub(super) fn meta_key(name: u8) -> Vec<u8> {
    let mut key = key(TaskId(0), META);
    key.push(name);
    key
}

/// What never changes about a task, written when it is submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Static {
    /// A task workers compute as it is (its data is under `d`).
    One {
        /// Its check, if it has one.
        check: Option<CheckSpec>,
    },
    /// A split task (its data is under `d`).
    Split {
        /// How many parts it has.
        parts: u32,
    },
    /// A part of a split task.
    Part {
        /// The split task.
        split: u64,
        /// The part's place, in row order.
        index: u32,
        /// Its data: literals and slices of the split task's data.
        pieces: Vec<Piece>,
        /// Its check, if it has one.
        check: Option<CheckSpec>,
    },
}

/// A check kept as what rebuilds it: the seed it was prepared with and the
/// rows of the product it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct CheckSpec {
    /// The seed.
    pub(super) seed: u64,
    /// The product's inner dimension.
    pub(super) inner: u64,
    /// Columns of the product.
    pub(super) cols: u64,
    /// First row.
    pub(super) start: u64,
    /// One past the last row.
    pub(super) end: u64,
}

impl CheckSpec {
    /// The rows, when they fit this machine's `usize`.
    pub(super) fn rows(self) -> Option<std::ops::Range<usize>> {
        Some(usize::try_from(self.start).ok()?..usize::try_from(self.end).ok()?)
    }

    /// The spec of a task's check, when it is a product check.
    pub(super) fn of(check: &TaskCheck) -> Option<Self> {
        let product: &ProductRows = check.product()?;
        let rows = product.rows();
        Some(Self {
            seed: product.seed(),
            inner: product.inner() as u64,
            cols: product.cols() as u64,
            start: rows.start as u64,
            end: rows.end as u64,
        })
    }
}

/// One piece of a part's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Piece {
    /// Bytes of its own (the few literal bytes around the operands).
    Literal(Vec<u8>),
    /// `len` bytes of the split task's data from `start`.
    Slice {
        /// Offset in the split task's data.
        start: u64,
        /// Length.
        len: u64,
    },
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Final {
    /// The outcome.
    pub(super) outcome: FinalOutcome,
    /// The worker credited with it.
    pub(super) worker: Option<String>,
    /// When, in milliseconds since the Unix epoch.
    pub(super) finished_at_ms: u64,
}

/// A finished task's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum FinalOutcome {
    /// Completed; the result is under `r` (or its parts' under `p`).
    Completed,
    /// A split task completed: its product is its parts' results joined.
    Assembled,
    /// Failed with this error.
    Failed(String),
    /// Cancelled by its client.
    Cancelled,
}

/// The bytes of a value: shared bytes the coordinator holds (task data,
/// results), or an encoded record.
#[derive(Debug, Clone)]
pub(super) enum Value {
    /// Held bytes, written as they are.
    Shared(Bytes),
    /// An encoded record.
    Owned(Vec<u8>),
}

impl AsRef<[u8]> for Value {
    fn as_ref(&self) -> &[u8] {
        match self {
            Self::Shared(bytes) => bytes,
            Self::Owned(bytes) => bytes,
        }
    }
}

/// One write to the store.
#[derive(Debug, Clone)]
pub(super) enum Op {
    /// Sets `key` to `value`.
    Put(Vec<u8>, Value),
    /// Removes every key that starts with this task's id.
    DeleteTask(TaskId),
}

impl Op {
    /// Bytes this operation writes (keys and values).
    pub(super) fn bytes(&self) -> usize {
        match self {
            Self::Put(key, value) => key.len() + value.as_ref().len(),
            Self::DeleteTask(_) => 8,
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

fn encode<T: Serialize>(record: &T) -> Value {
    // Encoding these plain records into a vector cannot fail.
    Value::Owned(postcard::to_stdvec(record).unwrap_or_default())
}

/// The single piece of a text (task data and worker results are held in
/// one), or its pieces joined.
fn one_piece(text: &SharedText) -> Bytes {
    match text.pieces() {
        [] => Bytes::new(),
        [one] => one.clone(),
        pieces => Bytes::from(pieces.concat()),
    }
}

/// The pieces of a part's `data` as literals and slices of `source`, its
/// split task's data.
fn part_pieces(data: &SharedText, source: &Bytes) -> Vec<Piece> {
    let base = source.as_ptr() as usize;
    data.pieces()
        .iter()
        .map(|piece| {
            let start = piece.as_ptr() as usize;
            if start >= base && start + piece.len() <= base + source.len() {
                Piece::Slice {
                    start: (start - base) as u64,
                    len: piece.len() as u64,
                }
            } else {
                Piece::Literal(piece.to_vec())
            }
        })
        .collect()
}

/// Stores a replicated task's quorum under `q`.
fn quorum_op(id: TaskId, check: Option<&TaskCheck>, ops: &mut Vec<Op>) {
    if let Some(quorum) = check.and_then(TaskCheck::quorum) {
        ops.push(Op::Put(key(id, QUORUM), encode::<Quorum>(&quorum)));
    }
}

/// The operations that store the reservation `window`.
pub(super) fn reservation(window: IdWindow) -> Op {
    Op::Put(meta_key(META_IDS), encode(&window))
}

/// Appends the operations that store `changes` to `ops`. A split task and
/// its parts are submitted in one record, so the parts' data is kept as
/// slices of the split task's data seen just before.
pub(super) fn ops(changes: &Changes, ops: &mut Vec<Op>) {
    let mut split_data: Option<(TaskId, Bytes)> = None;
    let finished = |outcome, worker: Option<&crate::queue::WorkerId>| {
        encode(&Final {
            outcome,
            worker: worker.map(|w| w.as_str().to_owned()),
            finished_at_ms: now_ms(),
        })
    };
    for change in changes {
        match change {
            Change::Submitted { id, data, check } => {
                ops.push(Op::Put(key(*id, DATA), Value::Shared(one_piece(data))));
                let spec = check.as_ref().and_then(CheckSpec::of);
                ops.push(Op::Put(
                    key(*id, STATIC),
                    encode(&Static::One { check: spec }),
                ));
                quorum_op(*id, check.as_ref(), ops);
            }
            Change::SplitSubmitted { id, data, parts } => {
                let data = one_piece(data);
                split_data = Some((*id, data.clone()));
                ops.push(Op::Put(key(*id, DATA), Value::Shared(data)));
                let parts = *parts as u32;
                ops.push(Op::Put(key(*id, STATIC), encode(&Static::Split { parts })));
            }
            Change::PartSubmitted {
                id,
                part,
                data,
                check,
            } => {
                let pieces = match &split_data {
                    Some((split, source)) if *split == part.split => part_pieces(data, source),
                    _ => vec![Piece::Literal(one_piece(data).to_vec())],
                };
                let record = Static::Part {
                    split: part.split.0,
                    index: part.index as u32,
                    pieces,
                    check: check.as_ref().and_then(CheckSpec::of),
                };
                ops.push(Op::Put(key(*id, STATIC), encode(&record)));
                quorum_op(*id, check.as_ref(), ops);
            }
            Change::Leased { id, attempts, .. } | Change::Requeued { id, attempts, .. } => {
                let attempts = attempts.to_be_bytes().to_vec();
                ops.push(Op::Put(key(*id, ATTEMPTS), Value::Owned(attempts)));
            }
            Change::Completed {
                id,
                part,
                result,
                worker,
            } => {
                let result_key = match part {
                    Some(part) => part_result_key(part.split, part.index),
                    None => key(*id, RESULT),
                };
                ops.push(Op::Put(result_key, Value::Shared(one_piece(result))));
                let record = finished(FinalOutcome::Completed, worker.as_ref());
                ops.push(Op::Put(key(*id, FINAL), record));
            }
            Change::Assembled { id, .. } => {
                let record = finished(FinalOutcome::Assembled, None);
                ops.push(Op::Put(key(*id, FINAL), record));
            }
            Change::Failed {
                id, error, worker, ..
            } => {
                let record = finished(FinalOutcome::Failed(error.to_string()), worker.as_ref());
                ops.push(Op::Put(key(*id, FINAL), record));
            }
            Change::Cancelled { id, .. } => {
                let record = finished(FinalOutcome::Cancelled, None);
                ops.push(Op::Put(key(*id, FINAL), record));
            }
            Change::Rejected { .. } | Change::Kept { .. } | Change::Voted { .. } => {}
            Change::Evicted { id } => ops.push(Op::DeleteTask(*id)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn keys_group_a_tasks_fields_and_sort_by_id() {
        let mut keys = [
            key(TaskId(2), DATA),
            part_result_key(TaskId(1), 1),
            key(TaskId(1), STATIC),
            meta_key(META_IDS),
            part_result_key(TaskId(1), 0),
            key(TaskId(300), DATA),
        ];
        keys.sort();
        assert_eq!(keys[0], meta_key(META_IDS));
        assert_eq!(keys[1], part_result_key(TaskId(1), 0));
        assert_eq!(keys[2], part_result_key(TaskId(1), 1));
        assert_eq!(keys[3], key(TaskId(1), STATIC));
        assert_eq!(keys[4], key(TaskId(2), DATA));
        assert_eq!(keys[5][..8], 300u64.to_be_bytes());
    }

    #[test]
    fn a_parts_data_is_kept_as_slices_of_its_split_tasks_data() {
        let body = Bytes::from_static(b"{\"A\":\"[[1],[2]]\",\"B\":\"[[3]]\"}");
        let data = SharedText::from_pieces(vec![
            Bytes::from_static(b"{\"A\":\"["),
            body.slice(7..10),
            Bytes::from_static(b"]\","),
            body.slice(17..28),
        ]);
        let pieces = part_pieces(&data, &body);
        assert_eq!(
            pieces,
            vec![
                Piece::Literal(b"{\"A\":\"[".to_vec()),
                Piece::Slice { start: 7, len: 3 },
                Piece::Literal(b"]\",".to_vec()),
                Piece::Slice { start: 17, len: 11 },
            ]
        );
    }

    #[test]
    fn records_read_back_as_written() {
        let record = Static::Part {
            split: 1,
            index: 2,
            pieces: vec![Piece::Slice { start: 3, len: 4 }],
            check: Some(CheckSpec {
                seed: u64::MAX,
                inner: 3,
                cols: 4,
                start: 5,
                end: 9,
            }),
        };
        let Value::Owned(bytes) = encode(&record) else {
            panic!("not encoded");
        };
        assert_eq!(postcard::from_bytes::<Static>(&bytes).unwrap(), record);
    }
}
