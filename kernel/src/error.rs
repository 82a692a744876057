//! [`MatrixError`]: every way a matrix input or a product can be wrong.
//!
//! Text errors carry the byte offset where reading stopped so a caller can
//! point at the bad spot; product errors carry the element that failed.

/// An input that is not a valid matrix, or a product that cannot be formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatrixError {
    /// The inner dimensions differ: `left` is `left_rows`x`left_cols` and
    /// `right` is `right_rows`x`right_cols` with `left_cols != right_rows`.
    #[error(
        "shape mismatch: cannot multiply a {left_rows}x{left_cols} matrix by a \
         {right_rows}x{right_cols} matrix ({left_cols} columns vs {right_rows} rows)"
    )]
    ShapeMismatch {
        /// Rows of the left operand.
        left_rows: usize,
        /// Columns of the left operand.
        left_cols: usize,
        /// Rows of the right operand.
        right_rows: usize,
        /// Columns of the right operand.
        right_cols: usize,
    },
    /// A row has a different number of values than the first row.
    #[error("ragged rows: row {row} has {found} values but row 0 has {expected}")]
    RaggedRows {
        /// Zero-based index of the offending row.
        row: usize,
        /// Length of row 0.
        expected: usize,
        /// Length of the offending row.
        found: usize,
    },
    /// The matrix has no rows, or its rows have no values.
    #[error("empty matrix: at least one row with at least one value is needed")]
    Empty,
    /// A value that is not a number (a string, `true`, `null`, a nested list...).
    #[error("not a number at byte {offset}: found {found}")]
    NotANumber {
        /// Byte offset of the value in the text.
        offset: usize,
        /// A short, printable excerpt of what was found.
        found: String,
    },
    /// The text is not a matrix at all (missing bracket, stray comma...).
    #[error("syntax error at byte {offset}: expected {expected}, found {found}")]
    Syntax {
        /// Byte offset where reading stopped.
        offset: usize,
        /// What the reader expected there.
        expected: &'static str,
        /// A short, printable excerpt of what was found.
        found: String,
    },
    /// An integer literal outside the 64-bit signed range.
    #[error("integer overflow: the integer at byte {offset} does not fit in 64 bits")]
    IntegerOutOfRange {
        /// Byte offset of the literal.
        offset: usize,
    },
    /// An element of an integer product does not fit in 64 bits.
    #[error(
        "integer overflow: element ({row},{col}) of the product does not fit in a \
         64-bit integer"
    )]
    Overflow {
        /// Row of the element.
        row: usize,
        /// Column of the element.
        col: usize,
    },
    /// An element of a floating point product is infinite or NaN, which the
    /// matrix text cannot express.
    #[error("element ({row},{col}) of the product is not a finite number")]
    NonFinite {
        /// Row of the element.
        row: usize,
        /// Column of the element.
        col: usize,
    },
    /// A flat buffer whose length is not `rows * cols`.
    #[error("a {rows}x{cols} matrix needs {} values, got {len}", rows * cols)]
    DataLength {
        /// Declared rows.
        rows: usize,
        /// Declared columns.
        cols: usize,
        /// Length of the buffer given.
        len: usize,
    },
}

impl MatrixError {
    /// Checks that an `a_rows`x`a_cols` matrix can multiply an
    /// `b_rows`x`b_cols` one.
    ///
    /// # Errors
    /// [`MatrixError::ShapeMismatch`] when `a_cols != b_rows`.
    pub fn check_shapes(
        a_rows: usize,
        a_cols: usize,
        b_rows: usize,
        b_cols: usize,
    ) -> Result<(), MatrixError> {
        if a_cols == b_rows {
            Ok(())
        } else {
            Err(MatrixError::ShapeMismatch {
                left_rows: a_rows,
                left_cols: a_cols,
                right_rows: b_rows,
                right_cols: b_cols,
            })
        }
    }
}
