//! Writing the compact Dana matrix text: integers exactly, floats with the
//! shortest text that reads back to the same `f64`, laid out as
//! JavaScript's `Number.prototype.toString` does (see [`super`]).
//!
//! Also [`AnyMatrix::to_text`], so that [`crate::value`] needs nothing from
//! the text module.

use std::fmt::Write as _;

use crate::value::AnyMatrix;
use crate::{Matrix, MatrixError};

impl AnyMatrix {
    /// The compact Dana text of this matrix.
    ///
    /// # Errors
    /// [`MatrixError::NonFinite`] for an infinite or NaN float.
    pub fn to_text(&self) -> Result<String, MatrixError> {
        match self {
            AnyMatrix::Int(m) => Ok(write_i64(m)),
            AnyMatrix::Float(m) => write_f64(m),
        }
    }
}

/// Writes an integer matrix in the compact Dana form, e.g. `[[19,22],[43,50]]`.
#[must_use]
pub fn write_i64(m: &Matrix<i64>) -> String {
    let mut out = Vec::with_capacity(m.data().len() * 8 + 2 * m.rows() + 2);
    out.push(b'[');
    if m.cols() > 0 {
        for (i, row) in m.data().chunks_exact(m.cols()).enumerate() {
            out.extend_from_slice(if i == 0 { b"[" } else { b",[" });
            // Each value is written with a trailing comma; the row's last
            // comma becomes its closing bracket.
            for &value in row {
                push_i64_and(&mut out, value, b',');
            }
            if let Some(last) = out.last_mut() {
                *last = b']';
            }
        }
    }
    out.push(b']');
    into_string(out)
}

/// Writes a float matrix in the compact Dana form with the shortest text
/// that reads back to each `f64` (integral values without a decimal point).
///
/// # Errors
/// [`MatrixError::NonFinite`] for an infinite or NaN element, which the text
/// form cannot express.
pub fn write_f64(m: &Matrix<f64>) -> Result<String, MatrixError> {
    if let Some(index) = m.data().iter().position(|v| !v.is_finite()) {
        return Err(MatrixError::NonFinite {
            row: index / m.cols(),
            col: index % m.cols(),
        });
    }
    let mut out = Vec::with_capacity(m.data().len() * 12 + 2 * m.rows() + 2);
    let mut scratch = String::new();
    write_rows(&mut out, m, |out, &v| push_f64(out, v, &mut scratch));
    Ok(into_string(out))
}

/// Writes `[row,row,...]` with `push` writing each value.
fn write_rows<T>(out: &mut Vec<u8>, m: &Matrix<T>, mut push: impl FnMut(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for i in 0..m.rows() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'[');
        for (j, value) in m.row(i).iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            push(out, value);
        }
        out.push(b']');
    }
    out.push(b']');
}

/// The writers only emit ASCII, so this never fails.
fn into_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("matrix writers emit only ASCII")
}

/// Two decimal digits for each value 0..100.
const DIGIT_PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// Appends the decimal form of `value`.
#[inline]
fn push_i64(out: &mut Vec<u8>, value: i64) {
    push_i64_and(out, value, b'\0');
    out.pop();
}

/// Writes the four digits of `rest` (below 10,000) just before `pos`.
#[inline]
fn put_four_digits(buf: &mut [u8; 21], pos: &mut usize, rest: usize) {
    let (high, low) = (rest / 100 * 2, rest % 100 * 2);
    *pos -= 4;
    buf[*pos..*pos + 2].copy_from_slice(&DIGIT_PAIRS[high..high + 2]);
    buf[*pos + 2..*pos + 4].copy_from_slice(&DIGIT_PAIRS[low..low + 2]);
}

/// Appends the decimal form of `value` followed by the byte `then` (four
/// digits per division step, as the `itoa` crate does, and one copy).
#[inline]
#[allow(clippy::cast_possible_truncation)]
pub(crate) fn push_i64_and(out: &mut Vec<u8>, value: i64, then: u8) {
    let mut buf = [0u8; 21];
    buf[20] = then;
    let mut pos = 20;
    let mut n = value.unsigned_abs();
    // 64-bit steps only while the value does not fit in 32 bits: 32-bit
    // divisions by constants are cheap multiplies on every target, while
    // wasm32 has no 64-bit multiply-high, so a 64-bit one is a real division.
    while n > u64::from(u32::MAX) {
        put_four_digits(&mut buf, &mut pos, (n % 10_000) as usize);
        n /= 10_000;
    }
    let mut n = n as u32;
    while n >= 10_000 {
        put_four_digits(&mut buf, &mut pos, (n % 10_000) as usize);
        n /= 10_000;
    }
    let mut n = n as usize;
    if n >= 100 {
        let low = n % 100 * 2;
        n /= 100;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[low..low + 2]);
    }
    if n >= 10 {
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[n * 2..n * 2 + 2]);
    } else {
        pos -= 1;
        buf[pos] = b'0' + n as u8;
    }
    if value < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    out.extend_from_slice(&buf[pos..]);
}

/// 2^53 as `f64`: integral values below it are written as integers.
const F64_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

/// 2^63 as `f64`: integral values from here up are written with an exponent.
const I64_RANGE_LIMIT: f64 = 9_223_372_036_854_775_808.0;

/// Appends the shortest text that reads back to the finite `value`, in the
/// layout of JavaScript's `Number.prototype.toString` (plain digits for
/// decimal exponents -7..21, `d.ddde+N` / `d.ddde-N` otherwise), except that
/// integral values of 2^63 and more always take the exponent form.
#[allow(clippy::cast_possible_truncation)]
fn push_f64(out: &mut Vec<u8>, value: f64, scratch: &mut String) {
    if value == value.trunc() && value.abs() < F64_INTEGER_LIMIT {
        if value == 0.0 && value.is_sign_negative() {
            out.extend_from_slice(b"-0");
        } else {
            push_i64(out, value as i64);
        }
        return;
    }
    // `{:e}` gives the shortest round-trip digits: `-1.2345e-7`.
    scratch.clear();
    let _ = write!(scratch, "{value:e}");
    let (mantissa, exponent) = scratch.split_once('e').unwrap_or((scratch.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let count = digits.len() as i32;
    // The value is 0.DIGITS * 10^point.
    let point = exponent + 1;
    if negative {
        out.push(b'-');
    }
    // Integral values from 2^63 up take the exponent form, so that no reader
    // meets an integer literal outside the `i64` range.
    if count <= point && point <= 21 && value.abs() < I64_RANGE_LIMIT {
        out.extend_from_slice(&digits);
        out.resize(out.len() + (point - count) as usize, b'0');
    } else if 0 < point && point < count && point <= 21 {
        out.extend_from_slice(&digits[..point as usize]);
        out.push(b'.');
        out.extend_from_slice(&digits[point as usize..]);
    } else if -6 < point && point <= 0 {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + (-point) as usize, b'0');
        out.extend_from_slice(&digits);
    } else {
        out.push(digits[0]);
        if count > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if point > 0 { b'+' } else { b'-' });
        push_i64(out, i64::from((point - 1).abs()));
    }
}
