//! Reading and writing the Dana matrix text `[[1,2],[3,4]]`, which is also
//! the JSON array form JavaScript clients send (`JSON.stringify`).
//!
//! The reader scans bytes once into one flat buffer (no `Vec<Vec<_>>`),
//! accepts whitespace around brackets, commas and numbers, and keeps integers
//! as `i64` until it meets a float (`1.5`, `-2e-3`, `1e+21`), when the whole
//! matrix becomes `f64`. The writers produce the compact form: integers
//! exactly, without a decimal point; floats with the shortest text that reads
//! back to the same `f64`, laid out as JavaScript's `Number.prototype.toString`
//! does (so both sides of the wire print the same text), except that integral
//! floats of 2^63 and more are written with an exponent (`1e+20`): an integer
//! literal outside the `i64` range is an error for the reader, never rounded.
//!
//! This module depends on [`crate::value`] (the reader returns an
//! [`AnyMatrix`]), never the other way round. Multiplying texts
//! ([`crate::multiply_text`]) sits above both, in the crate root.
//!
//! - this file: the reader ([`parse`], [`IntRows`]);
//! - `compact`: the reader's vectorised fast path for compact integer rows;
//! - `write`: the writers ([`write_i64`], [`write_f64`], [`AnyMatrix::to_text`]);
//! - `spans`: [`row_spans`], where each row is, without reading numbers.

use std::ops::Range;

use crate::value::AnyMatrix;
use crate::{Matrix, MatrixError};

mod compact;
mod spans;
mod write;

use compact::compact_integers;
pub use spans::{RowSpans, row_spans};
pub(crate) use write::push_i64_and;
pub use write::{write_f64, write_i64};

/// Reads a matrix of integers or, if any value is a float, of floats.
///
/// # Errors
/// [`MatrixError::Syntax`], [`MatrixError::NotANumber`],
/// [`MatrixError::IntegerOutOfRange`], [`MatrixError::RaggedRows`] or
/// [`MatrixError::Empty`], each with the byte offset where reading stopped.
pub fn parse(text: &str) -> Result<AnyMatrix, MatrixError> {
    Reader::new(text.as_bytes()).matrix(None)
}

/// As [`parse`], and also where each row is in `text` (as [`row_spans`]
/// finds them), recorded while reading.
///
/// # Errors
/// As [`parse`].
pub(crate) fn parse_with_rows(text: &str) -> Result<(AnyMatrix, RowSpans), MatrixError> {
    let mut rows = Vec::new();
    let matrix = Reader::new(text.as_bytes()).matrix(Some(&mut rows))?;
    let cols = matrix.cols();
    Ok((matrix, RowSpans { rows, cols }))
}

/// Reads a matrix and converts it to `f64`.
///
/// # Errors
/// As [`parse`].
pub fn parse_f64(text: &str) -> Result<Matrix<f64>, MatrixError> {
    Ok(parse(text)?.into_f64())
}

/// Reads a matrix of integers.
///
/// # Errors
/// As [`parse`], and [`MatrixError::NotANumber`] for a float value.
pub fn parse_i64(text: &str) -> Result<Matrix<i64>, MatrixError> {
    match parse(text)? {
        AnyMatrix::Int(m) => Ok(m),
        AnyMatrix::Float(_) => Err(float_for_integers()),
    }
}

/// Flat storage that starts as integers and turns into floats at the first
/// float value.
enum Values {
    Int(Vec<i64>),
    Float(Vec<f64>),
}

impl Values {
    #[allow(clippy::cast_precision_loss)]
    fn push_float(&mut self, value: f64) {
        match self {
            Values::Float(values) => values.push(value),
            Values::Int(ints) => {
                let mut floats: Vec<f64> = Vec::with_capacity(ints.capacity().max(ints.len() + 1));
                floats.extend(ints.iter().map(|&v| v as f64));
                floats.push(value);
                *self = Values::Float(floats);
            }
        }
    }

    #[allow(clippy::cast_precision_loss)]
    #[inline]
    fn push_int(&mut self, value: i64) {
        match self {
            Values::Int(values) => values.push(value),
            Values::Float(values) => values.push(value as f64),
        }
    }
}

/// 10^i for i in 0..=8.
const POW10: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// The value and count of the leading decimal digits in an 8-byte chunk,
/// found and converted with a few word operations (SWAR) instead of a loop.
#[inline]
fn eight_digits(chunk: &[u8]) -> (u64, usize) {
    let mut word = [0u8; 8];
    word.copy_from_slice(chunk);
    let word = u64::from_le_bytes(word);
    // A byte's high bit is set in `below` if it is under b'0' (or not ASCII),
    // in `above` if it is over b'9'; borrows and carries only disturb bytes
    // after the first non-digit, which are never used.
    let below = word.wrapping_sub(0x3030_3030_3030_3030);
    let above = word.wrapping_add(0x4646_4646_4646_4646);
    let non_digit = (below | above) & 0x8080_8080_8080_8080;
    let len = (non_digit.trailing_zeros() / 8) as usize;
    if len == 0 {
        return (0, 0);
    }
    // Keep the `len` digits (the first is the lowest byte) as the high bytes;
    // the zero bytes shifted in read as leading zeros.
    (convert_eight(word << (8 * (8 - len))), len)
}

/// The value of eight ASCII digits (or zero bytes, read as leading zeros)
/// in a little-endian word, the first digit lowest: pairs, then quads, then
/// the whole, each step one multiply.
#[inline]
fn convert_eight(digits: u64) -> u64 {
    let pairs = ((digits & 0x0F0F_0F0F_0F0F_0F0F).wrapping_mul(2561)) >> 8;
    let quads = ((pairs & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601)) >> 16;
    ((quads & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001)) >> 32
}

/// Walks the rows of a matrix text: the opening bracket, each row with the
/// separators between rows, equal row lengths, and the closing bracket with
/// nothing after it.
struct RowCursor<'a> {
    reader: Reader<'a>,
    /// Rows read so far.
    rows: usize,
    /// Values in each row (that of the first row).
    cols: usize,
    /// Whether the closing bracket has been read.
    finished: bool,
    /// Byte span of the last row read, its brackets included.
    span: Range<usize>,
}

impl<'a> RowCursor<'a> {
    /// Reads up to the first row.
    fn new(mut reader: Reader<'a>) -> Result<Self, MatrixError> {
        reader.skip_ws();
        reader.expect(b'[', "'[' opening the matrix")?;
        reader.skip_ws();
        if reader.peek() == Some(b']') {
            return Err(MatrixError::Empty);
        }
        Ok(Self {
            reader,
            rows: 0,
            cols: 0,
            finished: false,
            span: 0..0,
        })
    }

    /// Appends the next row's values to `values` and returns their count,
    /// or `None` after the last row, once the rest of the text is checked.
    fn next_row(&mut self, values: &mut Values) -> Result<Option<usize>, MatrixError> {
        if self.finished {
            return Ok(None);
        }
        let reader = &mut self.reader;
        if self.rows > 0 {
            reader.skip_ws();
            match reader.next() {
                Some(b',') => reader.skip_ws(),
                Some(b']') => {
                    self.finished = true;
                    reader.skip_ws();
                    if reader.pos != reader.bytes.len() {
                        return Err(reader.syntax_error(reader.pos, "the end of the text"));
                    }
                    if self.cols == 0 {
                        return Err(MatrixError::Empty);
                    }
                    return Ok(None);
                }
                _ => {
                    return Err(
                        reader.syntax_error(reader.pos.saturating_sub(1), "',' or ']' after a row")
                    );
                }
            }
        }
        let start = reader.pos;
        let count = reader.row(values)?;
        self.span = start..reader.pos;
        if self.rows == 0 {
            self.cols = count;
        } else if count != self.cols {
            return Err(MatrixError::RaggedRows {
                row: self.rows,
                expected: self.cols,
                found: count,
            });
        }
        self.rows += 1;
        Ok(Some(count))
    }
}

/// Reads an integer matrix text one row at a time into a reused buffer, so
/// that a large matrix can be consumed (checked, summed, dotted) without
/// being held. The text is validated by the same rules as [`parse_i64`] as
/// the rows are taken; the error is that of the first problem met in reading
/// order (so for a text with several problems it may differ from
/// [`parse_i64`]'s, which reports a float only after reading everything).
pub struct IntRows<'a> {
    cursor: RowCursor<'a>,
    row: Values,
}

impl<'a> IntRows<'a> {
    /// Starts reading `text`, up to its first row.
    ///
    /// # Errors
    /// As [`parse_i64`], for the text's opening.
    pub fn new(text: &'a str) -> Result<Self, MatrixError> {
        Ok(Self {
            cursor: RowCursor::new(Reader::new(text.as_bytes()))?,
            row: Values::Int(Vec::new()),
        })
    }

    /// The next row, or `None` after the last one (the whole text then
    /// having been read and checked).
    ///
    /// # Errors
    /// As [`parse_i64`], for the text read so far.
    pub fn next_row(&mut self) -> Result<Option<&[i64]>, MatrixError> {
        match &mut self.row {
            Values::Int(values) => values.clear(),
            row @ Values::Float(_) => *row = Values::Int(Vec::new()),
        }
        if self.cursor.next_row(&mut self.row)?.is_none() {
            return Ok(None);
        }
        match &self.row {
            Values::Int(values) => Ok(Some(values)),
            Values::Float(_) => Err(float_for_integers()),
        }
    }

    /// Rows read so far.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.cursor.rows
    }

    /// Values in each row (0 before the first row is read).
    #[must_use]
    pub fn cols(&self) -> usize {
        self.cursor.cols
    }

    /// Byte span in the text of the row [`IntRows::next_row`] last
    /// returned, its brackets included (`0..0` before the first row).
    pub(crate) fn row_span(&self) -> Range<usize> {
        self.cursor.span.clone()
    }
}

/// The error for a float where only integers are accepted.
fn float_for_integers() -> MatrixError {
    MatrixError::NotANumber {
        offset: 0,
        found: "a float where integers were expected".to_owned(),
    }
}

/// A single-pass reader over the text's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// Reads the whole matrix, pushing each row's span to `spans` if given.
    fn matrix(self, mut spans: Option<&mut Vec<Range<usize>>>) -> Result<AnyMatrix, MatrixError> {
        // A rough guess of the element count avoids most regrowth.
        let mut values = Values::Int(Vec::with_capacity(self.bytes.len() / 4));
        let mut cursor = RowCursor::new(self)?;
        while cursor.next_row(&mut values)?.is_some() {
            if let Some(spans) = spans.as_deref_mut() {
                spans.push(cursor.span.clone());
            }
        }
        let (rows, cols) = (cursor.rows, cursor.cols);
        Ok(match values {
            Values::Int(data) => AnyMatrix::Int(Matrix::new(rows, cols, data)?),
            Values::Float(data) => AnyMatrix::Float(Matrix::new(rows, cols, data)?),
        })
    }

    /// Reads `[v, v, ...]` and returns the number of values.
    fn row(&mut self, values: &mut Values) -> Result<usize, MatrixError> {
        if self.peek() != Some(b'[') {
            return Err(self.syntax_error(self.pos, "'[' opening a row"));
        }
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(0);
        }
        let mut count = 0;
        loop {
            if let Values::Int(ints) = values {
                let (parsed, row_done) = compact_integers(self.bytes, &mut self.pos, ints);
                count += parsed;
                if row_done {
                    return Ok(count);
                }
                self.skip_ws();
            }
            self.number(values)?;
            count += 1;
            self.skip_ws();
            match self.next() {
                Some(b',') => self.skip_ws(),
                Some(b']') => return Ok(count),
                _ => {
                    return Err(
                        self.syntax_error(self.pos.saturating_sub(1), "',' or ']' after a value")
                    );
                }
            }
        }
    }

    /// Reads one number: an integer, or a float if it has a fraction or an
    /// exponent.
    #[inline]
    fn number(&mut self, values: &mut Values) -> Result<(), MatrixError> {
        let bytes = self.bytes;
        let start = self.pos;
        let negative = bytes.get(start) == Some(&b'-');
        let digits_start = start + usize::from(negative);
        let mut pos = digits_start;
        let mut magnitude: u64 = 0;
        // Eight bytes at a time while they last, then byte by byte.
        while let Some(chunk) = bytes.get(pos..pos + 8) {
            let (value, len) = eight_digits(chunk);
            magnitude = magnitude.wrapping_mul(POW10[len]).wrapping_add(value);
            pos += len;
            if len < 8 {
                break;
            }
        }
        if bytes.len() - pos < 8 {
            while let Some(&byte) = bytes.get(pos) {
                let digit = byte.wrapping_sub(b'0');
                if digit > 9 {
                    break;
                }
                magnitude = magnitude.wrapping_mul(10).wrapping_add(u64::from(digit));
                pos += 1;
            }
        }
        self.pos = pos;
        // Up to 19 digits cannot overflow u64; longer literals are re-read
        // with checked arithmetic (they only fit with leading zeros).
        let mut too_big = false;
        if pos - digits_start > 19 {
            magnitude = 0;
            for &byte in &bytes[digits_start..pos] {
                match magnitude
                    .checked_mul(10)
                    .and_then(|m| m.checked_add(u64::from(byte - b'0')))
                {
                    Some(m) => magnitude = m,
                    None => too_big = true,
                }
            }
        }
        let is_float = matches!(self.peek(), Some(b'.' | b'e' | b'E'));
        if self.pos == digits_start && !(is_float && self.peek() == Some(b'.')) {
            return Err(MatrixError::NotANumber {
                offset: start,
                found: excerpt(self.bytes, start),
            });
        }
        if is_float {
            while matches!(
                self.peek(),
                Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
            ) {
                self.pos += 1;
            }
            let token = std::str::from_utf8(&self.bytes[start..self.pos]).ok();
            let value = token
                .and_then(|t| t.parse::<f64>().ok())
                .filter(|v| v.is_finite());
            return match value {
                Some(value) => {
                    values.push_float(value);
                    Ok(())
                }
                None => Err(MatrixError::NotANumber {
                    offset: start,
                    found: excerpt(self.bytes, start),
                }),
            };
        }
        let value = if negative {
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        };
        match value {
            Some(value) if !too_big => {
                values.push_int(value);
                Ok(())
            }
            _ => Err(MatrixError::IntegerOutOfRange { offset: start }),
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline]
    fn next(&mut self) -> Option<u8> {
        let byte = self.peek();
        self.pos += 1;
        byte
    }

    #[inline]
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), MatrixError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.syntax_error(self.pos, what))
        }
    }

    #[cold]
    fn syntax_error(&self, offset: usize, expected: &'static str) -> MatrixError {
        syntax_error(self.bytes, offset, expected)
    }
}

/// A [`MatrixError::Syntax`] at `offset` (at most the end of `bytes`).
#[cold]
fn syntax_error(bytes: &[u8], offset: usize, expected: &'static str) -> MatrixError {
    let offset = offset.min(bytes.len());
    MatrixError::Syntax {
        offset,
        expected,
        found: excerpt(bytes, offset),
    }
}

/// Whether `byte` is whitespace the reader accepts between tokens (as
/// `Reader::skip_ws` skips).
#[inline]
fn is_ws(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// Up to 16 characters of `bytes` from `offset`, quoted, or "the end of the
/// text".
#[cold]
fn excerpt(bytes: &[u8], offset: usize) -> String {
    let rest = bytes.get(offset..).unwrap_or_default();
    if rest.is_empty() {
        return "the end of the text".to_owned();
    }
    let text = String::from_utf8_lossy(&rest[..rest.len().min(16)]);
    format!("{:?}", text.as_ref())
}
