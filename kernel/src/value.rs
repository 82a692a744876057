//! [`AnyMatrix`]: a matrix of integers or of floats, as read from text.
//!
//! Two integer matrices multiply exactly (see [`crate::exact`]); if either
//! side holds a float, both are taken as `f64`.
//!
//! This module knows nothing of text: [`crate::text`] reads into it and
//! writes it ([`AnyMatrix::to_text`] lives there), and
//! [`crate::multiply_text`] combines the two.

use crate::{Matrix, MatrixError, exact};

/// A matrix whose element type was decided by its text.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyMatrix {
    /// Every value was an integer literal.
    Int(Matrix<i64>),
    /// At least one value had a fraction or an exponent.
    Float(Matrix<f64>),
}

impl AnyMatrix {
    /// Number of rows.
    #[must_use]
    pub fn rows(&self) -> usize {
        match self {
            AnyMatrix::Int(m) => m.rows(),
            AnyMatrix::Float(m) => m.rows(),
        }
    }

    /// Number of columns.
    #[must_use]
    pub fn cols(&self) -> usize {
        match self {
            AnyMatrix::Int(m) => m.cols(),
            AnyMatrix::Float(m) => m.cols(),
        }
    }

    /// The matrix as `f64` (integers beyond 2^53 round to the nearest float).
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn into_f64(self) -> Matrix<f64> {
        match self {
            AnyMatrix::Int(m) => m.map(|&v| v as f64),
            AnyMatrix::Float(m) => m,
        }
    }

    /// `self * other`: exact for two integer matrices, `f64` otherwise.
    ///
    /// # Errors
    /// [`MatrixError::ShapeMismatch`]; [`MatrixError::Overflow`] for an
    /// integer product that does not fit in `i64`.
    pub fn multiply(self, other: AnyMatrix) -> Result<AnyMatrix, MatrixError> {
        MatrixError::check_shapes(self.rows(), self.cols(), other.rows(), other.cols())?;
        match (self, other) {
            (AnyMatrix::Int(a), AnyMatrix::Int(b)) => {
                Ok(AnyMatrix::Int(exact::multiply_exact(&a, &b)?))
            }
            (a, b) => Ok(AnyMatrix::Float(crate::multiply(
                &a.into_f64(),
                &b.into_f64(),
            )?)),
        }
    }
}
