//! What the coordinator spends on a split, verified multiplication against
//! the product itself, for n = 512 and 1024 (`BENCH_SIZES=512,1024,2048`
//! to choose), measured in the same run.
//!
//! `cargo bench -p coordinator --bench split`
//!
//! For a Dana-style task (`{"A":"..","B":".."}`, integers in -1000..=1000)
//! split into `P` parts it times, as the handlers run them:
//! - split: reading `A` and `B`, preparing the check and writing the parts'
//!   data ([`coordinator::plan::plan_found`], after the body was checked as
//!   JSON, which finds the operands);
//! - verify: checking every part's result text;
//! - assemble: joining the parts' results into the product text;
//!
//! and, as the baseline, the native product of the same matrices on one
//! core (the exact integer kernel, no text). Each figure is the median of
//! [`RUNS`] runs. The target is split + verify + assemble below 10% of the
//! product.

#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use coordinator::Config;
use coordinator::operands;
use coordinator::plan::{self, Plan};
use coordinator::result_text::ResultText;
use coordinator::split;
use coordinator::task_data::TaskData;
use kernel::{Matrix, multiply_exact, text};

/// Runs per figure.
const RUNS: usize = 5;

/// Part counts measured.
const PARTS: [usize; 2] = [2, 4];

fn ints(n: usize, seed: u64) -> Matrix<i64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let data = (0..n * n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 2001) as i64 - 1000
        })
        .collect();
    Matrix::new(n, n, data).unwrap()
}

fn median(mut run: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS).map(|_| run()).collect();
    times.sort();
    times[RUNS / 2]
}

fn timed(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![512, 1024]);
    let config = Config {
        split_min_flops: Some(0),
        max_parts: 64,
        ..Config::default()
    };
    println!("split + verify + assemble against the native product (median of {RUNS} runs)");
    println!(
        "{:>5} {:>5} {:>11} {:>10} {:>10} {:>11} {:>9}",
        "n", "parts", "product ms", "split ms", "verify ms", "assemble ms", "overhead"
    );
    for n in sizes {
        let (a, b) = (ints(n, 1), ints(n, 2));
        let product = median(|| timed(|| drop(black_box(multiply_exact(&a, &b).unwrap()))));
        let c = multiply_exact(&a, &b).unwrap();
        let data = TaskData::from(
            serde_json::json!({ "A": text::write_i64(&a), "B": text::write_i64(&b) }).to_string(),
        );
        // Found when the body is checked as JSON, before planning.
        let found = operands::find(data.as_str().unwrap()).unwrap();
        for parts in PARTS {
            let Plan::Split(specs) = plan::plan(&config, parts, &data) else {
                panic!("not split");
            };
            let checks: Vec<_> = specs.iter().map(|s| s.check.clone().unwrap()).collect();
            // What honest workers send back for each part.
            let results: Vec<ResultText> = checks
                .iter()
                .map(|check| {
                    let rows = check.rows.clone();
                    let block = c.data()[rows.start * n..rows.end * n].to_vec();
                    ResultText::from(text::write_i64(&Matrix::new(rows.len(), n, block).unwrap()))
                })
                .collect();
            let split_time = median(|| {
                timed(|| {
                    drop(black_box(plan::plan_found(
                        &config,
                        parts,
                        &data,
                        found.as_ref(),
                    )));
                })
            });
            let verify_time = median(|| {
                timed(|| {
                    for (check, result) in checks.iter().zip(&results) {
                        plan::verify(check, &result.to_text()).unwrap();
                    }
                })
            });
            let assemble_time =
                median(|| timed(|| drop(black_box(split::assemble(&results).unwrap()))));
            assert_eq!(
                split::assemble(&results).unwrap().to_string(),
                text::write_i64(&c)
            );
            let overhead = split_time + verify_time + assemble_time;
            println!(
                "{n:>5} {parts:>5} {:>11.1} {:>10.1} {:>10.1} {:>11.1} {:>8.1}%",
                ms(product),
                ms(split_time),
                ms(verify_time),
                ms(assemble_time),
                100.0 * overhead.as_secs_f64() / product.as_secs_f64()
            );
        }
    }
    println!("overhead = (split + verify + assemble) / product; target < 10%");
}
