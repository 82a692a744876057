//! Exact integer products on every path, against the naive `i128`-checked
//! reference: identical results, overflow reported, and a case where the
//! `f64` shortcut would be wrong.

use kernel::exact::{IntPath, WideSum, multiply_exact, multiply_exact_on};
use kernel::{Matrix, MatrixError, naive};
use proptest::prelude::*;

fn matrix(
    rows: usize,
    cols: usize,
    range: std::ops::RangeInclusive<i64>,
) -> impl Strategy<Value = Matrix<i64>> {
    proptest::collection::vec(range, rows * cols)
        .prop_map(move |data| Matrix::new(rows, cols, data).expect("shape"))
}

fn operands(
    range: std::ops::RangeInclusive<i64>,
) -> impl Strategy<Value = (Matrix<i64>, Matrix<i64>)> {
    (0usize..40, 0usize..40, 0usize..40)
        .prop_flat_map(move |(m, k, n)| (matrix(m, k, range.clone()), matrix(k, n, range.clone())))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn small_integers_are_exact_on_every_path((a, b) in operands(-1000..=1000)) {
        let expected = naive::multiply_i64(&a, &b);
        for path in [IntPath::Dot16, IntPath::F64, IntPath::I64, IntPath::Wide] {
            prop_assert_eq!(&multiply_exact_on(path, &a, &b), &expected);
        }
    }

    #[test]
    fn large_integers_take_an_integer_path_and_stay_exact((a, b) in operands(-(1 << 28)..=(1 << 28))) {
        let expected = naive::multiply_i64(&a, &b);
        prop_assert_eq!(multiply_exact(&a, &b), expected);
    }

    #[test]
    fn huge_integers_are_exact_or_report_overflow((a, b) in operands(i64::MIN..=i64::MAX)) {
        prop_assert_eq!(multiply_exact(&a, &b), naive::multiply_i64(&a, &b));
    }
}

#[test]
fn block_boundary_sizes_are_exact() {
    for &(m, k, n) in &[(17, 63, 65), (127, 1, 257), (65, 257, 17), (1, 300, 1)] {
        let a = Matrix::new(
            m,
            k,
            (0..m * k)
                .map(|i| (i as i64 * 7919) % 2001 - 1000)
                .collect(),
        )
        .expect("a");
        let b = Matrix::new(
            k,
            n,
            (0..k * n)
                .map(|i| (i as i64 * 104_729) % 2001 - 1000)
                .collect(),
        )
        .expect("b");
        let expected = naive::multiply_i64(&a, &b);
        for path in [IntPath::Dot16, IntPath::F64, IntPath::I64, IntPath::Wide] {
            assert_eq!(
                multiply_exact_on(path, &a, &b),
                expected,
                "{m}x{k}x{n} on {path:?}"
            );
        }
    }
}

#[test]
fn the_dot16_path_takes_only_what_it_is_exact_for() {
    // At the edge of i16 values and i32 sums, with odd k and shapes that
    // fill no whole tile (4 x 8) or block of columns (256).
    for &(m, k, n, value) in &[
        (5, 2, 9, 32_767),
        (3, 3, 300, 32_767),
        (7, 1, 17, -32_767),
        (2, 5, 3, -32_768),
        (9, 2_001, 11, 1_000),
    ] {
        let a = Matrix::new(
            m,
            k,
            (0..m * k)
                .map(|i| if i % 3 == 0 { value } else { -value / 2 })
                .collect(),
        )
        .expect("a");
        let b = Matrix::new(
            k,
            n,
            (0..k * n)
                .map(|i| if i % 5 == 0 { -value } else { value })
                .collect(),
        )
        .expect("b");
        let expected = naive::multiply_i64(&a, &b);
        assert_eq!(
            multiply_exact_on(IntPath::Dot16, &a, &b),
            expected,
            "{m}x{k}x{n} of {value}"
        );
    }
    // Natively the f64 GEMM is the faster one: taken when nothing is asked.
    assert_eq!(IntPath::for_bound(99, 99, 2048), IntPath::F64);
}

#[test]
fn f64_shortcut_would_be_wrong_but_result_is_exact() {
    // 2^53 + 2^53 + 1: the f64 sum rounds the final 1 away.
    let a = Matrix::new(1, 3, vec![1 << 30, 1 << 30, 1]).expect("a");
    let b = Matrix::new(3, 1, vec![1 << 23, 1 << 23, 1]).expect("b");
    let exact = (1i64 << 54) + 1;
    assert_ne!(IntPath::for_operands(&a, &b), IntPath::F64);
    let via_f64 = kernel::multiply(&a.map(|&v| v as f64), &b.map(|&v| v as f64)).expect("f64");
    assert_ne!(
        via_f64.data()[0] as i64,
        exact,
        "the f64 path would have rounded"
    );
    assert_eq!(multiply_exact(&a, &b).expect("exact").data(), &[exact]);
}

#[test]
fn path_follows_the_bound() {
    assert_eq!(IntPath::for_bound(1000, 1000, 1000), IntPath::F64);
    assert_eq!(IntPath::for_bound(1 << 26, 1 << 26, 2), IntPath::I64);
    assert_eq!(IntPath::for_bound(1 << 31, 1 << 31, 2), IntPath::Wide);
    assert_eq!(
        IntPath::for_bound(u64::MAX, u64::MAX, usize::MAX),
        IntPath::Wide
    );
}

#[test]
fn overflowing_product_is_reported_not_wrapped() {
    let a = Matrix::new(1, 1, vec![i64::MAX]).expect("a");
    let b = Matrix::new(1, 2, vec![1, 2]).expect("b");
    assert_eq!(
        multiply_exact(&a, &b),
        Err(MatrixError::Overflow { row: 0, col: 1 })
    );
}

#[test]
fn overflowing_partial_sums_still_give_the_exact_result() {
    let a = Matrix::new(1, 3, vec![i64::MAX, i64::MAX, -i64::MAX]).expect("a");
    let b = Matrix::new(3, 1, vec![1, 1, 1]).expect("b");
    assert_eq!(multiply_exact(&a, &b).expect("fits").data(), &[i64::MAX]);
}

#[test]
fn wide_sum_counts_wraps_of_the_128_bit_sum() {
    let mut sum = WideSum::default();
    for _ in 0..2 {
        sum.add_product(i64::MIN, i64::MIN);
    }
    assert_eq!(sum.to_i64(), None, "2^127 does not fit");
    for _ in 0..2 {
        sum.add_product(i64::MIN, i64::MAX);
    }
    for _ in 0..2 {
        sum.add_product(i64::MIN, 1);
    }
    assert_eq!(sum.to_i64(), Some(0));
}

#[test]
fn integer_shape_mismatch_is_rejected() {
    let a = Matrix::new(1, 2, vec![1, 2]).expect("a");
    assert!(matches!(
        multiply_exact(&a, &a),
        Err(MatrixError::ShapeMismatch { .. })
    ));
}

#[test]
fn zero_sized_products_are_zero_filled() {
    let a = Matrix::new(3, 0, Vec::new()).expect("a");
    let b = Matrix::new(0, 2, Vec::new()).expect("b");
    assert_eq!(multiply_exact(&a, &b).expect("ok").data(), &[0; 6]);
}
