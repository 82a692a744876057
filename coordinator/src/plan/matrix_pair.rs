//! A task's data read as a matrix pair, and the data of its row-block
//! parts, on text.
//!
//! A task whose data is `{"A":..,"B":..}` (each a JSON string holding Dana
//! matrix text, or a JSON array) is recognised by [`MatrixPair::parse`],
//! which finds the byte span of every row of `A` in one scan. A part is then
//! `A`'s rows `i..j` with all of `B`, written in the exact contract format
//! `{"A":..,"B":..}` and in the form the client used for each operand: the
//! rows are copied as they were written (spaces included) and `B`'s JSON is
//! copied verbatim, never re-serialised. Any worker computes a part as an
//! ordinary task; the queue joins the parts' product texts back in row
//! order.
//!
//! The scan checks structure only (brackets, commas, equal row lengths, the
//! inner dimensions); numbers are left to whoever parses the matrices.
//! Deciding whether to split, how many parts, and checking each part's
//! result is the caller's job.

use std::borrow::Cow;
use std::ops::Range;

use bytes::Bytes;
use kernel::MatrixError;
use kernel::text::{RowSpans, row_spans};

#[cfg(test)]
use super::operands;
use super::operands::OperandSpans;
use crate::shared_text::SharedText;

/// The operands of a task's data `{"A":..,"B":..}`, found but not read.
#[derive(Debug, Clone)]
pub(crate) struct Operands<'a> {
    /// `A`'s matrix text (decoded when it was a JSON string with escapes).
    a_text: Cow<'a, str>,
    /// Whether `A` was sent as a JSON string (else a JSON array).
    a_is_string: bool,
    /// `B` as the client wrote it: a JSON string or array.
    b_json: &'a str,
    /// `B`'s matrix text (decoded when it was a JSON string).
    b_text: Cow<'a, str>,
}

impl<'a> Operands<'a> {
    /// The operands at `spans` in `data` (task data as JSON text), each a
    /// JSON string holding a matrix text or a JSON array of rows; `None`
    /// when either is something else.
    pub(crate) fn find(data: &'a str, spans: &OperandSpans) -> Option<Self> {
        let (a_json, b_json) = (spans.a_json(data)?, spans.b_json(data)?);
        let (a_text, a_is_string) = matrix_text(a_json)?;
        let (b_text, _) = matrix_text(b_json)?;
        Some(Self {
            a_text,
            a_is_string,
            b_json,
            b_text,
        })
    }

    /// `A`'s matrix text.
    pub(crate) fn a_text(&self) -> &str {
        &self.a_text
    }

    /// `B`'s matrix text.
    pub(crate) fn b_text(&self) -> &str {
        &self.b_text
    }

    /// The pair, with `A`'s rows as the reader found them and `B`'s column
    /// count: the shape a check prepared from the two texts knows.
    pub(crate) fn with_rows(self, a_rows: RowSpans, b_cols: usize) -> MatrixPair<'a> {
        MatrixPair {
            a_rows: a_rows.rows,
            a_cols: a_rows.cols,
            b_cols,
            operands: self,
        }
    }

    /// The pair, its shapes found by scanning both texts' structure (no
    /// numbers read).
    ///
    /// # Errors
    ///
    /// What is wrong, in the kernel's words, when a matrix is ragged, empty
    /// or malformed, or `A`'s columns are not `B`'s rows.
    pub(crate) fn scan(self) -> Result<MatrixPair<'a>, String> {
        let a = row_spans(&self.a_text).map_err(|e| format!("matrix A: {e}"))?;
        let b = row_spans(&self.b_text).map_err(|e| format!("matrix B: {e}"))?;
        MatrixError::check_shapes(a.rows.len(), a.cols, b.rows.len(), b.cols)
            .map_err(|e| e.to_string())?;
        Ok(self.with_rows(a, b.cols))
    }
}

/// A task's data recognised as a matrix pair `{"A":..,"B":..}` whose
/// shapes multiply.
#[derive(Debug, Clone)]
pub(crate) struct MatrixPair<'a> {
    operands: Operands<'a>,
    /// Byte span of each row `[..]` of `A` in its text.
    a_rows: Vec<Range<usize>>,
    a_cols: usize,
    b_cols: usize,
}

impl<'a> MatrixPair<'a> {
    /// Recognises `data` (task data as JSON text) as a matrix pair: an
    /// object with fields `A` and `B` (other fields are ignored), each a
    /// JSON string holding a matrix text or a JSON array of rows, where `A`'s
    /// columns equal `B`'s rows. `None` for anything else, including ragged
    /// or empty matrices.
    #[cfg(test)]
    pub(crate) fn parse(data: &'a str) -> Option<Self> {
        Operands::find(data, &operands::find(data).ok()??)?
            .scan()
            .ok()
    }

    /// Rows of `A` (and of the product).
    pub(crate) fn rows(&self) -> usize {
        self.a_rows.len()
    }

    /// The inner dimension: columns of `A`, rows of `B`.
    #[cfg(test)]
    fn inner(&self) -> usize {
        self.a_cols
    }

    /// Columns of `B` (and of the product).
    #[cfg(test)]
    fn cols(&self) -> usize {
        self.b_cols
    }

    /// Floating point operations of the product: `2 m k n`.
    pub(crate) fn flops(&self) -> u128 {
        self.rows_flops(&(0..self.rows()))
    }

    /// Floating point operations of the product's `rows`.
    pub(crate) fn rows_flops(&self, rows: &Range<usize>) -> u128 {
        2 * rows.len() as u128 * self.a_cols as u128 * self.b_cols as u128
    }

    /// `A`'s matrix text.
    pub(crate) fn a_text(&self) -> &str {
        self.operands.a_text()
    }

    /// `B`'s matrix text.
    pub(crate) fn b_text(&self) -> &str {
        self.operands.b_text()
    }

    /// The rows of each of `parts` blocks (at most one per row, at least
    /// one): sizes differ by at most one, larger blocks first.
    pub(crate) fn part_rows(&self, parts: usize) -> Vec<Range<usize>> {
        balanced_ranges(self.rows(), parts)
    }

    /// The rows of one block per weight, in the weights' order, each as
    /// close to its share of the rows as whole rows allow (at least one).
    pub(crate) fn weighted_part_rows(&self, weights: &[f64]) -> Vec<Range<usize>> {
        weighted_ranges(self.rows(), weights)
    }

    /// The task data of the part covering `rows` of `A`, made of slices of
    /// `source` (the bytes the pair was read from) for `A`'s rows and for
    /// `B`, so no operand is copied (pieces not inside `source`, and rows
    /// of an `A` that had escapes, are copied).
    ///
    /// # Panics
    ///
    /// When `rows` is empty or not inside `0..self.rows()`.
    pub(crate) fn part_data(&self, source: &Bytes, rows: Range<usize>) -> SharedText {
        assert!(
            !rows.is_empty() && rows.end <= self.rows(),
            "part rows {rows:?} out of 0..{}",
            self.rows()
        );
        let span = self.a_rows[rows.start].start..self.a_rows[rows.end - 1].end;
        let operands = &self.operands;
        let a_rows = &operands.a_text[span];
        let literal = Bytes::from_static;
        let mut borrowed = 0;
        let mut shared = |piece: &str| {
            let (bytes, is_slice) = share(source, piece);
            borrowed += if is_slice { bytes.len() } else { 0 };
            bytes
        };
        let mut pieces = Vec::with_capacity(5);
        if operands.a_is_string {
            // A string with escapes was decoded: its rows are escaped again.
            if matches!(operands.a_text, Cow::Owned(_)) {
                let quoted = serde_json::to_string(&format!("[{a_rows}]"))
                    .unwrap_or_else(|_| unreachable!("a string always serialises"));
                pieces.extend([literal(b"{\"A\":"), Bytes::from(quoted)]);
            } else {
                pieces.extend([literal(b"{\"A\":\"["), shared(a_rows), literal(b"]\"")]);
            }
        } else {
            pieces.extend([literal(b"{\"A\":["), shared(a_rows), literal(b"]")]);
        }
        pieces.extend([literal(b",\"B\":"), shared(operands.b_json), literal(b"}")]);
        SharedText::from_pieces(pieces).borrowing(borrowed)
    }
}

/// `piece` as a slice of `source`, sharing its bytes, when it lies inside
/// `source` (then `true`); else a copy.
fn share(source: &Bytes, piece: &str) -> (Bytes, bool) {
    let outer = source.as_ptr() as usize..source.as_ptr() as usize + source.len();
    let start = piece.as_ptr() as usize;
    if outer.start <= start && start + piece.len() <= outer.end {
        (source.slice_ref(piece.as_bytes()), true)
    } else {
        (Bytes::copy_from_slice(piece.as_bytes()), false)
    }
}

/// Splits `0..len` into `parts` contiguous ranges (clamped to `1..=len`)
/// whose lengths differ by at most one; empty when `len` is 0.
pub(super) fn balanced_ranges(len: usize, parts: usize) -> Vec<Range<usize>> {
    if len == 0 {
        return Vec::new();
    }
    let parts = parts.clamp(1, len);
    let (base, extra) = (len / parts, len % parts);
    let mut start = 0;
    (0..parts)
        .map(|p| {
            let end = start + base + usize::from(p < extra);
            let range = start..end;
            start = end;
            range
        })
        .collect()
}

/// Splits `0..len` into one contiguous range per weight (at most `len`),
/// each of about its weight's share of `len` and at least 1 long (largest
/// remainders round up); empty when `len` is 0.
pub(super) fn weighted_ranges(len: usize, weights: &[f64]) -> Vec<Range<usize>> {
    let parts = weights.len().min(len);
    let weights = &weights[..parts];
    let total: f64 = weights.iter().filter(|w| w.is_finite() && **w > 0.0).sum();
    if weights.iter().any(|w| !w.is_finite()) {
        return balanced_ranges(len, parts);
    }
    if parts == 0 || total <= 0.0 {
        return balanced_ranges(len, parts);
    }
    // Each its share rounded down (at least one row), then the rows left
    // to the largest remainders, or taken back from the largest parts.
    let shares: Vec<f64> = weights
        .iter()
        .map(|w| w.max(0.0) / total * len as f64)
        .collect();
    let mut sizes: Vec<usize> = shares.iter().map(|s| (s.floor() as usize).max(1)).collect();
    let mut by_remainder: Vec<usize> = (0..parts).collect();
    by_remainder.sort_by(|&a, &b| {
        let remainder = |p: usize| shares[p] - shares[p].floor();
        remainder(b).total_cmp(&remainder(a))
    });
    let mut given: usize = sizes.iter().sum();
    for &part in by_remainder.iter().cycle().take(len) {
        if given >= len {
            break;
        }
        sizes[part] += 1;
        given += 1;
    }
    while given > len {
        let Some(largest) = (0..parts).max_by_key(|&p| sizes[p]) else {
            break;
        };
        sizes[largest] -= 1;
        given -= 1;
    }
    let mut start = 0;
    sizes
        .into_iter()
        .map(|size| {
            let range = start..start + size;
            start += size;
            range
        })
        .collect()
}

/// A matrix's text from its JSON value: the content of a JSON string
/// (borrowed unless it had escapes), or the JSON array text itself. The bool
/// tells whether it was a string.
fn matrix_text(json: &str) -> Option<(Cow<'_, str>, bool)> {
    if json.starts_with('"') {
        let inner = &json[1..json.len() - 1];
        if inner.contains('\\') {
            let decoded: String = serde_json::from_str(json).ok()?;
            Some((Cow::Owned(decoded), true))
        } else {
            Some((Cow::Borrowed(inner), true))
        }
    } else if json.starts_with('[') {
        Some((Cow::Borrowed(json), false))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The product of two integer matrices, by the native kernel.
    fn product_text(a: &[Vec<i64>], b: &[Vec<i64>]) -> String {
        let text = |m: &[Vec<i64>]| serde_json::to_string(m).unwrap();
        kernel::multiply_text(&text(a), &text(b)).unwrap()
    }

    /// Computes a part's data as a worker does: A and B as text (from
    /// strings or arrays), multiplied by the native kernel.
    fn compute_part(data: &str) -> String {
        let value: serde_json::Value = serde_json::from_str(data).unwrap();
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        kernel::multiply_text(&text(&value["A"]), &text(&value["B"])).unwrap()
    }

    fn matrix(rows: usize, cols: usize, seed: i64) -> Vec<Vec<i64>> {
        (0..rows)
            .map(|i| {
                (0..cols)
                    .map(|j| (seed * 7 + i as i64 * 31 + j as i64 * 17) % 23 - 11)
                    .collect()
            })
            .collect()
    }

    /// Dana text with spaces, as a client may write it.
    fn spaced(m: &[Vec<i64>]) -> String {
        let rows: Vec<String> = m
            .iter()
            .map(|r| {
                let values: Vec<String> = r.iter().map(i64::to_string).collect();
                format!("[{}]", values.join(", "))
            })
            .collect();
        format!("[ {} ]", rows.join(", "))
    }

    /// `data`'s parts, sharing its bytes.
    /// One row block of a split multiplication.
    #[derive(Debug)]
    struct Part {
        rows: Range<usize>,
        data: SharedText,
    }

    fn split_source(source: &Bytes, parts: usize) -> Vec<Part> {
        let text = std::str::from_utf8(source).unwrap();
        let pair = MatrixPair::parse(text).unwrap();
        pair.part_rows(parts)
            .into_iter()
            .map(|rows| Part {
                data: pair.part_data(source, rows.clone()),
                rows,
            })
            .collect()
    }

    fn split(data: &str, parts: usize) -> Vec<Part> {
        split_source(&Bytes::copy_from_slice(data.as_bytes()), parts)
    }

    fn split_and_assemble(data: &str, parts: usize) -> String {
        let results: Vec<SharedText> = split(data, parts)
            .iter()
            .map(|p| compute_part(&p.data.to_text()).into())
            .collect();
        crate::queue::assemble(&results).unwrap().to_string()
    }

    #[test]
    fn split_and_assembled_product_equals_the_whole_product() {
        // Rows not divisible by the part count, 1 x n, n x 1, more parts
        // than rows.
        for (m, k, n) in [
            (7, 5, 3),
            (10, 4, 4),
            (1, 9, 6),
            (9, 6, 1),
            (6, 1, 6),
            (3, 2, 2),
        ] {
            let a = matrix(m, k, 1);
            let b = matrix(k, n, 2);
            let expected = product_text(&a, &b);
            let compact = |x: &Vec<Vec<i64>>| serde_json::to_string(x).unwrap();
            let forms = [
                // Dana main app: strings of compact text.
                serde_json::json!({"A": compact(&a), "B": compact(&b)}).to_string(),
                // Strings with spaces.
                serde_json::json!({"A": spaced(&a), "B": spaced(&b)}).to_string(),
                // JavaScript client: arrays, pretty-printed.
                serde_json::to_string_pretty(&serde_json::json!({"A": a, "B": b})).unwrap(),
            ];
            for data in &forms {
                for parts in [1, 2, 3, 4, 8] {
                    assert_eq!(
                        split_and_assemble(data, parts),
                        expected,
                        "{m}x{k}x{n} in {parts} parts from {data}"
                    );
                }
            }
        }
    }

    #[test]
    fn parts_keep_the_client_form_of_each_operand() {
        let data = r#"{"A":"[[1, 2],[3,4] ,[5,6]]","B":[[1,0],[0, 1]]}"#;
        let parts = split(data, 2);
        assert_eq!(parts[0].rows, 0..2);
        assert_eq!(
            parts[0].data.to_text(),
            r#"{"A":"[[1, 2],[3,4]]","B":[[1,0],[0, 1]]}"#
        );
        assert_eq!(parts[1].rows, 2..3);
        assert_eq!(
            parts[1].data.to_text(),
            r#"{"A":"[[5,6]]","B":[[1,0],[0, 1]]}"#
        );
        let arrays = r#"{"B":"[[1]]", "A":[ [1], [2] ]}"#;
        let parts = split(arrays, 2);
        assert_eq!(parts[0].data.to_text(), r#"{"A":[[1]],"B":"[[1]]"}"#);
        assert_eq!(parts[1].data.to_text(), r#"{"A":[[2]],"B":"[[1]]"}"#);
    }

    #[test]
    fn parts_share_the_operands_bytes_instead_of_copying_them() {
        let data = r#"{"A":"[[1,2],[3,4],[5,6]]","B":"[[1,0],[0,1]]"}"#;
        let source = Bytes::copy_from_slice(data.as_bytes());
        let inside = |piece: &Bytes| {
            let (start, base) = (piece.as_ptr() as usize, source.as_ptr() as usize);
            base <= start && start + piece.len() <= base + source.len()
        };
        for part in split_source(&source, 2) {
            let pieces = part.data.pieces();
            let shared: usize = pieces.iter().filter(|p| inside(p)).map(Bytes::len).sum();
            // Only the literals `{"A":"[`, `]"`, `,"B":` and `}` are new.
            assert_eq!(part.data.len() - shared, 15, "copied: {part:?}");
            assert_eq!(part.data.own_len(), 15, "counted as held: {part:?}");
        }
    }

    #[test]
    fn escaped_strings_are_decoded_and_escaped_again() {
        let data = r#"{"A":"[[1,2],\n[3,4]]","B":"[[1],[1]]"}"#;
        let pair = MatrixPair::parse(data).unwrap();
        assert_eq!(pair.a_text(), "[[1,2],\n[3,4]]");
        let parts = split(data, 2);
        assert_eq!(
            parts[1].data.to_text(),
            r#"{"A":"[[3,4]]","B":"[[1],[1]]"}"#
        );
        assert_eq!(split_and_assemble(data, 2), "[[3],[7]]");
    }

    #[test]
    fn shapes_and_flops_are_read_from_the_text() {
        let pair =
            MatrixPair::parse(r#"{"A":"[[1,2,3],[4,5,6]]","B":"[[1,2],[3,4],[5,6]]"}"#).unwrap();
        assert_eq!((pair.rows(), pair.inner(), pair.cols()), (2, 3, 2));
        assert_eq!(pair.flops(), 24);
        assert_eq!(pair.b_text(), "[[1,2],[3,4],[5,6]]");
    }

    #[test]
    fn non_matrix_task_data_is_not_recognised() {
        for data in [
            r#""hello""#,
            "[[1,2]]",
            r#"{"A":"[[1,2]]"}"#,
            r#"{"A":"[[1,2]]","B":5}"#,
            r#"{"A":"[[1,2]]","B":"[[1],[2],[3]]"}"#,
            r#"{"A":"[[1,2],[3]]","B":"[[1],[2]]"}"#,
            r#"{"A":"[]","B":"[[1]]"}"#,
            r#"{"A":"[[]]","B":"[[1]]"}"#,
            r#"{"A":"[[1]] x","B":"[[1]]"}"#,
            r#"{"A":"[[[1]]]","B":"[[1]]"}"#,
            r#"{"A":"[[1],","B":"[[1]]"}"#,
            r#"{"a":"[[1]]","b":"[[1]]"}"#,
        ] {
            assert!(MatrixPair::parse(data).is_none(), "{data} was recognised");
        }
    }

    #[test]
    fn balanced_ranges_cover_every_row_once() {
        assert_eq!(balanced_ranges(7, 3), vec![0..3, 3..5, 5..7]);
        assert_eq!(balanced_ranges(2, 5), vec![0..1, 1..2]);
        assert_eq!(balanced_ranges(4, 0), vec![0..4]);
        assert!(balanced_ranges(0, 3).is_empty());
        for len in 1..40 {
            for parts in 1..10 {
                let ranges = balanced_ranges(len, parts);
                assert_eq!(ranges.first().unwrap().start, 0);
                assert_eq!(ranges.last().unwrap().end, len);
                assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
                let sizes: Vec<usize> = ranges.iter().map(ExactSizeIterator::len).collect();
                assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
            }
        }
    }

    #[test]
    fn weighted_ranges_follow_the_weights_and_cover_every_row_once() {
        assert_eq!(weighted_ranges(100, &[4.0, 1.0]), vec![0..80, 80..100]);
        assert_eq!(
            weighted_ranges(10, &[1.0, 1.0, 1.0]),
            vec![0..4, 4..7, 7..10]
        );
        // Every part gets a row, however small its weight.
        assert_eq!(
            weighted_ranges(3, &[100.0, 0.01, 0.0]),
            vec![0..1, 1..2, 2..3]
        );
        assert_eq!(weighted_ranges(2, &[1.0, 1.0, 1.0]), vec![0..1, 1..2]);
        assert!(weighted_ranges(0, &[1.0]).is_empty());
        for len in 1..40 {
            for weights in [&[5.0, 1.0][..], &[1.0, 2.0, 3.0], &[9.0, 9.0, 1.0, 0.5]] {
                let ranges = weighted_ranges(len, weights);
                assert_eq!(ranges.len(), weights.len().min(len));
                assert_eq!(ranges.first().unwrap().start, 0);
                assert_eq!(ranges.last().unwrap().end, len);
                assert!(ranges.iter().all(|r| !r.is_empty()));
                assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
                for (range, weight) in ranges.iter().zip(weights) {
                    let share = weight / weights.iter().sum::<f64>() * len as f64;
                    assert!((range.len() as f64 - share).abs() < weights.len() as f64);
                }
            }
        }
    }
}
