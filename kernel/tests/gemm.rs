//! The blocked `f64` GEMM, with every kernel this machine supports, against
//! the naive reference: sizes across every block boundary, non-square shapes,
//! outputs pre-filled with NaN so a missed element shows.

use kernel::gemm::{Isa, gemm_f64_with};
use kernel::testdata::floats;
use kernel::{Matrix, naive};
use proptest::prelude::*;

/// Runs `isa` on an `m x k` by `k x n` product and compares every element
/// with the naive sum within `k * 4 * EPSILON * sum(|a||b|)`.
fn check(isa: Isa, m: usize, k: usize, n: usize, seed: u64) {
    let a = Matrix::new(m, k, floats(m * k, seed)).expect("a");
    let b = Matrix::new(k, n, floats(k * n, seed + 1)).expect("b");
    let mut c = vec![f64::NAN; m * n];
    gemm_f64_with(isa, m, k, n, a.data(), b.data(), &mut c);
    let expected = naive::multiply_f64(&a, &b).expect("naive");
    let magnitude =
        naive::multiply_f64(&a.map(|v| v.abs()), &b.map(|v| v.abs())).expect("naive abs");
    for (index, ((&got, &want), &scale)) in c
        .iter()
        .zip(expected.data())
        .zip(magnitude.data())
        .enumerate()
    {
        let tolerance = (k as f64) * 4.0 * f64::EPSILON * scale + f64::MIN_POSITIVE;
        assert!(
            (got - want).abs() <= tolerance,
            "{} {m}x{k}x{n}: element {index} is {got}, expected {want}",
            isa.name()
        );
    }
}

fn supported() -> Vec<Isa> {
    Isa::ALL
        .into_iter()
        .filter(|isa| isa.is_supported())
        .collect()
}

#[test]
fn every_kernel_matches_naive_across_block_boundaries() {
    let sizes = [0, 1, 2, 3, 5, 7, 8, 9, 16, 17, 23, 24, 25, 63, 65, 127, 129];
    for isa in supported() {
        for (i, &m) in sizes.iter().enumerate() {
            // Pair each size with two others so shapes are non-square.
            let k = sizes[(i + 5) % sizes.len()];
            let n = sizes[(i + 11) % sizes.len()];
            check(isa, m, k, n, i as u64);
            check(isa, n, m, k, i as u64 + 100);
        }
    }
}

#[test]
fn every_kernel_matches_naive_at_257() {
    for isa in supported() {
        check(isa, 257, 257, 257, 7);
        // Deeper than any KC block and wider than one NC block for every kernel.
        check(isa, 9, 600, 4100, 8);
    }
}

#[test]
fn zero_depth_product_is_all_zeros() {
    for isa in supported() {
        let mut c = vec![f64::NAN; 12];
        gemm_f64_with(isa, 3, 0, 4, &[], &[], &mut c);
        assert!(c.iter().all(|&v| v == 0.0), "{}", isa.name());
    }
}

#[test]
fn best_kernel_is_supported() {
    assert!(Isa::best().is_supported());
    if cfg!(target_arch = "x86_64") && std::arch::is_x86_feature_detected!("avx2") {
        assert_ne!(Isa::best(), Isa::Portable);
    }
}

#[test]
fn multiply_rejects_mismatched_shapes() {
    let a = Matrix::new(2, 3, vec![0.0; 6]).expect("a");
    let b = Matrix::new(2, 3, vec![0.0; 6]).expect("b");
    assert!(matches!(
        kernel::multiply(&a, &b),
        Err(kernel::MatrixError::ShapeMismatch { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_shapes_match_naive(m in 0usize..70, k in 0usize..70, n in 0usize..70, seed in any::<u64>()) {
        for isa in supported() {
            check(isa, m, k, n, seed);
        }
    }
}
