//! MB/s of reading and writing Dana matrix text against serde_json with
//! `Vec<Vec<i64>>`, measured in the same run (`Throughput::Bytes` of the
//! compact text), in CPU time of the benchmark thread (see `common`).
//!
//! `cargo bench -p kernel --bench text`

use std::hint::black_box;
use std::time::Duration;

use common::ThreadCpuTime;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kernel::Matrix;
use kernel::testdata::digit_ints;
use kernel::text::{parse, write_i64};

mod common;

/// Integers with 1 to 7 digits and both signs, as task matrices hold.
fn matrix(n: usize) -> Matrix<i64> {
    Matrix::new(n, n, digit_ints(n * n, 1)).expect("square")
}

fn text(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group("text");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for n in [256, 1024] {
        let m = matrix(n);
        let text = write_i64(&m);
        let nested: Vec<Vec<i64>> = (0..n).map(|i| m.row(i).to_vec()).collect();
        assert_eq!(
            serde_json::to_string(&nested).expect("json"),
            text,
            "same text both ways"
        );
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("parse kernel", n), &text, |bench, text| {
            bench.iter(|| parse(black_box(text)).expect("parses"));
        });
        group.bench_with_input(
            BenchmarkId::new("parse serde_json Vec<Vec<i64>>", n),
            &text,
            |bench, text| {
                bench.iter(|| {
                    serde_json::from_str::<Vec<Vec<i64>>>(black_box(text)).expect("parses")
                });
            },
        );
        group.bench_with_input(BenchmarkId::new("write kernel", n), &m, |bench, m| {
            bench.iter(|| write_i64(black_box(m)));
        });
        group.bench_with_input(
            BenchmarkId::new("write serde_json Vec<Vec<i64>>", n),
            &nested,
            |bench, nested| {
                bench.iter(|| serde_json::to_string(black_box(nested)).expect("writes"));
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = text
}
criterion_main!(benches);
