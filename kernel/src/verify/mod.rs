//! Freivalds' check of a claimed product `C = A·B` in `O(mk + kn + mn)` time
//! per round instead of the `O(mkn)` of computing the product again.
//!
//! A [`ProductCheck`] is prepared once per pair `(A, B)` with a secret random
//! vector `r`: it computes `B·r` and then `A_i·(B·r)` for every row `i`, and
//! keeps only those numbers (and `r`), so it holds `O(m + n)` values, not
//! the matrices. Checking a claimed product, or a claimed row block
//! `A[i..j]·B` as a split task returns it, then costs one pass over those
//! rows of `C`: `C_i·r` must equal `A_i·(B·r)`. All the row blocks of one
//! pair are checked against the same prepared numbers.
//!
//! - Integers ([`integer`]) are checked exactly, in modular arithmetic: an
//!   honest product always passes, and a wrong one passes with probability
//!   at most `2^-21`.
//! - Floats ([`float`]) are checked against a tolerance derived from the
//!   error bound of a dot product: an honest product always passes, and a
//!   single element off by more than the tolerance is always rejected.
//!
//! The probability is over the seed: it must be unknown to whoever computed
//! `C` (use [`fresh_seed`]); a worker that knows `r` can forge a result.
//!
//! # Layout
//! - this file: [`ProductCheck`] (prepared from matrices or their text,
//!   then checking full products or row blocks), [`VerifyError`],
//!   [`fresh_seed`] and [`verify_product`];
//! - [`integer`]: the modular integer check and why it is sound;
//! - [`float`]: the float tolerance check and why it is sound;
//! - `seed`: the splitmix64 generator the random vectors are drawn from;
//! - `row_ops`: the integer check's per-row sums, vectorised.
//!
//! # What this module leaves to others
//!
//! Parsing text into matrices is [`crate::text`]'s job; choosing seeds,
//! counting rejections and deciding what to do with a rejected result is the
//! caller's.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::ops::Range;

use crate::text::{self, RowSpans};
use crate::{AnyMatrix, MatrixError};
use float::FloatCheck;
use integer::IntCheck;
use seed::SplitMix64;

mod bytes;
pub mod float;
pub mod integer;
mod row_ops;
mod seed;

pub use float::FLOAT_ROUNDS;
pub use integer::{PRIMES, WRAPPING_MAX_BITS};

/// Why a claimed product was rejected, or could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// `A` and `B` cannot be multiplied at all: their shapes do not
    /// multiply ([`MatrixError::ShapeMismatch`]), or (from
    /// [`ProductCheck::new`] and [`ProductCheck::from_text`]) a text is not
    /// a matrix.
    #[error(transparent)]
    Operands(#[from] MatrixError),
    /// The text of `A` or of `B` is not a matrix (ragged, empty, a value
    /// that is not a number, a syntax error...): reported by
    /// [`ProductCheck::from_text_with_rows`], which names the operand.
    #[error("matrix {operand}: {error}")]
    OperandUnreadable {
        /// The operand whose text is wrong.
        operand: Operand,
        /// What is wrong with it.
        error: MatrixError,
    },
    /// The claimed product's text is not a matrix.
    #[error("the claimed product is not a matrix: {0}")]
    Unreadable(MatrixError),
    /// The claimed product does not have the shape of `A[rows]·B`.
    #[error("the claimed product is {found_rows}x{found_cols} but should be {rows}x{cols}")]
    WrongShape {
        /// Rows the product should have.
        rows: usize,
        /// Columns the product should have.
        cols: usize,
        /// Rows of the claimed product.
        found_rows: usize,
        /// Columns of the claimed product.
        found_cols: usize,
    },
    /// The requested row block is not inside `A`.
    #[error("rows {start}..{end} are not inside A, which has {rows} rows")]
    RowsOutOfRange {
        /// First row asked for.
        start: usize,
        /// One past the last row asked for.
        end: usize,
        /// Rows of `A`.
        rows: usize,
    },
    /// Two integer matrices have an integer product, but the claim holds
    /// floats.
    #[error("the product of two integer matrices must hold integers, the claimed one holds floats")]
    FloatForIntegers,
    /// An element larger than `sum_p |A[i][p]| * max |B|`, which no element
    /// of the true product can be.
    #[error("element ({row},{col}) is larger than any element of the true product can be")]
    OutOfBound {
        /// Row of the element in the claimed product.
        row: usize,
        /// Column of the element.
        col: usize,
    },
    /// Freivalds' check failed on a row: the claimed product is wrong there.
    #[error("row {row} of the claimed product is wrong (Freivalds' check failed)")]
    Mismatch {
        /// Row in the claimed product.
        row: usize,
    },
    /// The float error bound of a row is not finite, so the row cannot be
    /// checked.
    #[error("row {row} cannot be checked: its error bound is not a finite number")]
    Unverifiable {
        /// Row in the claimed product.
        row: usize,
    },
}

/// One of the two operands of a product `A·B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    /// The left operand, `A`.
    A,
    /// The right operand, `B`.
    B,
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operand::A => "A",
            Operand::B => "B",
        })
    }
}

/// A seed no one can predict: from the process's random hasher keys and the
/// clock. Use one per [`ProductCheck`] that checks an untrusted result.
#[must_use]
pub fn fresh_seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.finish()
}

/// Checks that `c` is `a·b`; see the module docs for what "checks" means for
/// integers and for floats.
///
/// # Errors
/// [`VerifyError::Operands`] when `a` and `b` do not multiply; any other
/// [`VerifyError`] when `c` is rejected.
pub fn verify_product(
    a: &AnyMatrix,
    b: &AnyMatrix,
    c: &AnyMatrix,
    seed: u64,
) -> Result<(), VerifyError> {
    ProductCheck::new(a, b, seed)?.check(c)
}

/// A prepared Freivalds check for products of one pair `(A, B)`: holds the
/// secret random vectors `r` and, for every row `i` of `A`, `A_i·(B·r)` and
/// the row's bound, so it takes `O(m + n)` memory, not `A` or `B`.
#[derive(Debug, Clone)]
pub struct ProductCheck {
    kind: CheckKind,
    /// Rows of `A` (and of the product).
    rows: usize,
    /// Columns of `B` (and of the product).
    cols: usize,
    /// Whether computing the product can fail (see
    /// [`ProductCheck::product_may_fail`]).
    may_fail: bool,
}

/// The check of an integer pair, or of a pair with a float.
#[derive(Debug, Clone)]
enum CheckKind {
    Int(IntCheck),
    Float(FloatCheck),
}

impl ProductCheck {
    /// Prepares the check of products `A·B` (or row blocks of it) with the
    /// random vectors drawn from `seed`. Integers if both are integer
    /// matrices, `f64` otherwise (as [`AnyMatrix::multiply`] decides).
    ///
    /// # Errors
    /// [`VerifyError::Operands`] when `a.cols() != b.rows()`.
    pub fn new(a: &AnyMatrix, b: &AnyMatrix, seed: u64) -> Result<Self, VerifyError> {
        MatrixError::check_shapes(a.rows(), a.cols(), b.rows(), b.cols())?;
        let mut rng = SplitMix64::new(seed);
        let kind = match (a, b) {
            (AnyMatrix::Int(a), AnyMatrix::Int(b)) => {
                return Ok(Self::integers(IntCheck::new(a, b, &mut rng)));
            }
            (AnyMatrix::Float(a), AnyMatrix::Float(b)) => {
                CheckKind::Float(FloatCheck::new(a, b, &mut rng))
            }
            (a, b) => CheckKind::Float(FloatCheck::new(
                &a.clone().into_f64(),
                &b.clone().into_f64(),
                &mut rng,
            )),
        };
        let may_fail = float::product_may_overflow(a, b);
        Ok(Self {
            kind,
            rows: a.rows(),
            cols: b.cols(),
            may_fail,
        })
    }

    /// Whether an honest worker can fail to compute this product. `false`
    /// when no element of `A·B` can leave the result type: for integers
    /// `sum_p |A_ip| * max|B|` fits in `i64` for every row `i`, for floats
    /// it is finite. The operands are valid and their shapes multiply
    /// (or this check would not exist), so when this is `false` a worker's
    /// error report for the product, or for any row block of it, is false.
    #[must_use]
    pub fn product_may_fail(&self) -> bool {
        self.may_fail
    }

    /// Prepares the check from the matrix texts of `A` and `B`, read with
    /// [`text::parse`].
    ///
    /// # Errors
    /// [`VerifyError::Operands`] when a text is not a matrix or the shapes
    /// do not multiply.
    pub fn from_text(a: &str, b: &str, seed: u64) -> Result<Self, VerifyError> {
        // The common case, integers small enough for the wrapping round, is
        // prepared row by row without holding either matrix; anything else
        // is read whole. Both draw the same `r` from the seed.
        if let Some(check) = IntCheck::wrapping_from_text(a, b, &mut SplitMix64::new(seed), None) {
            return Ok(Self::integers(check));
        }
        let a = text::parse(a)?;
        let b = text::parse(b)?;
        Self::new(&a, &b, seed)
    }

    /// As [`ProductCheck::from_text`] (the same check for the same seed),
    /// and also where `A`'s rows are in its text, as [`text::row_spans`]
    /// finds them. The spans are recorded while `A` is read for the check,
    /// so a caller that needs both reads `A`'s text once, not twice (except
    /// where [`ProductCheck::from_text`] itself reads it twice: integers too
    /// large for the one-round check, which shows only once `A` is read).
    ///
    /// # Errors
    /// - [`VerifyError::OperandUnreadable`] when the text of `A` (read
    ///   first) or of `B` is not a matrix, naming the operand, with the
    ///   reader's [`MatrixError`] ([`MatrixError::RaggedRows`],
    ///   [`MatrixError::NotANumber`], [`MatrixError::Empty`],
    ///   [`MatrixError::Syntax`], ...);
    /// - [`VerifyError::Operands`] with [`MatrixError::ShapeMismatch`] when
    ///   both are matrices but `A`'s columns are not `B`'s rows.
    pub fn from_text_with_rows(
        a: &str,
        b: &str,
        seed: u64,
    ) -> Result<(Self, RowSpans), VerifyError> {
        let mut spans = RowSpans {
            rows: Vec::new(),
            cols: 0,
        };
        let rng = &mut SplitMix64::new(seed);
        if let Some(check) = IntCheck::wrapping_from_text(a, b, rng, Some(&mut spans)) {
            return Ok((Self::integers(check), spans));
        }
        // Anything else is read whole, as `from_text` does (so `A` is read a
        // second time when it was read in full above: integers too large
        // for the wrapping round).
        let unreadable = |operand| move |error| VerifyError::OperandUnreadable { operand, error };
        let (a, spans) = text::parse_with_rows(a).map_err(unreadable(Operand::A))?;
        let b = text::parse(b).map_err(unreadable(Operand::B))?;
        Ok((Self::new(&a, &b, seed)?, spans))
    }

    /// The check of an integer pair, prepared.
    fn integers(check: IntCheck) -> Self {
        Self {
            rows: check.rows(),
            cols: check.cols(),
            may_fail: check.product_may_overflow(),
            kind: CheckKind::Int(check),
        }
    }

    /// Rows of `A`.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of `B`.
    #[must_use]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// How many Freivalds rounds each check runs (primes for integers,
    /// [`FLOAT_ROUNDS`] for floats).
    #[must_use]
    pub fn rounds(&self) -> usize {
        match &self.kind {
            CheckKind::Int(check) => check.round_count(),
            CheckKind::Float(check) => check.round_count(),
        }
    }

    /// Checks a claimed full product `A·B`.
    ///
    /// # Errors
    /// [`VerifyError::WrongShape`], [`VerifyError::FloatForIntegers`],
    /// [`VerifyError::OutOfBound`], [`VerifyError::Mismatch`] or
    /// [`VerifyError::Unverifiable`].
    pub fn check(&self, c: &AnyMatrix) -> Result<(), VerifyError> {
        self.check_rows(0..self.rows(), c)
    }

    /// Checks a claimed full product given as matrix text.
    ///
    /// # Errors
    /// [`VerifyError::Unreadable`], and as [`ProductCheck::check`].
    pub fn check_text(&self, c: &str) -> Result<(), VerifyError> {
        self.check_rows_text(0..self.rows(), c)
    }

    /// Checks a claimed row block `A[rows]·B` given as matrix text.
    ///
    /// # Errors
    /// [`VerifyError::Unreadable`], and as [`ProductCheck::check_rows`].
    pub fn check_rows_text(&self, rows: Range<usize>, c: &str) -> Result<(), VerifyError> {
        // An integer result is checked row by row as it is read, without
        // holding it; only a result that fails that (wrong, or not an
        // integer matrix of the right shape) is read whole, for the error.
        if let CheckKind::Int(check) = &self.kind
            && rows.start <= rows.end
            && rows.end <= self.rows
            && check.rows_text_pass(rows.clone(), c)
        {
            return Ok(());
        }
        let c = text::parse(c).map_err(VerifyError::Unreadable)?;
        self.check_rows(rows, &c)
    }

    /// Checks a claimed row block `A[rows]·B`; row numbers in errors are
    /// rows of `c`.
    ///
    /// # Errors
    /// [`VerifyError::RowsOutOfRange`], and as [`ProductCheck::check`].
    pub fn check_rows(&self, rows: Range<usize>, c: &AnyMatrix) -> Result<(), VerifyError> {
        if rows.start > rows.end || rows.end > self.rows() {
            return Err(VerifyError::RowsOutOfRange {
                start: rows.start,
                end: rows.end,
                rows: self.rows(),
            });
        }
        if c.rows() != rows.len() || c.cols() != self.cols {
            return Err(VerifyError::WrongShape {
                rows: rows.len(),
                cols: self.cols,
                found_rows: c.rows(),
                found_cols: c.cols(),
            });
        }
        match (&self.kind, c) {
            (CheckKind::Int(check), AnyMatrix::Int(c)) => check.check_rows(rows, c),
            (CheckKind::Int(_), AnyMatrix::Float(_)) => Err(VerifyError::FloatForIntegers),
            (CheckKind::Float(check), AnyMatrix::Float(c)) => check.check_rows(rows, c),
            (CheckKind::Float(check), c @ AnyMatrix::Int(_)) => {
                check.check_rows(rows, &c.clone().into_f64())
            }
        }
    }
}
