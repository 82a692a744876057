//! How one task's state lies in its Redis hash.
//!
//! | field | value | written when |
//! |---|---|---|
//! | `d` | the task data, as received | created |
//! | `c` | the prepared product check (`ProductCheck::to_bytes`), under the task, or under the split task for its parts | created |
//! | `s` | [`StateRecord`], [`postcard`]-encoded: status, attempts, leases, check, ... | every change |
//! | `r` | the result text | completed |
//! | `q` | `1` while the id sits in the queue of pending ids, else `0` | every change |
//! | `v` | the version, counting up from 1 | every change |
//!
//! Data and results are written once, as the bytes the coordinator holds;
//! only the small state record is written again per change. A product
//! check is kept prepared (its vectors, `O(m + n)` numbers, in `c`), and
//! in the record as the seed and shape that rebuild it ([`CheckSpec`]) from
//! the data when `c` is missing.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::check::TaskCheck;
use crate::queue::{
    Answer, ClientKey, Holder, LeaseState, PartRef, Provisional, SplitData, TaskId, TaskState,
    TaskStatus, Vote, WorkerId,
};
use crate::shared_text::SharedText;
use crate::store::layout::CheckSpec;

/// The small, changing part of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct StateRecord {
    status: u8,
    attempts: u32,
    lease_generation: u64,
    leases: Vec<(u64, HolderRecord, u64)>,
    leased_by: Option<String>,
    last_holder: Option<HolderRecord>,
    last_error: Option<String>,
    evict_at_ms: Option<u64>,
    check: Option<CheckRecord>,
    part_of: Option<(u64, u32)>,
    split: Option<SplitRecord>,
    cancelled: bool,
    provisional: Option<(AnswerRecord, String, ClientRecord)>,
    votes: Vec<(AnswerRecord, ClientRecord)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct HolderRecord {
    client: ClientRecord,
    worker: String,
    tokened: bool,
    probation: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum ClientRecord {
    Unknown,
    V4([u8; 4]),
    V6([u8; 8]),
}

/// A task's check as what rebuilds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum CheckRecord {
    /// A product check: its seed and the rows it covers.
    Product(CheckSpec),
    /// A replicated task's quorum.
    Quorum {
        /// Workers handed the task at first.
        replicas: u32,
        /// Identical answers that complete it.
        agree: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SplitRecord {
    parts: Vec<u64>,
    results: Vec<Option<Vec<u8>>>,
    done_by: Vec<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum AnswerRecord {
    Result(Vec<u8>),
    Error(String),
}

impl ClientRecord {
    fn of(key: ClientKey) -> Self {
        match key {
            ClientKey::Unknown => Self::Unknown,
            ClientKey::V4(a) => Self::V4(a),
            ClientKey::V6(a) => Self::V6(a),
        }
    }

    fn key(self) -> ClientKey {
        match self {
            Self::Unknown => ClientKey::Unknown,
            Self::V4(a) => ClientKey::V4(a),
            Self::V6(a) => ClientKey::V6(a),
        }
    }
}

impl HolderRecord {
    fn of(holder: &Holder) -> Self {
        Self {
            client: ClientRecord::of(holder.client),
            worker: holder.worker.as_str().to_owned(),
            tokened: holder.tokened,
            probation: holder.probation,
        }
    }

    fn holder(self) -> Holder {
        Holder {
            client: self.client.key(),
            worker: worker(self.worker),
            tokened: self.tokened,
            probation: self.probation,
        }
    }
}

impl AnswerRecord {
    fn of(answer: &Answer) -> Self {
        match answer {
            Answer::Result(text) => Self::Result(bytes_of(text).to_vec()),
            Answer::Error(error) => Self::Error(error.to_string()),
        }
    }

    fn answer(self) -> Answer {
        match self {
            Self::Result(bytes) => Answer::Result(text(Bytes::from(bytes))),
            Self::Error(error) => Answer::Error(Arc::from(error)),
        }
    }
}

impl CheckRecord {
    /// The record of `check`.
    pub(super) fn of(check: &TaskCheck) -> Option<Self> {
        match check {
            TaskCheck::Product(_) => CheckSpec::of(check).map(Self::Product),
            TaskCheck::Quorum(quorum) => Some(Self::Quorum {
                replicas: quorum.replicas,
                agree: quorum.agree,
            }),
        }
    }
}

fn worker(id: String) -> WorkerId {
    WorkerId::from_param(Some(&id))
}

/// The bytes of `text` in one piece.
pub(super) fn bytes_of(text: &SharedText) -> Bytes {
    match text.pieces() {
        [] => Bytes::new(),
        [one] => one.clone(),
        pieces => Bytes::from(pieces.concat()),
    }
}

/// Text read back from Redis (written from valid UTF-8).
pub(super) fn text(bytes: Bytes) -> SharedText {
    SharedText::from_utf8_bytes(bytes)
}

const STATUSES: [TaskStatus; 4] = [
    TaskStatus::Pending,
    TaskStatus::Processing,
    TaskStatus::Completed,
    TaskStatus::Failed,
];

impl StateRecord {
    /// The record of `state` (its data and result are kept apart).
    pub(super) fn of(state: &TaskState) -> Self {
        Self {
            status: STATUSES
                .iter()
                .position(|s| *s == state.status)
                .unwrap_or(0) as u8,
            attempts: state.attempts,
            lease_generation: state.lease_generation,
            leases: state
                .leases
                .iter()
                .map(|l| (l.number, HolderRecord::of(&l.holder), l.expires_ms))
                .collect(),
            leased_by: state.leased_by.as_ref().map(|w| w.as_str().to_owned()),
            last_holder: state.last_holder.as_ref().map(HolderRecord::of),
            last_error: state.last_error.as_ref().map(|e| e.to_string()),
            evict_at_ms: state.evict_at_ms,
            check: state.check.as_ref().and_then(CheckRecord::of),
            part_of: state.part_of.map(|p| (p.split.0, p.index as u32)),
            split: state.split.as_ref().map(|split| SplitRecord {
                parts: split.parts.iter().map(|id| id.0).collect(),
                results: split
                    .results
                    .iter()
                    .map(|r| r.as_ref().map(|t| bytes_of(t).to_vec()))
                    .collect(),
                done_by: split
                    .done_by
                    .iter()
                    .map(|w| w.as_ref().map(|w| w.as_str().to_owned()))
                    .collect(),
            }),
            cancelled: state.cancelled,
            provisional: state.provisional.as_ref().map(|p| {
                (
                    AnswerRecord::of(&p.answer),
                    p.worker.as_str().to_owned(),
                    ClientRecord::of(p.client),
                )
            }),
            votes: state
                .votes
                .iter()
                .map(|v| (AnswerRecord::of(&v.answer), ClientRecord::of(v.client)))
                .collect(),
        }
    }

    /// Encoded for the `s` field.
    pub(super) fn encode(&self) -> Vec<u8> {
        // Encoding these plain records into a vector cannot fail.
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Decoded from the `s` field.
    pub(super) fn decode(bytes: &[u8]) -> Option<Self> {
        postcard::from_bytes(bytes).ok()
    }

    /// The check this record keeps.
    pub(super) fn check(&self) -> Option<CheckRecord> {
        self.check
    }

    /// The split task of a part.
    pub(super) fn part_of(&self) -> Option<TaskId> {
        self.part_of.map(|(split, _)| TaskId(split))
    }

    /// A split task's parts.
    pub(super) fn parts(&self) -> Vec<TaskId> {
        self.split
            .as_ref()
            .map(|s| s.parts.iter().copied().map(TaskId).collect())
            .unwrap_or_default()
    }

    /// The lease numbers and deadlines it holds.
    pub(super) fn leases(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.leases
            .iter()
            .map(|(number, _, expires)| (*number, *expires))
    }

    /// Whether it is completed: its result is never written again.
    pub(super) fn completed(&self) -> bool {
        STATUSES.get(usize::from(self.status)) == Some(&TaskStatus::Completed)
    }

    /// When it is evicted, once finished.
    pub(super) fn evict_at_ms(&self) -> Option<u64> {
        self.evict_at_ms
    }

    /// The task state, with `data`, `result` and the `check` rebuilt.
    pub(super) fn state(
        self,
        data: SharedText,
        result: Option<SharedText>,
        check: Option<TaskCheck>,
    ) -> TaskState {
        TaskState {
            data,
            status: STATUSES[usize::from(self.status).min(3)],
            attempts: self.attempts,
            lease_generation: self.lease_generation,
            leases: self
                .leases
                .into_iter()
                .map(|(number, holder, expires_ms)| LeaseState {
                    number,
                    holder: holder.holder(),
                    expires_ms,
                })
                .collect(),
            leased_by: self.leased_by.map(worker),
            last_holder: self.last_holder.map(HolderRecord::holder),
            result,
            last_error: self.last_error.map(Arc::from),
            evict_at_ms: self.evict_at_ms,
            check,
            part_of: self.part_of.map(|(split, index)| PartRef {
                split: TaskId(split),
                index: index as usize,
            }),
            split: self.split.map(|split| SplitData {
                parts: split.parts.into_iter().map(TaskId).collect(),
                results: split
                    .results
                    .into_iter()
                    .map(|r| r.map(|b| text(Bytes::from(b))))
                    .collect(),
                done_by: split.done_by.into_iter().map(|w| w.map(worker)).collect(),
            }),
            cancelled: self.cancelled,
            provisional: self
                .provisional
                .map(|(answer, worker_id, client)| Provisional {
                    answer: answer.answer(),
                    worker: worker(worker_id),
                    client: client.key(),
                }),
            votes: self
                .votes
                .into_iter()
                .map(|(answer, client)| Vote {
                    answer: answer.answer(),
                    client: client.key(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_state_record_reads_back_as_written() {
        let holder = Holder {
            client: ClientKey::V4([127, 0, 0, 1]),
            worker: WorkerId::from_param(Some("w1")),
            tokened: true,
            probation: false,
        };
        let state = TaskState {
            data: SharedText::from("{}"),
            status: TaskStatus::Processing,
            attempts: 2,
            lease_generation: 3,
            leases: vec![LeaseState {
                number: 3,
                holder: holder.clone(),
                expires_ms: 1_700_000_000_000,
            }],
            leased_by: Some(holder.worker.clone()),
            last_holder: Some(holder),
            result: None,
            last_error: Some(Arc::from("lease expired")),
            evict_at_ms: None,
            check: None,
            part_of: Some(PartRef {
                split: TaskId(7),
                index: 1,
            }),
            split: None,
            cancelled: false,
            provisional: Some(Provisional {
                answer: Answer::Result(SharedText::from("[[1]]")),
                worker: WorkerId::from_param(Some("w0")),
                client: ClientKey::Unknown,
            }),
            votes: Vec::new(),
        };
        let record = StateRecord::of(&state);
        let back = StateRecord::decode(&record.encode()).unwrap();
        assert_eq!(back, record);
        assert_eq!(back.part_of(), Some(TaskId(7)));
        assert_eq!(
            back.leases().collect::<Vec<_>>(),
            vec![(3, 1_700_000_000_000)]
        );
        let again = back.state(SharedText::from("{}"), None, None);
        assert_eq!(StateRecord::of(&again), record);
    }
}
