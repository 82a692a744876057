//! How a submitted task is queued: as it is, with a check of its results,
//! or split into row-block parts that are each checked.
//!
//! A task whose data is a matrix pair `{"A":..,"B":..}` ([`MatrixPair`])
//! gets a [`ProductCheck`] prepared from its operands with a secret random
//! seed (unless verification is off). If its product costs at least
//! [`Config::split_min_flops`], it is split into as many parts as workers
//! were seen recently, between [`MIN_PARTS`] and [`Config::max_parts`].
//! Anything else (other task data, matrices that do not read or do not
//! multiply) is queued untouched, for the worker to compute or report.
//!
//! Reading the operands costs `O(n^2)`; the handlers run [`plan`] outside
//! the queue's lock (and off the async runtime for large bodies).

use std::sync::Arc;

use kernel::verify::{ProductCheck, VerifyError, fresh_seed};

use crate::config::Config;
use crate::operands::{self, OperandSpans};
use crate::queue::{PartSpec, TaskCheck};
use crate::split::MatrixPair;
use crate::task_data::TaskData;

/// A split task has at least this many parts.
pub const MIN_PARTS: usize = 2;

/// How to queue one submitted task.
#[derive(Debug)]
pub enum Plan {
    /// As it is, results unchecked.
    Plain,
    /// As it is, every result checked.
    Checked(TaskCheck),
    /// As parts (each checked when verification is on).
    Split(Vec<PartSpec>),
}

/// Decides how to queue task `data` (JSON text) given `config` and the
/// number of workers seen recently.
pub fn plan(config: &Config, workers_seen: usize, data: &TaskData) -> Plan {
    let found = data
        .as_str()
        .and_then(|text| operands::find(text).ok().flatten());
    plan_found(config, workers_seen, data, found.as_ref())
}

/// As [`plan`], with the spans of the operands in `data` already found
/// (by [`operands::find`], when the body was checked as JSON).
pub fn plan_found(
    config: &Config,
    workers_seen: usize,
    data: &TaskData,
    found: Option<&OperandSpans>,
) -> Plan {
    // Submitted data is one piece: the request body.
    let ([source], Some(found)) = (data.pieces(), found) else {
        return Plan::Plain;
    };
    let Some(pair) = std::str::from_utf8(source)
        .ok()
        .and_then(|text| MatrixPair::from_operands(text, found))
    else {
        return Plan::Plain;
    };
    let check = if config.verify {
        match ProductCheck::from_text(pair.a_text(), pair.b_text(), fresh_seed()) {
            Ok(check) => Some(Arc::new(check)),
            // The worker will find the same problem and report it.
            Err(_) => return Plan::Plain,
        }
    } else {
        None
    };
    let parts = part_count(config, workers_seen, &pair);
    if parts >= MIN_PARTS {
        let specs = pair
            .split(source, parts)
            .into_iter()
            .map(|part| PartSpec {
                data: part.data,
                check: check.as_ref().map(|check| TaskCheck {
                    check: Arc::clone(check),
                    rows: part.rows,
                }),
            })
            .collect();
        return Plan::Split(specs);
    }
    match check {
        Some(check) => Plan::Checked(TaskCheck {
            check,
            rows: 0..pair.rows(),
        }),
        None => Plan::Plain,
    }
}

/// How many parts to split `pair` into: 0 when it is not split.
fn part_count(config: &Config, workers_seen: usize, pair: &MatrixPair<'_>) -> usize {
    let Some(min_flops) = config.split_min_flops else {
        return 0;
    };
    if pair.flops() < u128::from(min_flops) || config.max_parts < MIN_PARTS {
        return 0;
    }
    let parts = workers_seen
        .clamp(MIN_PARTS, config.max_parts)
        .min(pair.rows());
    if parts >= MIN_PARTS { parts } else { 0 }
}

/// Checks a worker's `result` text against `check`.
///
/// # Errors
///
/// The [`VerifyError`] that rejects it.
pub fn verify(check: &TaskCheck, result: &str) -> Result<(), VerifyError> {
    check.check.check_rows_text(check.rows.clone(), result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(split_min_flops: Option<u64>) -> Config {
        Config {
            split_min_flops,
            ..Config::default()
        }
    }

    const PAIR: &str = r#"{"A":"[[1,2],[3,4],[5,6]]","B":"[[1,0],[0,1]]"}"#;

    #[test]
    fn non_matrix_data_is_queued_untouched() {
        for data in [
            r#""text""#,
            "{}",
            r#"{"A":"[[1,x]]","B":"[[1]]"}"#,
            r#"{"A":"[[1]]","B":"[[1,2],[3,4]]"}"#,
        ] {
            assert!(
                matches!(plan(&config(Some(0)), 4, &data.into()), Plan::Plain),
                "{data}"
            );
        }
    }

    #[test]
    fn small_products_are_checked_whole() {
        let Plan::Checked(check) = plan(&config(Some(1_000)), 4, &PAIR.into()) else {
            panic!("not checked whole");
        };
        assert_eq!(check.rows, 0..3);
        assert_eq!(verify(&check, "[[1,2],[3,4],[5,6]]"), Ok(()));
        assert!(verify(&check, "[[1,2],[3,4],[5,7]]").is_err());
    }

    #[test]
    fn large_products_are_split_by_workers_seen_within_bounds() {
        let count = |workers| match plan(&config(Some(1)), workers, &PAIR.into()) {
            Plan::Split(parts) => parts.len(),
            other => panic!("not split: {other:?}"),
        };
        assert_eq!(count(0), 2, "at least two parts");
        assert_eq!(count(2), 2);
        assert_eq!(count(9), 3, "no more parts than rows");
        let Plan::Split(parts) = plan(&config(Some(1)), 3, &PAIR.into()) else {
            panic!("not split");
        };
        let check = parts[2]
            .check
            .as_ref()
            .unwrap_or_else(|| panic!("unchecked"));
        assert_eq!(check.rows, 2..3);
        assert_eq!(
            parts[2].data.to_text(),
            r#"{"A":"[[5,6]]","B":"[[1,0],[0,1]]"}"#
        );
        assert_eq!(verify(check, "[[5,6]]"), Ok(()));
        assert!(verify(check, "[[1,2]]").is_err());
    }

    #[test]
    fn switches_turn_splitting_and_checking_off() {
        assert!(matches!(
            plan(&config(None), 4, &PAIR.into()),
            Plan::Checked(_)
        ));
        let unchecked = Config {
            verify: false,
            ..config(None)
        };
        assert!(matches!(plan(&unchecked, 4, &PAIR.into()), Plan::Plain));
        let split_unchecked = Config {
            verify: false,
            ..config(Some(1))
        };
        let Plan::Split(parts) = plan(&split_unchecked, 4, &PAIR.into()) else {
            panic!("not split");
        };
        assert!(parts.iter().all(|p| p.check.is_none()));
    }
}
