//! How a submitted body becomes tasks.
//!
//! [`Submission::read`] checks the body as JSON once; that read also finds
//! the top-level fields `A` and `B` ([`operands`]). [`plan`] then decides
//! what to queue: a task whose data is a matrix pair `{"A":..,"B":..}`
//! ([`MatrixPair`]) gets a Freivalds check prepared from its operands with a
//! secret random seed (unless verification is off). If its product costs at
//! least [`Config::split_min_flops`], it is split into one part per worker
//! likely to take one (the [`Crew`]: seen recently, not benched, not far
//! slower than the fastest), between [`MIN_PARTS`] and
//! [`Config::max_parts`], each a slice of the body. The parts' rows follow
//! the workers' measured speeds, fastest first, so that each worker's part
//! takes it about as long as the others' take them, counting the reading
//! of `B` that every part carries (a slow worker whose part would be
//! mostly reading is left out: `CrewPlan::rows_costs` in `queue/speed.rs`);
//! with no speeds measured, or with [`Config::equal_parts`], the parts are
//! equal. A part's work is its cost ([`part_cost`]): its flops and the
//! reading of its data. Anything
//! else (task data that is not a matrix pair) is queued untouched, for the
//! worker to compute or report.
//!
//! Reading the operands costs `O(n^2)`; the submit use case runs [`plan`]
//! outside the queue's lock (and off the async runtime for large bodies).

mod matrix_pair;
pub(crate) mod operands;

use std::ops::Range;

use bytes::Bytes;
use kernel::verify::{ProductCheck, fresh_seed};

use crate::check::{SharedProduct, TaskCheck};
use crate::config::Config;
use crate::queue::{Crew, NewPart, NewTask, SplitPace, part_cost};
use crate::shared_text::SharedText;
pub(crate) use matrix_pair::MatrixPair;
use matrix_pair::Operands;
use operands::OperandSpans;

/// A split task has at least this many parts.
pub(crate) const MIN_PARTS: usize = 2;

/// A `POST /task` body as the JSON text handed to workers: the body itself
/// when it is JSON, the body as a JSON string otherwise.
#[derive(Debug, Clone)]
pub(crate) struct Submission {
    /// The task data.
    data: SharedText,
    /// Where the matrices `A` and `B` are in it, when it is an object with
    /// both (found while the body was checked as JSON).
    operands: Option<OperandSpans>,
}

/// A submission with nothing in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Task body is empty")]
pub struct EmptyTask;

impl Submission {
    /// Reads a `POST /task` body, checking it as JSON once.
    ///
    /// # Errors
    ///
    /// [`EmptyTask`] for an empty (or all-whitespace) body.
    pub(crate) fn read(body: Bytes) -> Result<Self, EmptyTask> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(EmptyTask);
        }
        if let Ok(text) = std::str::from_utf8(&body)
            && let Ok(operands) = operands::find(text)
        {
            // The body itself, not a copy.
            return Ok(Self {
                data: SharedText::from_utf8_bytes(body),
                operands,
            });
        }
        let text = String::from_utf8_lossy(&body);
        // A string always serialises.
        let quoted = serde_json::to_string(&*text).unwrap_or_default();
        Ok(Self {
            data: SharedText::from(quoted),
            operands: None,
        })
    }
}

/// A matrix task whose matrices cannot be multiplied: what is wrong, in
/// the kernel's words (which matrix, which row, which value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid matrix task: {0}")]
pub struct BadTask(pub String);

/// Decides how to queue `submission` given `config` and the workers likely
/// to take its parts (`crew`).
///
/// # Errors
///
/// [`BadTask`] for a matrix task (an object whose `A` and `B` are matrix
/// texts or arrays) whose shapes do not multiply, or with a matrix that is
/// ragged, empty or holds a value that is not a number (with verification
/// off, values are not read: only the structure is checked).
pub(crate) fn plan(
    config: &Config,
    crew: &Crew,
    submission: Submission,
) -> Result<NewTask, BadTask> {
    let Submission { data, operands } = submission;
    // A task nothing can check is replicated when the settings ask for it.
    let quorum = config.quorum().map(TaskCheck::Quorum);
    let unchecked = |data| NewTask::One {
        data,
        check: quorum.clone(),
    };
    // Submitted data is one piece: the request body.
    let ([source], Some(found)) = (data.pieces(), operands.as_ref()) else {
        return Ok(unchecked(data));
    };
    let Some(operands) = std::str::from_utf8(source)
        .ok()
        .and_then(|text| Operands::find(text, found))
    else {
        return Ok(unchecked(data));
    };
    // The operands are read once: by the check, which also finds A's rows,
    // or, with verification off, by a scan of their structure.
    let seed = fresh_seed();
    let (pair, check) = if config.verify {
        let (check, a_rows) =
            ProductCheck::from_text_with_rows(operands.a_text(), operands.b_text(), seed)
                .map_err(|e| BadTask(e.to_string()))?;
        let (inner, b_cols) = (a_rows.cols, check.cols());
        (
            operands.with_rows(a_rows, b_cols),
            Some(SharedProduct::prepared(check, inner)),
        )
    } else {
        (operands.scan().map_err(BadTask)?, None)
    };
    let check_rows = |rows| match &check {
        Some(check) => Some(check.rows(rows, seed)),
        None => quorum.clone(),
    };
    if let Some((rows, pace)) = part_rows(config, crew, &pair) {
        let parts = rows
            .into_iter()
            .map(|rows| {
                let data = pair.part_data(source, rows.clone());
                NewPart {
                    work: part_cost(pair.rows_flops(&rows), data.len()),
                    data,
                    check: check_rows(rows),
                }
            })
            .collect();
        return Ok(NewTask::Split { data, parts, pace });
    }
    let check = check_rows(0..pair.rows());
    Ok(NewTask::One { data, check })
}

/// Prepares again the product check of task data `data` (a matrix pair as
/// submitted) with `seed`, as [`plan`] prepared it: how a store rebuilds
/// the checks of the tasks it recovers. `None` when `data` is not a matrix
/// pair whose check can be prepared.
pub(crate) fn rebuild_product_check(data: &SharedText, seed: u64) -> Option<ProductCheck> {
    let text = data.as_str()?;
    let found = operands::find(text).ok()??;
    let pair = Operands::find(text, &found)?;
    ProductCheck::from_text(pair.a_text(), pair.b_text(), seed).ok()
}

/// The row blocks to split `pair` into, with the pace of the crew they
/// were sized for when its speeds were measured; `None` when `pair` is not
/// split.
fn part_rows(
    config: &Config,
    crew: &Crew,
    pair: &MatrixPair<'_>,
) -> Option<(Vec<Range<usize>>, Option<SplitPace>)> {
    let min_flops = config.split_min_flops?;
    if pair.flops() < u128::from(min_flops) || config.max_parts < MIN_PARTS {
        return None;
    }
    if !config.parts_by_speed() {
        let parts = crew
            .len()
            .clamp(MIN_PARTS, config.max_parts)
            .min(pair.rows());
        return (parts >= MIN_PARTS).then(|| (pair.part_rows(parts), None));
    }
    let mut planned = crew.plan(config.max_parts);
    // Every part reads `B`; its rows cost their flops and reading `A`'s.
    let rows_cost = part_cost(pair.flops(), pair.a_text().len()) as f64;
    let read_cost = part_cost(0, pair.b_text().len()) as f64;
    let weights = planned.rows_costs(rows_cost, read_cost);
    let parts = weights
        .len()
        .clamp(MIN_PARTS, config.max_parts)
        .min(pair.rows());
    if parts < MIN_PARTS {
        return None;
    }
    let pace = match (planned.speeds.first(), planned.speeds.last()) {
        (Some(&fastest), Some(&slowest)) if planned.measured => Some(SplitPace {
            rate: planned.speeds.iter().sum(),
            fastest,
            slowest,
        }),
        _ => None,
    };
    // Fewer planned workers than parts (one, or tiny matrices): equal
    // parts, at the planned workers' pace.
    if weights.len() != parts {
        return Some((pair.part_rows(parts), pace));
    }
    Some((pair.weighted_part_rows(&weights), pace))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn config(split_min_flops: Option<u64>) -> Config {
        Config {
            split_min_flops,
            ..Config::default()
        }
    }

    const PAIR: &str = r#"{"A":"[[1,2],[3,4],[5,6]]","B":"[[1,0],[0,1]]"}"#;

    fn planned(config: &Config, workers: usize, data: &str) -> NewTask {
        try_plan(config, workers, data).unwrap()
    }

    fn try_plan(config: &Config, workers: usize, data: &str) -> Result<NewTask, BadTask> {
        try_plan_for(config, &Crew::new(vec![None; workers]), data)
    }

    fn try_plan_for(config: &Config, crew: &Crew, data: &str) -> Result<NewTask, BadTask> {
        let submission = Submission::read(Bytes::copy_from_slice(data.as_bytes())).unwrap();
        plan(config, crew, submission)
    }

    /// The rows of each part of a split task planned for `crew`, and its
    /// pace.
    fn split_rows(config: &Config, crew: &Crew, data: &str) -> (Vec<usize>, Option<SplitPace>) {
        match try_plan_for(config, crew, data).unwrap() {
            NewTask::Split { parts, pace, .. } => {
                let rows = parts
                    .iter()
                    .map(|p| p.check.as_ref().unwrap().product().unwrap().rows().len())
                    .collect();
                (rows, pace)
            }
            other => panic!("not split: {other:?}"),
        }
    }

    /// An integer n x n pair as task data.
    fn square(n: usize) -> String {
        let row = format!("[{}]", vec!["1"; n].join(","));
        let m = format!("[{}]", vec![row; n].join(","));
        format!(r#"{{"A":"{m}","B":"{m}"}}"#)
    }

    /// An integer pair of ones, `m x 1` by `1 x n`, as task data: each
    /// part reads little of `B` next to its rows.
    fn tall(m: usize, n: usize) -> String {
        let a = format!("[{}]", vec!["[1]"; m].join(","));
        let b = format!("[[{}]]", vec!["1"; n].join(","));
        format!(r#"{{"A":"{a}","B":"{b}"}}"#)
    }

    #[test]
    fn parts_follow_measured_speeds_fastest_first() {
        let config = config(Some(1));
        // A (1000 x 1) is 4,001 bytes and B (1 x 100) 203: every part
        // reads B (81,200 flops at 400 a byte) besides its rows (1,800,400
        // in all, flops and reading of A). Measured 4 : 1, T = (1,800,400
        // + 2 * 81,200) / 5e9: the fast worker's rows cost 4e9 T - 81,200
        // and the slow one's 1e9 T - 81,200, 4.8 : 1 rather than 4 : 1.
        let data = tall(1000, 100);
        let crew = Crew::new(vec![Some(1e9), Some(4e9)]);
        let (rows, pace) = split_rows(&config, &crew, &data);
        assert_eq!(rows, vec![827, 173]);
        assert_eq!(
            pace,
            Some(SplitPace {
                rate: 5e9,
                fastest: 4e9,
                slowest: 1e9,
            })
        );
        // Two fast and one slow.
        let crew = Crew::new(vec![Some(4e9), Some(1e9), Some(4e9)]);
        assert_eq!(split_rows(&config, &crew, &data).0, vec![460, 459, 81]);
        // Not measured yet: equal parts, no pace.
        let (rows, pace) = split_rows(&config, &Crew::new(vec![None, None]), &data);
        assert_eq!((rows, pace), (vec![500, 500], None));
        // A worker far slower than the fastest gets no part.
        let crew = Crew::new(vec![Some(100e9), Some(1e9), Some(50e9)]);
        assert_eq!(split_rows(&config, &crew, &data).0, vec![682, 318]);
        // The old equal split, asked for.
        let equal = Config {
            equal_parts: true,
            ..config.clone()
        };
        let crew = Crew::new(vec![Some(1e9), Some(4e9), Some(100e9)]);
        assert_eq!(
            split_rows(&equal, &crew, &data),
            (vec![334, 333, 333], None)
        );
        // Every part's work is its cost: its rows' flops and the reading
        // of its data.
        let NewTask::Split { parts, .. } =
            try_plan_for(&config, &Crew::new(vec![Some(1e9), Some(4e9)]), &data).unwrap()
        else {
            panic!("not split");
        };
        assert_eq!(parts[0].work, part_cost(2 * 827 * 100, parts[0].data.len()));
        assert_eq!(parts[1].work, part_cost(2 * 173 * 100, parts[1].data.len()));
    }

    #[test]
    fn a_slow_worker_whose_part_would_be_mostly_reading_is_left_out() {
        let config = config(Some(1));
        // 100 x 100 by 100 x 100: B is 20,201 bytes, 8 million flops of
        // reading for every part, against 2 million flops of product.
        let data = square(100);
        // 4 : 1: the slow worker's rows would cost less than nothing.
        // Planned for the fast worker alone, in two equal parts, at its
        // pace: the slow one waits while the fast one may take them.
        let crew = Crew::new(vec![Some(1e9), Some(4e9)]);
        let (rows, pace) = split_rows(&config, &crew, &data);
        assert_eq!(rows, vec![50, 50]);
        assert_eq!(
            pace,
            Some(SplitPace {
                rate: 4e9,
                fastest: 4e9,
                slowest: 4e9,
            })
        );
        // Two fast and one slow: the fast ones share it.
        let crew = Crew::new(vec![Some(4e9), Some(1e9), Some(4e9)]);
        let (rows, pace) = split_rows(&config, &crew, &data);
        assert_eq!(rows, vec![50, 50]);
        assert_eq!(pace.map(|p| p.rate), Some(8e9));
        // Workers of one speed all share it, however much each part reads.
        let crew = Crew::new(vec![Some(2e9); 4]);
        assert_eq!(split_rows(&config, &crew, &data).0, vec![25; 4]);
    }

    /// `data` as submitted, as text.
    fn data_text(body: &[u8]) -> String {
        Submission::read(Bytes::copy_from_slice(body))
            .unwrap()
            .data
            .to_text()
            .into_owned()
    }

    #[test]
    fn json_task_data_is_kept_verbatim() {
        let body = Bytes::from_static(br#"{"A": "[[1,2]]",  "B":[[3]]}"#);
        let submission = Submission::read(body.clone()).unwrap();
        let data = &submission.data;
        assert_eq!(data.to_text(), r#"{"A": "[[1,2]]",  "B":[[3]]}"#);
        assert_eq!(
            data.pieces(),
            std::slice::from_ref(&body),
            "the body itself"
        );
        let operands = submission.operands.unwrap();
        let text = data.as_str().unwrap();
        assert_eq!(operands.a_json(text), Some(r#""[[1,2]]""#));
        assert_eq!(operands.b_json(text), Some("[[3]]"));
    }

    #[test]
    fn non_json_task_data_becomes_a_string() {
        assert_eq!(data_text(b"hello \"x\""), r#""hello \"x\"""#);
        assert_eq!(data_text(b"{broken"), r#""{broken""#);
        assert_eq!(data_text(b"\xff"), "\"\u{fffd}\"");
    }

    #[test]
    fn empty_task_data_is_rejected() {
        assert_eq!(Submission::read(Bytes::new()).unwrap_err(), EmptyTask);
        assert!(Submission::read(Bytes::from_static(b" \n")).is_err());
    }

    #[test]
    fn non_matrix_data_is_queued_untouched() {
        for data in [
            r#""text""#,
            "{}",
            r#"{"A":5,"B":"[[1]]"}"#,
            r#"{"A":"[[1]]"}"#,
        ] {
            assert!(
                matches!(
                    planned(&config(Some(0)), 4, data),
                    NewTask::One { check: None, .. }
                ),
                "{data}"
            );
        }
    }

    #[test]
    fn matrix_tasks_that_cannot_be_multiplied_are_refused_with_the_reason() {
        let unchecked = Config {
            verify: false,
            ..config(None)
        };
        for (data, reason, structure) in [
            (
                r#"{"A":"[[1,2],[3,4]]","B":"[[1,2,3]]"}"#,
                "shape mismatch",
                true,
            ),
            (
                r#"{"A":[[1,2],[3]],"B":"[[1],[2]]"}"#,
                "matrix A: ragged rows",
                true,
            ),
            (
                r#"{"A":"[[1]]","B":"[[1,2],[3]]"}"#,
                "matrix B: ragged rows",
                true,
            ),
            (
                r#"{"A":"[[1,x]]","B":"[[1],[2]]"}"#,
                "matrix A: not a number",
                false,
            ),
            (
                r#"{"A":"[[1e400]]","B":"[[1]]"}"#,
                "matrix A: not a number",
                false,
            ),
            (r#"{"A":[],"B":"[[1]]"}"#, "matrix A: empty matrix", true),
        ] {
            let refused = try_plan(&config(None), 4, data).unwrap_err();
            assert!(refused.0.contains(reason), "{data}: {refused}");
            assert!(refused.to_string().starts_with("Invalid matrix task: "));
            // Without verification only the structure is read.
            assert_eq!(try_plan(&unchecked, 4, data).is_err(), structure, "{data}");
        }
    }

    #[test]
    fn tasks_nothing_can_check_are_replicated_when_asked() {
        let replicated = Config {
            replicas: 3,
            quorum: 2,
            ..config(None)
        };
        let NewTask::One {
            check: Some(check), ..
        } = planned(&replicated, 4, r#""text""#)
        else {
            panic!("not replicated");
        };
        assert_eq!(check.quorum(), crate::check::Quorum::new(3, 2));
        // A product is checked, not replicated.
        let NewTask::One {
            check: Some(check), ..
        } = planned(&replicated, 4, PAIR)
        else {
            panic!("not checked");
        };
        assert!(check.verifies());
    }

    #[test]
    fn small_products_are_checked_whole() {
        let NewTask::One {
            check: Some(check), ..
        } = planned(&config(Some(1_000)), 4, PAIR)
        else {
            panic!("not checked whole");
        };
        assert_eq!(check.product().unwrap().rows(), 0..3);
        assert_eq!(check.verify(&"[[1,2],[3,4],[5,6]]".into()), Ok(()));
        assert!(check.verify(&"[[1,2],[3,4],[5,7]]".into()).is_err());
    }

    #[test]
    fn large_products_are_split_by_workers_seen_within_bounds() {
        let count = |workers| match planned(&config(Some(1)), workers, PAIR) {
            NewTask::Split { parts, .. } => parts.len(),
            other => panic!("not split: {other:?}"),
        };
        assert_eq!(count(0), 2, "at least two parts");
        assert_eq!(count(2), 2);
        assert_eq!(count(9), 3, "no more parts than rows");
        let NewTask::Split { parts, .. } = planned(&config(Some(1)), 3, PAIR) else {
            panic!("not split");
        };
        let check = parts[2]
            .check
            .as_ref()
            .unwrap_or_else(|| panic!("unchecked"));
        assert_eq!(check.product().unwrap().rows(), 2..3);
        assert_eq!(
            parts[2].data.to_text(),
            r#"{"A":"[[5,6]]","B":"[[1,0],[0,1]]"}"#
        );
        assert_eq!(check.verify(&"[[5,6]]".into()), Ok(()));
        assert!(check.verify(&"[[1,2]]".into()).is_err());
    }

    #[test]
    fn switches_turn_splitting_and_checking_off() {
        assert!(matches!(
            planned(&config(None), 4, PAIR),
            NewTask::One { check: Some(_), .. }
        ));
        let unchecked = Config {
            verify: false,
            ..config(None)
        };
        assert!(matches!(
            planned(&unchecked, 4, PAIR),
            NewTask::One { check: None, .. }
        ));
        let split_unchecked = Config {
            verify: false,
            ..config(Some(1))
        };
        let NewTask::Split { parts, .. } = planned(&split_unchecked, 4, PAIR) else {
            panic!("not split");
        };
        assert!(parts.iter().all(|p| p.check.is_none()));
    }
}
