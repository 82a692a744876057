//! A fast reader for the common case of the matrix text: integers only.
//!
//! Checking a result reads three matrices of text for every product, so the
//! reading must cost little next to the product. This reader handles integer
//! matrices in the Dana text form (spaces allowed where [`crate::text`]
//! allows them) in one tight pass and gives up, returning `None`, on
//! anything else: a float, an integer of 19 digits or more, a syntax error,
//! ragged or empty rows. Callers then use [`crate::text::parse`], which stays
//! the reference reader and reports errors; whatever this reader accepts, it
//! reads to the same matrix.

use crate::Matrix;

/// Integers of up to this many digits are read here (they fit in `i64`).
const MAX_DIGITS: usize = 18;

/// Reads an integer matrix, or `None` when the text is anything else (see
/// the module docs).
pub(super) fn read_i64(text: &str) -> Option<Matrix<i64>> {
    let bytes = text.as_bytes();
    // A compact integer matrix has at least two bytes per value.
    let mut data: Vec<i64> = Vec::with_capacity(bytes.len() / 2);
    let mut pos = skip_ws(bytes, 0);
    if bytes.get(pos) != Some(&b'[') {
        return None;
    }
    pos = skip_ws(bytes, pos + 1);
    let mut rows = 0usize;
    let mut cols = 0usize;
    loop {
        if bytes.get(pos) != Some(&b'[') {
            return None;
        }
        pos = skip_ws(bytes, pos + 1);
        let row_start = data.len();
        loop {
            let negative = bytes.get(pos) == Some(&b'-');
            pos += usize::from(negative);
            let digits_start = pos;
            let mut value: i64 = 0;
            // Up to 8 digits at once when 8 bytes are left, then one by one.
            if let Some(chunk) = bytes.get(pos..pos + 8) {
                let chunk = u64::from_le_bytes(chunk.try_into().ok()?);
                let digits = leading_digits(chunk);
                value = eight_digits_value(chunk, digits);
                pos += digits;
            }
            if pos - digits_start == 8 || pos == digits_start {
                while let Some(&byte) = bytes.get(pos) {
                    let digit = byte.wrapping_sub(b'0');
                    if digit > 9 {
                        break;
                    }
                    value = value * 10 + i64::from(digit);
                    pos += 1;
                    if pos - digits_start > MAX_DIGITS {
                        return None;
                    }
                }
            }
            if pos == digits_start {
                return None;
            }
            data.push(if negative { -value } else { value });
            pos = skip_ws(bytes, pos);
            match bytes.get(pos) {
                Some(b',') => pos = skip_ws(bytes, pos + 1),
                Some(b']') => {
                    pos += 1;
                    break;
                }
                _ => return None,
            }
        }
        let count = data.len() - row_start;
        if rows == 0 {
            cols = count;
        } else if count != cols {
            return None;
        }
        rows += 1;
        pos = skip_ws(bytes, pos);
        match bytes.get(pos) {
            Some(b',') => pos = skip_ws(bytes, pos + 1),
            Some(b']') => break,
            _ => return None,
        }
    }
    if skip_ws(bytes, pos + 1) != bytes.len() {
        return None;
    }
    Matrix::new(rows, cols, data).ok()
}

/// How many of the 8 bytes of `chunk` (first byte lowest) are ASCII
/// digits before the first byte that is not.
fn leading_digits(chunk: u64) -> usize {
    // A byte is a digit when its high nibble is 3 and adding 6 keeps it 3.
    // Carries of the addition only reach bytes after a non-digit.
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    let high = chunk & HIGH;
    let shifted = (chunk.wrapping_add(0x0606_0606_0606_0606) & HIGH) >> 4;
    let not_digit = (high | shifted) ^ 0x3333_3333_3333_3333;
    (not_digit.trailing_zeros() / 8) as usize
}

/// The value of the first `digits` (0..=8) bytes of `chunk`, all digits.
fn eight_digits_value(chunk: u64, digits: usize) -> i64 {
    if digits == 0 {
        return 0;
    }
    // Borrows of the subtraction only reach bytes after the digits, which
    // the shift then drops; the digits move to the top, zeros below them.
    let v = chunk.wrapping_sub(0x3030_3030_3030_3030) << (8 * (8 - digits));
    // Pairs, then quadruples, then all eight (Lemire's SWAR conversion).
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let v = ((v & 0x0000_00FF_0000_00FF)
        .wrapping_mul(100 + (1_000_000 << 32))
        .wrapping_add(((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32))))
        >> 32;
    #[allow(clippy::cast_possible_wrap)]
    let value = v as i64;
    value
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while matches!(bytes.get(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        pos += 1;
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AnyMatrix;
    use crate::text;

    #[test]
    fn integer_texts_read_as_the_reference_reader_reads_them() {
        for text in [
            "[[1]]",
            "[[1,2],[3,4]]",
            "[[-1, 0 ,7],[ 8,-9,10 ]]",
            " [ [1] , [2] ] \n",
            "[[\t1\r\n,2]]",
            "[[007,-0]]",
            "[[999999999999999999,-999999999999999999]]",
        ] {
            let expected = match text::parse(text) {
                Ok(AnyMatrix::Int(m)) => m,
                other => panic!("{text}: reference gave {other:?}"),
            };
            assert_eq!(read_i64(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn eight_byte_digit_runs_are_measured_and_valued() {
        for text in [
            "12345678", "1234567,", "1,345678", ",1234567", "9]", "00000009", "98765432",
        ] {
            let mut bytes = [b' '; 8];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            let chunk = u64::from_le_bytes(bytes);
            let digits = text.bytes().take_while(u8::is_ascii_digit).count();
            assert_eq!(leading_digits(chunk), digits, "{text}");
            let expected: i64 = text[..digits].parse().unwrap_or(0);
            assert_eq!(eight_digits_value(chunk, digits), expected, "{text}");
        }
    }

    #[test]
    fn everything_else_is_left_to_the_reference_reader() {
        for text in [
            "",
            "[]",
            "[[]]",
            "[[1],[]]",
            "[[1,2],[3]]",
            "[[1.5]]",
            "[[1e3]]",
            "[[1,]]",
            "[[,1]]",
            "[[1]] x",
            "[[1]",
            "[[1],]",
            "[[--1]]",
            "[[-]]",
            "[[+1]]",
            "[[1 2]]",
            "[[[1]]]",
            "[[\"1\"]]",
            "[[1000000000000000000]]",
            "[[9223372036854775807]]",
            "[[1]]]",
        ] {
            assert_eq!(read_i64(text), None, "{text:?} was read");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        #[test]
        fn whatever_is_read_matches_the_reference(text in "[\\[\\], 0-9.e-]{0,24}") {
            if let Some(m) = read_i64(&text) {
                proptest::prop_assert_eq!(text::parse(&text), Ok(AnyMatrix::Int(m)));
            }
        }

        #[test]
        fn spaced_integer_matrices_are_read(
            rows in proptest::collection::vec(proptest::collection::vec(proptest::num::i64::ANY, 3), 1..5),
            space in "[ \t\n]{0,2}",
        ) {
            let mut text = format!("{space}[");
            for (i, row) in rows.iter().enumerate() {
                if i > 0 {
                    text.push_str(&format!("{space},{space}"));
                }
                let values: Vec<String> = row.iter().map(|v| format!("{space}{}{space}", v / 1000)).collect();
                text.push_str(&format!("[{}]", values.join(",")));
            }
            text.push_str(&format!("]{space}"));
            let expected = text::parse(&text);
            proptest::prop_assert_eq!(read_i64(&text).map(AnyMatrix::Int).ok_or(()), expected.map_err(|_| ()));
        }
    }
}
