//! Exact integer matrix multiplication with 64-bit (`i64`) semantics, as Dana
//! `int` under `-chip 64`; a product element that does not fit is reported as
//! [`MatrixError::Overflow`], never wrapped.
//!
//! Four paths, chosen from the operands' largest magnitudes and the bound
//! `max|a| * max|b| * k` on the magnitude of every partial sum:
//! - [`IntPath::Dot16`] when every value is within ±32767 and the bound
//!   within `i32` (`dot16`): the fastest on wasm32 with `simd128`,
//!   and taken there; elsewhere only when asked for;
//! - [`IntPath::F64`] when the bound is below 2^53: every product and partial
//!   sum is an integer that `f64` represents exactly, in any summation order
//!   and with or without FMA, so the fast `f64` GEMM gives the exact result;
//! - [`IntPath::I64`] when the bound fits in `i64`: no partial sum can
//!   overflow, so a blocked `i64` loop is exact;
//! - [`IntPath::Wide`] otherwise: each element is summed in a [`WideSum`]
//!   and checked at the end.

use crate::{Matrix, MatrixError, dot16, gemm};

/// 2^53: below it every integer is exactly representable in `f64`.
pub const F64_EXACT_LIMIT: u128 = 1 << 53;

/// Columns of `B` and `C` handled at once by the integer loops (keeps a block
/// of `B` in L2).
const INT_BLOCK_COLS: usize = 256;
/// Rows of `B` handled at once by the integer loops.
const INT_BLOCK_DEPTH: usize = 128;

/// Whether [`IntPath::Dot16`] is the fastest path where it applies: on
/// wasm32 with `simd128` (elsewhere the `f64` GEMM's wider registers win).
const DOT16_PREFERRED: bool = cfg!(all(target_arch = "wasm32", target_feature = "simd128"));

/// How an integer product is computed; see the module docs. A later path
/// is exact for every pair of operands an earlier one is exact for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IntPath {
    /// Through 16-bit dot products (exact because every value is within
    /// ±32767 and the bound within `i32`).
    Dot16,
    /// Through the `f64` GEMM (exact because the bound is below 2^53).
    F64,
    /// In `i64` arithmetic that provably cannot overflow.
    I64,
    /// In 128-bit sums with wrap counting, checked at the end.
    Wide,
}

impl IntPath {
    /// The fastest exact path for an inner dimension `k` and the largest
    /// magnitudes `a_max`, `b_max` of the two operands.
    #[must_use]
    pub fn for_bound(a_max: u64, b_max: u64, k: usize) -> IntPath {
        if DOT16_PREFERRED && dot16::fits(a_max, b_max, k) {
            return IntPath::Dot16;
        }
        IntPath::for_bound_value(partial_sum_bound(a_max, b_max, k))
    }

    /// The fastest exact path for `a * b`, from an upper bound of each
    /// operand's largest magnitude (see [`magnitude_bound`]).
    #[must_use]
    pub fn for_operands(a: &Matrix<i64>, b: &Matrix<i64>) -> IntPath {
        IntPath::for_bound(
            magnitude_bound(a.data()),
            magnitude_bound(b.data()),
            a.cols(),
        )
    }

    /// The path taken when none is asked for: [`IntPath::Dot16`] where it
    /// is the fastest, else [`IntPath::F64`] (each falls back to a slower
    /// path for operands it does not take).
    const DEFAULT: IntPath = if DOT16_PREFERRED {
        IntPath::Dot16
    } else {
        IntPath::F64
    };

    /// The fastest exact path under a bound on every partial sum (`None`
    /// when the bound itself overflows).
    fn for_bound_value(bound: Option<u128>) -> IntPath {
        match bound {
            Some(bound) if bound < F64_EXACT_LIMIT => IntPath::F64,
            Some(bound) if bound <= i64::MAX as u128 => IntPath::I64,
            _ => IntPath::Wide,
        }
    }
}

/// A sum of `i64 * i64` products that never loses information: an `i128`
/// plus the number of times it wrapped (each product fits in `i128`, so one
/// addition wraps at most once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WideSum {
    low: i128,
    wraps: i64,
}

impl WideSum {
    /// Adds `x * y`.
    pub fn add_product(&mut self, x: i64, y: i64) {
        let product = i128::from(x) * i128::from(y);
        let (sum, wrapped) = self.low.overflowing_add(product);
        self.low = sum;
        if wrapped {
            self.wraps += if product > 0 { 1 } else { -1 };
        }
    }

    /// The sum, when it fits in `i64`.
    #[must_use]
    pub fn to_i64(self) -> Option<i64> {
        if self.wraps == 0 {
            i64::try_from(self.low).ok()
        } else {
            None
        }
    }
}

/// Multiplies two integer matrices exactly on the fastest exact path.
///
/// # Errors
/// [`MatrixError::ShapeMismatch`] when `a.cols() != b.rows()`;
/// [`MatrixError::Overflow`] when an element of the product does not fit in
/// `i64`.
pub fn multiply_exact(a: &Matrix<i64>, b: &Matrix<i64>) -> Result<Matrix<i64>, MatrixError> {
    multiply_exact_on(IntPath::DEFAULT, a, b)
}

/// Multiplies exactly on `path`, or on a slower path when `path` would not be
/// exact for these operands (so tests and benchmarks can force the integer
/// kernels, but never an inexact one).
///
/// # Errors
/// As [`multiply_exact`].
pub fn multiply_exact_on(
    path: IntPath,
    a: &Matrix<i64>,
    b: &Matrix<i64>,
) -> Result<Matrix<i64>, MatrixError> {
    MatrixError::check_shapes(a.rows(), a.cols(), b.rows(), b.cols())?;
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    if m == 0 || n == 0 || k == 0 {
        return Matrix::new(m, n, vec![0; m * n]);
    }
    let (a_max, b_max) = (magnitude_bound(a.data()), magnitude_bound(b.data()));
    let bound = partial_sum_bound(a_max, b_max, k);
    let exact_from = if dot16::fits(a_max, b_max, k) {
        IntPath::Dot16
    } else {
        IntPath::for_bound_value(bound)
    };
    let data = match path.max(exact_from) {
        IntPath::Dot16 => dot16::multiply(m, k, n, a.data(), b.data()),
        IntPath::F64 => via_f64(m, k, n, a.data(), b.data(), bound),
        IntPath::I64 => via_i64(m, k, n, a.data(), b.data()),
        IntPath::Wide => via_wide(m, k, n, a.data(), b.data())?,
    };
    Matrix::new(m, n, data)
}

/// An upper bound of the largest magnitude in `values`: the bitwise OR of
/// all magnitudes, which has the same highest bit as the largest one, so it
/// is less than twice it (0 when empty). Unlike a maximum, an OR of 64-bit
/// values vectorises on every target, which matters because this scan runs
/// before every integer product.
#[must_use]
pub fn magnitude_bound(values: &[i64]) -> u64 {
    values.iter().fold(0, |bound, v| bound | v.unsigned_abs())
}

/// `max|a| * max|b| * k` from upper bounds of the magnitudes: every
/// partial sum of the product is at most this (`None` if it overflows).
fn partial_sum_bound(a_max: u64, b_max: u64, k: usize) -> Option<u128> {
    u128::from(a_max)
        .checked_mul(u128::from(b_max))
        .and_then(|ab| ab.checked_mul(k as u128))
}

/// 2^51: integral `f64`s of smaller magnitude convert to `i64` with one
/// float add and one integer subtract ([`small_integral_to_i64`]).
const SMALL_INTEGRAL_LIMIT: u128 = 1 << 51;

/// `1.5 * 2^52`: adding it to an integral `v` with `|v| < 2^51` gives a
/// float in `[2^52, 2^53)`, whose low mantissa bits are `v` in two's
/// complement.
const SHIFTER: f64 = 6_755_399_441_055_744.0;

/// `v as i64` for an integral `v` with `|v| < 2^51`, in operations that
/// vectorise on every target (a plain `as` cast saturates and checks for
/// NaN, one value at a time).
#[inline]
#[allow(clippy::cast_possible_wrap)]
fn small_integral_to_i64(v: f64) -> i64 {
    ((v + SHIFTER).to_bits() as i64).wrapping_sub(SHIFTER.to_bits() as i64)
}

/// The `f64` path; exact only under the [`IntPath::F64`] bound, which
/// `bound` (the partial-sum bound) is below.
#[allow(clippy::cast_possible_truncation)]
fn via_f64(m: usize, k: usize, n: usize, a: &[i64], b: &[i64], bound: Option<u128>) -> Vec<i64> {
    let mut c = vec![0.0; m * n];
    gemm::gemm_i64_as_f64(m, k, n, a, b, &mut c);
    if bound.is_some_and(|bound| bound < SMALL_INTEGRAL_LIMIT) {
        c.into_iter().map(small_integral_to_i64).collect()
    } else {
        c.into_iter().map(|v| v as i64).collect()
    }
}

/// The `i64` path; exact only under the [`IntPath::I64`] bound (no partial
/// sum can overflow, so wrapping operations never actually wrap; `k, n > 0`).
fn via_i64(m: usize, k: usize, n: usize, a: &[i64], b: &[i64]) -> Vec<i64> {
    let mut c = vec![0i64; m * n];
    for j0 in (0..n).step_by(INT_BLOCK_COLS) {
        let j1 = (j0 + INT_BLOCK_COLS).min(n);
        for p0 in (0..k).step_by(INT_BLOCK_DEPTH) {
            let p1 = (p0 + INT_BLOCK_DEPTH).min(k);
            for (a_row, c_row) in a.chunks_exact(k).zip(c.chunks_exact_mut(n)) {
                let c_block = &mut c_row[j0..j1];
                for p in p0..p1 {
                    let x = a_row[p];
                    let b_block = &b[p * n + j0..p * n + j1];
                    for (cell, &y) in c_block.iter_mut().zip(b_block) {
                        *cell = cell.wrapping_add(x.wrapping_mul(y));
                    }
                }
            }
        }
    }
    c
}

/// The wide path: exact for any operands, checked at the end (`k > 0`).
fn via_wide(m: usize, k: usize, n: usize, a: &[i64], b: &[i64]) -> Result<Vec<i64>, MatrixError> {
    let mut c = Vec::with_capacity(m * n);
    let mut sums = vec![WideSum::default(); n];
    for (row, a_row) in a.chunks_exact(k).enumerate().take(m) {
        sums.fill(WideSum::default());
        for (p, &x) in a_row.iter().enumerate() {
            for (sum, &y) in sums.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                sum.add_product(x, y);
            }
        }
        for (col, sum) in sums.iter().enumerate() {
            c.push(sum.to_i64().ok_or(MatrixError::Overflow { row, col })?);
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::cast_precision_loss)]
    fn small_integral_floats_convert_exactly() {
        let limit = (1i64 << 51) - 1;
        for v in [0, 1, -1, 2, -2, 12_345, -987_654_321, limit, -limit] {
            assert_eq!(small_integral_to_i64(v as f64), v, "{v}");
        }
        assert_eq!(small_integral_to_i64(-0.0), 0);
    }
}
