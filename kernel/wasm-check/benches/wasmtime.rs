//! GFLOP/s of the kernel's wasm32 `simd128` build (and of its `relaxed-simd`
//! variant) under wasmtime (Cranelift),
//! against `matrixmultiply` compiled into the same module and the native
//! kernel, measured in the same run. Operands stay in wasm memory between
//! iterations, so only the multiply is timed, in CPU time of the benchmark
//! thread (see `kernel/benches/common`).
//!
//! `cargo bench -p kernel-wasm-check`

use std::hint::black_box;
use std::time::Duration;

use common::ThreadCpuTime;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kernel::testdata::floats;
use kernel_wasm_check::{Entry, KERNEL_OK, WasmKernel};

#[path = "../../benches/common/mod.rs"]
mod common;

const SIZES: [usize; 4] = [64, 256, 512, 1024];

fn wasmtime_f64(c: &mut Criterion<ThreadCpuTime>) {
    let mut wasm = WasmKernel::load().expect("the kernel's wasm32 module loads");
    let mut relaxed = WasmKernel::load_relaxed().expect("the relaxed-simd module loads");
    let mut group = c.benchmark_group("wasmtime f64");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for n in SIZES {
        let (a, b) = (floats(n * n, 1), floats(n * n, 2));
        let ops = wasm.upload(&a, n, n, &b, n).expect("upload");
        group.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
        for (name, entry) in [
            ("kernel wasm32 simd128", Entry::KernelF64),
            ("matrixmultiply wasm32", Entry::BaselineDgemm),
        ] {
            group.bench_with_input(BenchmarkId::new(name, n), &n, |bench, _| {
                bench.iter(|| {
                    let status = wasm.run(entry, black_box(&ops)).expect("call");
                    assert_eq!(status, KERNEL_OK);
                });
            });
        }
        let relaxed_ops = relaxed.upload(&a, n, n, &b, n).expect("upload");
        group.bench_with_input(
            BenchmarkId::new("kernel wasm32 simd128+relaxed-simd", n),
            &n,
            |bench, _| {
                bench.iter(|| {
                    let status = relaxed
                        .run(Entry::KernelF64, black_box(&relaxed_ops))
                        .expect("call");
                    assert_eq!(status, KERNEL_OK);
                });
            },
        );
        relaxed.release(relaxed_ops).expect("release");
        let mut out = vec![0.0; n * n];
        group.bench_with_input(BenchmarkId::new("kernel native", n), &n, |bench, &n| {
            bench.iter(|| kernel::gemm::gemm_f64(n, n, n, black_box(&a), black_box(&b), &mut out));
        });
        wasm.release(ops).expect("release");
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = wasmtime_f64
}
criterion_main!(benches);
