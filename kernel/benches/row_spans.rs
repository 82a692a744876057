//! What finding `A`'s rows costs: preparing a check from text
//! (`ProductCheck::from_text`) against preparing it and recording `A`'s
//! rows in the same read (`from_text_with_rows`) and against preparing it
//! and then scanning `A` again (`from_text` + `text::row_spans`), for
//! n = 1024 and 2048, integers in -1000..=999 (the check's row-by-row path)
//! and, at n = 1024, floats (its whole-matrix path); and the scan alone
//! against reading `A` with the reader. All measured in the same run, in CPU
//! time of the benchmark thread (see `common`).
//!
//! Criterion measures each; then a summary times them again, interleaved
//! (median of a few rounds), and prints the ratios to `from_text`.
//!
//! `cargo bench -p kernel --bench row_spans`

use std::hint::black_box;
use std::time::Duration;

use common::ThreadCpuTime;
use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, Throughput};
use kernel::Matrix;
use kernel::testdata::{floats, ints};
use kernel::text::{self, row_spans};
use kernel::verify::ProductCheck;

mod common;

/// Rounds of the summary (the median is printed).
const SUMMARY_ROUNDS: usize = 21;

/// The seed of every check (the cost does not depend on it).
const SEED: u64 = 0x5EED;

/// One pair of operand texts.
struct Case {
    name: &'static str,
    n: usize,
    a: String,
    b: String,
}

impl Case {
    fn int(n: usize) -> Self {
        let matrix = |seed| Matrix::new(n, n, ints(n * n, seed)).expect("square");
        Self {
            name: "i64",
            n,
            a: text::write_i64(&matrix(1)),
            b: text::write_i64(&matrix(2)),
        }
    }

    fn float(n: usize) -> Self {
        let matrix = |seed| Matrix::new(n, n, floats(n * n, seed)).expect("square");
        let write = |m: &Matrix<f64>| text::write_f64(m).expect("finite");
        Self {
            name: "f64",
            n,
            a: write(&matrix(3)),
            b: write(&matrix(4)),
        }
    }

    fn prepare(&self) {
        black_box(ProductCheck::from_text(&self.a, &self.b, SEED).expect("operands"));
    }

    fn with_rows(&self) {
        black_box(ProductCheck::from_text_with_rows(&self.a, &self.b, SEED).expect("operands"));
    }

    fn then_scan(&self) {
        black_box(ProductCheck::from_text(&self.a, &self.b, SEED).expect("operands"));
        black_box(row_spans(&self.a).expect("a matrix"));
    }

    fn scan(&self) {
        black_box(row_spans(&self.a).expect("a matrix"));
    }

    fn read_a(&self) {
        black_box(text::parse(&self.a).expect("a matrix"));
    }
}

/// A variant measured: its name and what it runs.
type Variant = (&'static str, fn(&Case));

/// The variants measured.
const VARIANTS: [Variant; 5] = [
    ("from_text", Case::prepare),
    ("from_text_with_rows", Case::with_rows),
    ("from_text + row_spans", Case::then_scan),
    ("row_spans A", Case::scan),
    ("parse A", Case::read_a),
];

fn cases() -> Vec<Case> {
    vec![Case::int(1024), Case::int(2048), Case::float(1024)]
}

fn stages(c: &mut Criterion<ThreadCpuTime>, cases: &[Case]) {
    let mut group = c.benchmark_group("row_spans");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for case in cases {
        for (name, run) in VARIANTS {
            // Preparing reads A and B; the scan and the reader read A.
            let bytes = if name.ends_with(" A") {
                case.a.len()
            } else {
                case.a.len() + case.b.len()
            };
            group.throughput(Throughput::Bytes(bytes as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("{} {name}", case.name), case.n),
                case,
                |bench, case| bench.iter(|| run(case)),
            );
        }
    }
    group.finish();
}

/// Median CPU time of each variant over `SUMMARY_ROUNDS` rounds, the
/// variants taking turns within a round so that a change in load touches
/// them alike.
fn medians(case: &Case) -> Vec<Duration> {
    let clock = ThreadCpuTime;
    let mut times = vec![Vec::new(); VARIANTS.len()];
    for _ in 0..SUMMARY_ROUNDS {
        for ((_, run), times) in VARIANTS.iter().zip(&mut times) {
            let start = clock.start();
            run(case);
            times.push(clock.end(start));
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect()
}

fn summary(cases: &[Case]) {
    println!();
    println!(
        "finding A's rows, against from_text (median of {SUMMARY_ROUNDS} interleaved rounds, CPU ms)"
    );
    println!(
        "{:>5} {:>5} {:>10} {:>10} {:>7} {:>10} {:>7} {:>10} {:>10}",
        "type",
        "n",
        "from_text",
        "with_rows",
        "ratio",
        "+row_spans",
        "ratio",
        "row_spans",
        "parse A"
    );
    for case in cases {
        let t = medians(case);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let ratio = |d: Duration| d.as_secs_f64() / t[0].as_secs_f64();
        println!(
            "{:>5} {:>5} {:>10.2} {:>10.2} {:>7.3} {:>10.2} {:>7.3} {:>10.2} {:>10.2}",
            case.name,
            case.n,
            ms(t[0]),
            ms(t[1]),
            ratio(t[1]),
            ms(t[2]),
            ratio(t[2]),
            ms(t[3]),
            ms(t[4]),
        );
    }
    println!("with_rows = from_text_with_rows; +row_spans = from_text, then row_spans(A)");
    println!("ratio = that time / from_text's");
}

fn main() {
    let cases = cases();
    let mut criterion = Criterion::default()
        .with_measurement(ThreadCpuTime)
        .configure_from_args();
    stages(&mut criterion, &cases);
    criterion.final_summary();
    // `cargo test --benches` runs each benchmark once without `--bench`:
    // skip the summary's repeated timings there.
    if std::env::args().any(|arg| arg == "--bench") {
        summary(&cases);
    }
}
