//! [`row_spans`]: where each row of a matrix text is, found without reading
//! its numbers, for callers that slice a text by rows (a split task's parts
//! are rows of `A`).
//!
//! The scan checks the structure the reader checks: the brackets, the
//! commas between rows, equal value counts, the whitespace the reader
//! accepts, and nothing after the closing bracket. It does not read
//! numbers: a text it accepts may still hold a value that is not a number
//! (`[[1,x]]`, `[[1,,2]]`), which [`super::parse`] then rejects. A row's
//! values are counted as its commas plus one. Row ends are found with
//! `memchr` and commas counted with `bytecount` (vector instructions, chosen
//! at run time on x86-64), so the scan costs a small part of reading the
//! numbers.
//!
//! The text is the matrix text itself: a JSON string holding one is decoded
//! first, by the caller.

use std::ops::Range;

use super::{excerpt, is_ws, syntax_error};
use crate::MatrixError;

/// Where the rows of a matrix text are and how many values each holds, as
/// [`row_spans`] finds them (or
/// [`crate::verify::ProductCheck::from_text_with_rows`] while reading `A`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowSpans {
    /// Byte span of each row in the text, its brackets included: for
    /// `[[1,2], [3,4]]` they are `1..6` (`[1,2]`) and `8..13` (`[3,4]`).
    pub rows: Vec<Range<usize>>,
    /// Values in each row (the same in every row, at least 1).
    pub cols: usize,
}

/// Finds the byte span of every row of the matrix text `text` and the
/// number of values in a row, checking its structure but not its numbers
/// (see the module docs).
///
/// A text the reader ([`super::parse`]) accepts always gives the rows the
/// reader reads, and a text this rejects the reader rejects too. For a text
/// whose values are all numbers the error is the reader's; a nested row is
/// reported as [`MatrixError::NotANumber`] at its `[`.
///
/// # Errors
/// - [`MatrixError::Empty`]: no rows (`[]`), or rows with no values
///   (`[[],[]]`);
/// - [`MatrixError::RaggedRows`]: a row with another number of values than
///   row 0 (an empty row among others included), naming the row;
/// - [`MatrixError::NotANumber`]: a row inside a row (`[[1,[2]]]`);
/// - [`MatrixError::Syntax`]: anything else that is not `[row, row, ...]`:
///   a missing bracket, a stray byte between rows, bytes after the end.
pub fn row_spans(text: &str) -> Result<RowSpans, MatrixError> {
    let bytes = text.as_bytes();
    let mut pos = skip_ws(bytes, 0);
    if bytes.get(pos) != Some(&b'[') {
        return Err(syntax_error(bytes, pos, "'[' opening the matrix"));
    }
    pos = skip_ws(bytes, pos + 1);
    if bytes.get(pos) == Some(&b']') {
        return Err(MatrixError::Empty);
    }
    let mut rows = Vec::new();
    let mut cols = 0;
    loop {
        if bytes.get(pos) != Some(&b'[') {
            return Err(syntax_error(bytes, pos, "'[' opening a row"));
        }
        let start = pos;
        // The next bracket must close the row: rows do not nest.
        let Some(found) = memchr::memchr2(b'[', b']', &bytes[pos + 1..]) else {
            return Err(syntax_error(bytes, bytes.len(), "']' closing a row"));
        };
        let end = pos + 1 + found;
        if bytes[end] == b'[' {
            return Err(MatrixError::NotANumber {
                offset: end,
                found: excerpt(bytes, end),
            });
        }
        let inner = &bytes[pos + 1..end];
        let values = if inner.iter().all(|&b| is_ws(b)) {
            0
        } else {
            1 + bytecount::count(inner, b',')
        };
        if rows.is_empty() {
            cols = values;
        } else if values != cols {
            return Err(MatrixError::RaggedRows {
                row: rows.len(),
                expected: cols,
                found: values,
            });
        }
        pos = end + 1;
        rows.push(start..pos);
        pos = skip_ws(bytes, pos);
        match bytes.get(pos) {
            Some(b',') => pos = skip_ws(bytes, pos + 1),
            Some(b']') => break,
            _ => return Err(syntax_error(bytes, pos, "',' or ']' after a row")),
        }
    }
    let end = skip_ws(bytes, pos + 1);
    if end != bytes.len() {
        return Err(syntax_error(bytes, end, "the end of the text"));
    }
    if cols == 0 {
        return Err(MatrixError::Empty);
    }
    Ok(RowSpans { rows, cols })
}

/// The position of the first byte from `pos` that is not whitespace.
fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while bytes.get(pos).is_some_and(|&b| is_ws(b)) {
        pos += 1;
    }
    pos
}
