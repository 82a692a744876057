//! One log line per change of a task, with what the use case that made it
//! spent on the task's bytes.
//!
//! The lines are the per-task lifecycle at `info` (submitted, assigned,
//! completed, late answers kept, votes) and `warn` (requeued after an
//! expired lease, rejected, failed); parts queued and tasks evicted are
//! `debug`.

use tracing::{debug, info, warn};

use super::cost::{Cost, Spent};
use crate::queue::{Change, RequeueReason, WorkerId};

/// Logs `change`; `cost` is what the use case that made it measured.
pub(super) fn change(change: &Change, cost: &Cost) {
    let wall = |spent: Option<Spent>| spent.map(Spent::wall_ms);
    let cpu = |spent: Option<Spent>| spent.and_then(Spent::cpu_ms);
    match change {
        Change::Submitted { id, data, .. } => info!(
            task = %id,
            bytes = data.len(),
            read_ms = wall(cost.read),
            read_cpu_ms = cpu(cost.read),
            plan_ms = wall(cost.plan),
            plan_cpu_ms = cpu(cost.plan),
            "task submitted"
        ),
        Change::SplitSubmitted { id, data, parts } => info!(
            task = %id,
            bytes = data.len(),
            parts,
            read_ms = wall(cost.read),
            read_cpu_ms = cpu(cost.read),
            plan_ms = wall(cost.plan),
            plan_cpu_ms = cpu(cost.plan),
            "task submitted, split into parts"
        ),
        Change::PartSubmitted { id, part, .. } => {
            debug!(task = %id, split = %part.split, part = part.index + 1, "part queued");
        }
        Change::Leased {
            id,
            part,
            worker,
            attempts,
            work,
            ..
        } => match part {
            // A part's cost is known where it was planned (not on Redis).
            Some(part) if *work > 0 => info!(
                task = %id,
                worker = %worker,
                attempt = attempts,
                split = %part.split,
                part = part.index,
                gflop = *work as f64 / 1e9,
                "task assigned"
            ),
            Some(part) => info!(
                task = %id,
                worker = %worker,
                attempt = attempts,
                split = %part.split,
                part = part.index,
                "task assigned"
            ),
            None => info!(task = %id, worker = %worker, attempt = attempts, "task assigned"),
        },
        Change::Requeued { id, reason, .. } => match reason {
            RequeueReason::LeaseExpired => warn!(task = %id, "lease expired, task requeued"),
            RequeueReason::Released => info!(task = %id, "task released"),
            RequeueReason::Rejected => warn!(task = %id, "task requeued after a rejected result"),
        },
        Change::Completed { id, worker, .. } => info!(
            task = %id,
            worker = name(worker.as_ref()),
            read_ms = wall(cost.read),
            read_cpu_ms = cpu(cost.read),
            verify_ms = wall(cost.verify),
            verify_cpu_ms = cpu(cost.verify),
            "task completed"
        ),
        Change::Assembled { id, result } => info!(
            task = %id,
            bytes = result.len(),
            assemble_ms = wall(cost.decide),
            assemble_cpu_ms = cpu(cost.decide),
            "split task completed"
        ),
        Change::Failed {
            id, error, worker, ..
        } => warn!(
            task = %id,
            worker = name(worker.as_ref()),
            error = &**error,
            "task failed"
        ),
        Change::Cancelled { id, part } => match part {
            Some(part) => info!(task = %id, split = %part.split, "part cancelled"),
            None => info!(task = %id, "task cancelled"),
        },
        Change::Kept { id, worker, .. } => info!(
            task = %id,
            worker = %worker,
            "late answer kept: it stands if the current holder does not answer"
        ),
        Change::Voted {
            id,
            worker,
            agreeing,
            ..
        } => info!(task = %id, worker = %worker, agreeing, "answer counted towards the quorum"),
        Change::Rejected {
            id,
            worker,
            reason,
            counted,
            benched,
            ..
        } => {
            let by = name(worker.as_ref());
            if *counted {
                warn!(task = %id, worker = by, reason = &**reason, "result rejected");
            } else {
                warn!(task = %id, worker = by, reason = &**reason, "result from a client that holds no lease of the task rejected");
            }
            if *benched {
                warn!(
                    worker = by,
                    "worker benched after repeated rejected results"
                );
            }
        }
        Change::Evicted { id } => debug!(task = %id, "task evicted"),
    }
}

fn name(worker: Option<&WorkerId>) -> &str {
    worker.map_or(WorkerId::UNKNOWN, WorkerId::as_str)
}
