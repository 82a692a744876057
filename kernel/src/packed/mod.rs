//! The packed form of an integer matrix: a binary form this project's
//! worker pages post their products in. A product value takes about 3 bytes
//! packed where its Dana text takes about 7, and packing costs no more than
//! writing the text, so a slow uplink carries less than half the bytes with
//! nothing to compress.
//!
//! Layout: the four bytes `XIM1`, the row count and the column count as
//! LEB128 varints, then each value in row order as a zigzag LEB128 varint
//! (so small negative values stay small). Nothing follows the last value.
//!
//! The coordinator turns a packed product back into the Dana text at the
//! door ([`unpack_to_text`]), so everything after it, and every client, sees
//! the text the worker would have posted. The pages submit integer operands
//! the same way, A and B packed back to back ([`unpack_task_to_json`]), and
//! may read a product packed: the coordinator packs the text it holds
//! ([`pack_text`]).

mod from_text;

pub use from_text::{TextPacker, pack_text};

use crate::text::push_i64_and;
use crate::{Matrix, MatrixError};

/// The first four bytes of a packed matrix.
pub const MAGIC: &[u8; 4] = b"XIM1";

/// The media type of a packed matrix in a request body.
pub const MEDIA_TYPE: &str = "application/x-packed-int-matrix";

/// Why bytes are not a packed matrix, or not one that fits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackedError {
    /// The bytes do not start with [`MAGIC`].
    #[error("a packed matrix starts with the bytes XIM1")]
    Magic,
    /// The bytes end inside the header or before the last value.
    #[error("the packed matrix ends early: {0}")]
    Truncated(&'static str),
    /// A varint runs past 64 bits.
    #[error("a packed value does not fit in 64 bits")]
    Overflow,
    /// A side is zero.
    #[error("a packed matrix has at least one row and one column")]
    Empty,
    /// Bytes follow the last value.
    #[error("{0} bytes follow the packed matrix's last value")]
    Trailing(usize),
    /// The Dana text would be longer than the limit.
    #[error("the packed matrix's text would exceed {0} bytes")]
    TooLarge(usize),
}

/// Packs an integer matrix.
#[must_use]
pub fn pack_i64(m: &Matrix<i64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 20 + m.data().len() * 3);
    out.extend_from_slice(MAGIC);
    push_varint(&mut out, m.rows() as u64);
    push_varint(&mut out, m.cols() as u64);
    for &value in m.data() {
        push_varint(&mut out, zigzag(value));
    }
    out
}

/// The Dana text of the packed matrix `bytes`, exactly as
/// [`crate::text::write_i64`] writes it, refused once it would pass
/// `max_text` bytes (so a small body cannot make a large text).
///
/// # Errors
///
/// [`PackedError`] for bytes that are not one whole packed matrix with at
/// least one row and one column, or whose text would pass `max_text`.
pub fn unpack_to_text(bytes: &[u8], max_text: usize) -> Result<Vec<u8>, PackedError> {
    let mut rest = bytes;
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(3).min(max_text));
    write_text(&mut rest, &mut out, max_text)?;
    finished(rest)?;
    Ok(out)
}

/// The task body `{"A":"TEXT","B":"TEXT"}` of two packed matrices back to
/// back, A then B (how the pages submit integer operands packed), refused
/// once it would pass `max_body` bytes.
///
/// # Errors
///
/// As [`unpack_to_text`], for either matrix.
pub fn unpack_task_to_json(bytes: &[u8], max_body: usize) -> Result<Vec<u8>, PackedError> {
    let mut rest = bytes;
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(3).min(max_body));
    out.extend_from_slice(b"{\"A\":\"");
    write_text(&mut rest, &mut out, max_body)?;
    out.extend_from_slice(b"\",\"B\":\"");
    write_text(&mut rest, &mut out, max_body)?;
    out.extend_from_slice(b"\"}");
    if out.len() > max_body {
        return Err(PackedError::TooLarge(max_body));
    }
    finished(rest)?;
    Ok(out)
}

/// Appends the text of the packed matrix at the front of `rest` to `out`
/// and moves `rest` past it; refused once `out` would pass `max_len`.
fn write_text(rest: &mut &[u8], out: &mut Vec<u8>, max_len: usize) -> Result<(), PackedError> {
    *rest = rest.strip_prefix(MAGIC).ok_or(PackedError::Magic)?;
    let rows = read_varint(rest).ok_or(PackedError::Truncated("in the row count"))??;
    let cols = read_varint(rest).ok_or(PackedError::Truncated("in the column count"))??;
    if rows == 0 || cols == 0 {
        return Err(PackedError::Empty);
    }
    // Each value takes at least one byte: a count the bytes cannot hold is
    // refused before anything is made for it.
    let count = rows
        .checked_mul(cols)
        .filter(|&count| count <= rest.len() as u64)
        .ok_or(PackedError::Truncated("before the last value"))?;
    // At least `[`, `[`, a digit and `]` or `,` per value, and `]`.
    let least = (count as usize).saturating_mul(2).saturating_add(2);
    if out.len().saturating_add(least) > max_len {
        return Err(PackedError::TooLarge(max_len));
    }
    out.push(b'[');
    for row in 0..rows {
        out.extend_from_slice(if row == 0 { b"[" } else { b",[" });
        for _ in 0..cols {
            let value =
                read_varint(rest).ok_or(PackedError::Truncated("before the last value"))??;
            push_i64_and(out, unzigzag(value), b',');
            if out.len() > max_len {
                return Err(PackedError::TooLarge(max_len));
            }
        }
        if let Some(last) = out.last_mut() {
            *last = b']';
        }
    }
    out.push(b']');
    if out.len() > max_len {
        return Err(PackedError::TooLarge(max_len));
    }
    Ok(())
}

/// Refuses bytes after the last matrix.
fn finished(rest: &[u8]) -> Result<(), PackedError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(PackedError::Trailing(rest.len()))
    }
}

/// Multiplies two matrices given as Dana text and returns the product
/// packed when it is an integer matrix, or as its Dana text when it is a
/// float one (a packed matrix starts with `X`, a text with `[`).
///
/// # Errors
///
/// As [`crate::multiply_text`].
pub fn multiply_text_to_wire(a: &str, b: &str) -> Result<Vec<u8>, MatrixError> {
    let a = crate::text::parse(a)?;
    let b = crate::text::parse(b)?;
    match a.multiply(b)? {
        crate::AnyMatrix::Int(product) => Ok(pack_i64(&product)),
        float => float.to_text().map(String::into_bytes),
    }
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads one varint from the front of `bytes`: `None` when they end inside
/// it, an error when it runs past 64 bits.
fn read_varint(bytes: &mut &[u8]) -> Option<Result<u64, PackedError>> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate() {
        let low = u64::from(byte & 0x7f);
        if i == 9 && byte > 1 || i > 9 {
            return Some(Err(PackedError::Overflow));
        }
        value |= low << (7 * i);
        if byte & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Some(Ok(value));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;
    use crate::text::write_i64;

    fn matrix(rows: usize, cols: usize, data: Vec<i64>) -> Matrix<i64> {
        Matrix::new(rows, cols, data).unwrap()
    }

    #[test]
    fn a_small_matrix_packs_to_the_documented_bytes() {
        let packed = pack_i64(&matrix(1, 3, vec![0, -1, 64]));
        assert_eq!(packed, b"XIM1\x01\x03\x00\x01\x80\x01");
    }

    #[test]
    fn extremes_come_back_as_their_text() {
        let m = matrix(2, 2, vec![i64::MIN, i64::MAX, -1, 0]);
        let text = unpack_to_text(&pack_i64(&m), usize::MAX).unwrap();
        assert_eq!(text, write_i64(&m).into_bytes());
    }

    #[test]
    fn bad_bytes_are_refused_with_what_is_wrong() {
        let good = pack_i64(&matrix(2, 2, vec![1, 2, 3, 4]));
        let cases: [(&[u8], PackedError); 7] = [
            (b"", PackedError::Magic),
            (b"[[1]]", PackedError::Magic),
            (b"XIM1", PackedError::Truncated("in the row count")),
            (b"XIM1\x01", PackedError::Truncated("in the column count")),
            (b"XIM1\x00\x05", PackedError::Empty),
            (
                &good[..good.len() - 1],
                PackedError::Truncated("before the last value"),
            ),
            (
                b"XIM1\x01\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02",
                PackedError::Overflow,
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(unpack_to_text(bytes, 1 << 20), Err(expected), "{bytes:?}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(
            unpack_to_text(&trailing, 1 << 20),
            Err(PackedError::Trailing(1))
        );
    }

    #[test]
    fn a_huge_declared_size_is_refused_before_anything_is_made() {
        // 2^32 x 2^32 values declared in a dozen bytes.
        let mut bytes = MAGIC.to_vec();
        push_varint(&mut bytes, 1 << 32);
        push_varint(&mut bytes, 1 << 32);
        bytes.push(0);
        assert_eq!(
            unpack_to_text(&bytes, usize::MAX),
            Err(PackedError::Truncated("before the last value"))
        );
    }

    #[test]
    fn text_past_the_limit_is_refused() {
        let m = matrix(4, 4, vec![-1_000_000_007; 16]);
        let text = write_i64(&m);
        let packed = pack_i64(&m);
        assert_eq!(
            unpack_to_text(&packed, text.len()).unwrap(),
            text.into_bytes()
        );
        assert_eq!(unpack_to_text(&packed, 40), Err(PackedError::TooLarge(40)));
    }

    #[test]
    fn two_packed_matrices_become_a_task_body() {
        let a = matrix(1, 2, vec![1, -2]);
        let b = matrix(2, 1, vec![3, 4]);
        let mut bytes = pack_i64(&a);
        bytes.extend_from_slice(&pack_i64(&b));
        let body = unpack_task_to_json(&bytes, 100).unwrap();
        assert_eq!(body, br#"{"A":"[[1,-2]]","B":"[[3],[4]]"}"#);
        assert_eq!(unpack_task_to_json(&bytes, body.len()).unwrap(), body);
        assert_eq!(
            unpack_task_to_json(&bytes, body.len() - 1),
            Err(PackedError::TooLarge(body.len() - 1))
        );
        // One matrix only, or a third one after B.
        assert_eq!(
            unpack_task_to_json(&pack_i64(&a), 100),
            Err(PackedError::Magic)
        );
        let mut three = bytes.clone();
        three.extend_from_slice(&pack_i64(&b));
        assert!(matches!(
            unpack_task_to_json(&three, 100),
            Err(PackedError::Trailing(_))
        ));
    }

    #[test]
    fn integer_products_go_packed_and_float_ones_as_text() {
        let packed = multiply_text_to_wire("[[1,2],[3,4]]", "[[5,6],[7,8]]").unwrap();
        assert_eq!(unpack_to_text(&packed, 100).unwrap(), b"[[19,22],[43,50]]");
        let float = multiply_text_to_wire("[[1.5]]", "[[2]]").unwrap();
        assert_eq!(float, b"[[3]]");
    }

    proptest! {
        #[test]
        fn unpacking_gives_the_text_of_the_packed_matrix(
            (rows, cols, data) in (1usize..6, 1usize..6).prop_flat_map(|(r, c)| {
                (Just(r), Just(c), proptest::collection::vec(any::<i64>(), r * c))
            })
        ) {
            let m = matrix(rows, cols, data);
            let text = write_i64(&m);
            prop_assert_eq!(unpack_to_text(&pack_i64(&m), text.len()).unwrap(), text.into_bytes());
        }
    }
}
