//! What checking a result costs against computing it: Freivalds' check of
//! `C = A·B` (from the result text, as the coordinator receives it) against
//! the native product, for n = 512 and 1024, integers and floats, measured
//! in the same run.
//!
//! Criterion measures each stage; then a summary times the stages again
//! (median of a few runs) and prints the ratio of the check's total to the
//! product. The target is below 10%.
//!
//! `cargo bench -p kernel --bench verify`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use kernel::testdata::{floats, ints};
use kernel::verify::ProductCheck;
use kernel::{AnyMatrix, Matrix, multiply, multiply_exact, text};

/// The sizes measured.
const SIZES: [usize; 2] = [512, 1024];

/// Runs per stage in the summary (the median is printed).
const SUMMARY_RUNS: usize = 7;

/// One case: operands, their product and the product's text.
struct Case {
    name: &'static str,
    n: usize,
    a: AnyMatrix,
    b: AnyMatrix,
    ab_text: (String, String),
    c_text: String,
}

impl Case {
    fn int(n: usize) -> Self {
        let a = Matrix::new(n, n, ints(n * n, 1)).expect("shape");
        let b = Matrix::new(n, n, ints(n * n, 2)).expect("shape");
        let c = multiply_exact(&a, &b).expect("fits");
        Self {
            name: "i64",
            n,
            ab_text: (text::write_i64(&a), text::write_i64(&b)),
            a: AnyMatrix::Int(a),
            b: AnyMatrix::Int(b),
            c_text: text::write_i64(&c),
        }
    }

    fn float(n: usize) -> Self {
        let a = Matrix::new(n, n, floats(n * n, 3)).expect("shape");
        let b = Matrix::new(n, n, floats(n * n, 4)).expect("shape");
        let c = multiply(&a, &b).expect("shapes");
        Self {
            name: "f64",
            n,
            ab_text: (
                text::write_f64(&a).expect("finite"),
                text::write_f64(&b).expect("finite"),
            ),
            a: AnyMatrix::Float(a),
            b: AnyMatrix::Float(b),
            c_text: text::write_f64(&c).expect("finite"),
        }
    }

    /// The native product, as a worker computes it.
    fn product(&self) -> AnyMatrix {
        self.a.clone().multiply(self.b.clone()).expect("product")
    }

    /// The check as the coordinator runs it: prepare from the operands'
    /// text, then read and check the result text.
    fn verify(&self) {
        let check =
            ProductCheck::from_text(&self.ab_text.0, &self.ab_text.1, 0x5EED).expect("operands");
        check
            .check_text(&self.c_text)
            .expect("honest product passes");
    }
}

fn cases() -> Vec<Case> {
    SIZES
        .into_iter()
        .flat_map(|n| [Case::int(n), Case::float(n)])
        .collect()
}

fn stages(c: &mut Criterion, cases: &[Case]) {
    let mut group = c.benchmark_group("verify");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for case in cases {
        let n = case.n as u64;
        group.throughput(Throughput::Elements(2 * n * n * n));
        group.bench_with_input(
            BenchmarkId::new(format!("{} product", case.name), n),
            case,
            |bench, case| bench.iter(|| black_box(case.product())),
        );
        group.bench_with_input(
            BenchmarkId::new(format!("{} check from text", case.name), n),
            case,
            |bench, case| bench.iter(|| case.verify()),
        );
    }
    group.finish();
}

/// Median time of `SUMMARY_RUNS` runs of `stage` (each given a fresh input
/// from `setup`, not timed).
fn median<T>(mut setup: impl FnMut() -> T, mut stage: impl FnMut(T)) -> Duration {
    let mut times: Vec<Duration> = (0..SUMMARY_RUNS)
        .map(|_| {
            let input = setup();
            let started = Instant::now();
            stage(input);
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn summary(cases: &[Case]) {
    println!();
    println!("check cost against the native product (median of {SUMMARY_RUNS} runs)");
    println!(
        "{:>5} {:>5} {:>11} {:>11} {:>11} {:>11} {:>7}",
        "type", "n", "product ms", "prepare ms", "read C ms", "check ms", "ratio"
    );
    for case in cases {
        let product = median(|| (), |()| drop(black_box(case.product())));
        let (a, b) = (&case.ab_text.0, &case.ab_text.1);
        let prepare = median(
            || (),
            |()| {
                drop(black_box(
                    ProductCheck::from_text(a, b, 1).expect("operands"),
                ))
            },
        );
        let check = ProductCheck::from_text(a, b, 1).expect("operands");
        let checking = median(|| (), |()| check.check_text(&case.c_text).expect("passes"));
        // The reading part of checking, alone.
        let read = median(|| (), |()| drop(black_box(text::parse(&case.c_text))));
        println!(
            "{:>5} {:>5} {:>11.2} {:>11.2} {:>11.2} {:>11.2} {:>6.1}%",
            case.name,
            case.n,
            ms(product),
            ms(prepare),
            ms(read),
            ms(checking),
            100.0 * (prepare + checking).as_secs_f64() / product.as_secs_f64()
        );
    }
    println!("prepare = read A and B, draw r, compute B r; check = read C and check it");
    println!("(read C = the reference reader alone, for comparison)");
    println!("ratio = (prepare + check) / product; target < 10%");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let cases = cases();
    let mut criterion = Criterion::default().configure_from_args();
    stages(&mut criterion, &cases);
    criterion.final_summary();
    // `cargo test --benches` runs each benchmark once without `--bench`:
    // skip the summary's repeated timings there.
    if std::env::args().any(|arg| arg == "--bench") {
        summary(&cases);
    }
}
