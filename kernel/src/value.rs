//! [`AnyMatrix`]: a matrix of integers or of floats, as read from text, and
//! [`multiply_text`], the text-in, text-out product every worker computes.
//!
//! Two integer matrices multiply exactly (see [`crate::exact`]); if either
//! side holds a float, both are taken as `f64`.

use crate::{Matrix, MatrixError, exact, text};

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

    /// The compact Dana text of this matrix.
    ///
    /// # Errors
    /// [`MatrixError::NonFinite`] for an infinite or NaN float.
    pub fn to_text(&self) -> Result<String, MatrixError> {
        match self {
            AnyMatrix::Int(m) => Ok(text::write_i64(m)),
            AnyMatrix::Float(m) => text::write_f64(m),
        }
    }
}

/// Multiplies two matrices given as Dana text (or JSON array text) and
/// returns the product as Dana text: `multiply_text("[[1,2],[3,4]]",
/// "[[5,6],[7,8]]")` is `"[[19,22],[43,50]]"`.
///
/// # Errors
/// Any [`MatrixError`]: bad text, an empty or ragged matrix, mismatched
/// shapes, integer overflow, or a float product that is not finite.
pub fn multiply_text(a: &str, b: &str) -> Result<String, MatrixError> {
    let a = text::parse(a)?;
    let b = text::parse(b)?;
    a.multiply(b)?.to_text()
}
