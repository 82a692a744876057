//! [`Matrix`]: a rows x cols matrix stored row-major in one flat buffer.

use crate::MatrixError;

/// A `rows` x `cols` matrix stored row-major in one `Vec<T>`.
///
/// Element `(i, j)` is `data[i * cols + j]`. Zero rows or columns are allowed
/// here (the product of such matrices is well defined); readers of matrix text
/// reject them as [`MatrixError::Empty`].
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix<T> {
    rows: usize,
    cols: usize,
    data: Vec<T>,
}

impl<T> Matrix<T> {
    /// Wraps a row-major buffer.
    ///
    /// # Errors
    /// [`MatrixError::DataLength`] when `data.len() != rows * cols`.
    pub fn new(rows: usize, cols: usize, data: Vec<T>) -> Result<Self, MatrixError> {
        if rows.checked_mul(cols) == Some(data.len()) {
            Ok(Self { rows, cols, data })
        } else {
            Err(MatrixError::DataLength {
                rows,
                cols,
                len: data.len(),
            })
        }
    }

    /// Builds a matrix from nested rows (convenient in tests and examples).
    ///
    /// # Errors
    /// [`MatrixError::RaggedRows`] when rows differ in length.
    pub fn from_rows(rows: Vec<Vec<T>>) -> Result<Self, MatrixError> {
        let cols = rows.first().map_or(0, Vec::len);
        let n_rows = rows.len();
        let mut data = Vec::with_capacity(n_rows * cols);
        for (row, values) in rows.into_iter().enumerate() {
            if values.len() != cols {
                return Err(MatrixError::RaggedRows {
                    row,
                    expected: cols,
                    found: values.len(),
                });
            }
            data.extend(values);
        }
        Self::new(n_rows, cols, data)
    }

    /// Number of rows.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    #[must_use]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The row-major buffer.
    #[must_use]
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// Gives the row-major buffer back.
    #[must_use]
    pub fn into_data(self) -> Vec<T> {
        self.data
    }

    /// Row `i` as a slice.
    ///
    /// # Panics
    /// When `i >= rows`.
    #[must_use]
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// True when the matrix has no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Applies `f` to every element.
    #[must_use]
    pub fn map<U>(&self, f: impl FnMut(&T) -> U) -> Matrix<U> {
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().map(f).collect(),
        }
    }
}

impl<T: Copy> Matrix<T> {
    /// Element `(i, j)`.
    ///
    /// # Panics
    /// When `i >= rows` or `j >= cols`.
    #[must_use]
    pub fn get(&self, i: usize, j: usize) -> T {
        assert!(j < self.cols, "column {j} out of range");
        self.data[i * self.cols + j]
    }
}
