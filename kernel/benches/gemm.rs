//! GFLOP/s of this kernel against `matrixmultiply` and `gemm` (single
//! thread), and of exact integer products against the Dana-style triple loop,
//! all measured in the same run, in CPU time of the benchmark thread (see
//! `common`). Criterion's "elements/s" is FLOP/s here
//! (`Throughput::Elements(2 * m * n * k)`).
//!
//! `cargo bench -p kernel --bench gemm`

use std::hint::black_box;
use std::time::Duration;

use common::ThreadCpuTime;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kernel::exact::{IntPath, multiply_exact_on};
use kernel::gemm::{Isa, gemm_f64_with};
use kernel::testdata::{floats, ints};
use kernel::{Matrix, multiply_exact};

mod common;

/// Criterion measuring CPU time (see `common`).
type Bench = Criterion<ThreadCpuTime>;

/// The sizes every group measures.
const SIZES: [usize; 4] = [64, 256, 512, 1024];

fn flops(n: usize) -> Throughput {
    Throughput::Elements(2 * (n as u64).pow(3))
}

fn f64_gemm(c: &mut Bench) {
    let mut group = c.benchmark_group("f64");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    let gemm_threads = gemm::Parallelism::None;
    for n in SIZES {
        let (a, b) = (floats(n * n, 1), floats(n * n, 2));
        let mut out = vec![0.0; n * n];
        group.throughput(flops(n));
        for isa in Isa::ALL.into_iter().filter(|isa| isa.is_supported()) {
            group.bench_with_input(
                BenchmarkId::new(format!("kernel {}", isa.name()), n),
                &n,
                |bench, &n| {
                    bench.iter(|| {
                        gemm_f64_with(isa, n, n, n, black_box(&a), black_box(&b), &mut out)
                    });
                },
            );
        }
        group.bench_with_input(BenchmarkId::new("matrixmultiply", n), &n, |bench, &n| {
            bench.iter(|| {
                // SAFETY: row-major n x n buffers of the right length.
                #[allow(unsafe_code)]
                unsafe {
                    matrixmultiply::dgemm(
                        n,
                        n,
                        n,
                        1.0,
                        a.as_ptr(),
                        n as isize,
                        1,
                        b.as_ptr(),
                        n as isize,
                        1,
                        0.0,
                        out.as_mut_ptr(),
                        n as isize,
                        1,
                    );
                }
            });
        });
        group.bench_with_input(BenchmarkId::new("gemm", n), &n, |bench, &n| {
            bench.iter(|| {
                // SAFETY: row-major n x n buffers of the right length; alpha
                // is ignored when read_dst is false.
                #[allow(unsafe_code)]
                unsafe {
                    gemm::gemm(
                        n,
                        n,
                        n,
                        out.as_mut_ptr(),
                        1,
                        n as isize,
                        false,
                        a.as_ptr(),
                        1,
                        n as isize,
                        b.as_ptr(),
                        1,
                        n as isize,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm_threads,
                    );
                }
            });
        });
    }
    group.finish();
}

/// The loop a Dana worker runs on `int[][]`: one dot product per element,
/// walking down a column of B.
fn dana_loop(a: &[Vec<i64>], b: &[Vec<i64>]) -> Vec<Vec<i64>> {
    let (m, k, n) = (a.len(), b.len(), b[0].len());
    let mut c = vec![vec![0i64; n]; m];
    for i in 0..m {
        for j in 0..n {
            let mut sum = 0i64;
            for p in 0..k {
                sum = sum.wrapping_add(a[i][p].wrapping_mul(b[p][j]));
            }
            c[i][j] = sum;
        }
    }
    c
}

fn integer_gemm(c: &mut Bench) {
    let mut group = c.benchmark_group("i64");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for n in SIZES {
        let a = Matrix::new(n, n, ints(n * n, 3)).expect("a");
        let b = Matrix::new(n, n, ints(n * n, 4)).expect("b");
        group.throughput(flops(n));
        group.bench_with_input(BenchmarkId::new("kernel exact", n), &n, |bench, _| {
            bench.iter(|| multiply_exact(black_box(&a), black_box(&b)));
        });
        group.bench_with_input(
            BenchmarkId::new("kernel exact (i64 path)", n),
            &n,
            |bench, _| {
                bench.iter(|| multiply_exact_on(IntPath::I64, black_box(&a), black_box(&b)));
            },
        );
        let a_rows: Vec<Vec<i64>> = (0..n).map(|i| a.row(i).to_vec()).collect();
        let b_rows: Vec<Vec<i64>> = (0..n).map(|i| b.row(i).to_vec()).collect();
        group.bench_with_input(BenchmarkId::new("dana loop", n), &n, |bench, _| {
            bench.iter(|| dana_loop(black_box(&a_rows), black_box(&b_rows)));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = f64_gemm, integer_gemm
}
criterion_main!(benches);
