//! The textbook triple loops: slow, obviously right, and the reference every
//! fast path is tested against.

use crate::exact::WideSum;
use crate::{Matrix, MatrixError};

/// `a * b` in `f64` with one dot product per element, summed in order.
///
/// # Errors
/// [`MatrixError::ShapeMismatch`] when `a.cols() != b.rows()`.
pub fn multiply_f64(a: &Matrix<f64>, b: &Matrix<f64>) -> Result<Matrix<f64>, MatrixError> {
    MatrixError::check_shapes(a.rows(), a.cols(), b.rows(), b.cols())?;
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    let mut out = Vec::with_capacity(m * n);
    for i in 0..m {
        for j in 0..n {
            let mut sum = 0.0;
            for p in 0..k {
                sum += a.data()[i * k + p] * b.data()[p * n + j];
            }
            out.push(sum);
        }
    }
    Matrix::new(m, n, out)
}

/// `a * b` for integers, exact: each element is summed in a [`WideSum`] (an
/// `i128` plus a count of its wraps, so no partial sum is ever lost) and must
/// fit in `i64`.
///
/// # Errors
/// [`MatrixError::ShapeMismatch`] when `a.cols() != b.rows()`;
/// [`MatrixError::Overflow`] when an element does not fit in `i64`.
pub fn multiply_i64(a: &Matrix<i64>, b: &Matrix<i64>) -> Result<Matrix<i64>, MatrixError> {
    MatrixError::check_shapes(a.rows(), a.cols(), b.rows(), b.cols())?;
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    let mut out = Vec::with_capacity(m * n);
    for i in 0..m {
        for j in 0..n {
            let mut sum = WideSum::default();
            for p in 0..k {
                sum.add_product(a.data()[i * k + p], b.data()[p * n + j]);
            }
            let value = sum
                .to_i64()
                .ok_or(MatrixError::Overflow { row: i, col: j })?;
            out.push(value);
        }
    }
    Matrix::new(m, n, out)
}
