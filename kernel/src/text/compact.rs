//! The reader's fast path for the common case: compact integer rows
//! (`12,-7,3]`, no spaces, at most 15 digits a value).
//!
//! The ends of values (`,` and `]`) in a [`WINDOW`] of bytes are found at
//! once with vector compares (SSE2 on x86-64, `simd128` on wasm32, word
//! operations elsewhere) into a bit mask, so finding where the next value
//! starts never waits for the current one to be converted: the values of a
//! window are read independently, eight digits at a time with word
//! arithmetic. Anything else (spaces, floats, longer numbers, the last bytes
//! of a text) is left to the general reader.

use super::{POW10, convert_eight};

/// Bytes classified at once.
const WINDOW: usize = 64;

/// Bytes read from a value's first digit: up to 15 digits and one more.
const VALUE_BYTES: usize = 16;

/// Bit `i` set where `window[i]` is `,` or `]`: the ends of values.
#[cfg(target_arch = "x86_64")]
#[inline]
#[allow(unsafe_code)]
fn value_ends(window: &[u8; WINDOW]) -> u64 {
    // SAFETY: SSE2 is part of the x86-64 baseline: every x86-64 CPU has it.
    unsafe { value_ends_sse2(window) }
}

/// [`value_ends`] with SSE2 compares.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn value_ends_sse2(window: &[u8; WINDOW]) -> u64 {
    use core::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x, _mm_set1_epi8,
    };
    let comma = _mm_set1_epi8(b',' as i8);
    let close = _mm_set1_epi8(b']' as i8);
    let mut ends = 0u64;
    for (i, chunk) in window.chunks_exact(16).enumerate() {
        #[allow(clippy::cast_possible_wrap)]
        let bytes = _mm_set_epi64x(word(&chunk[8..]) as i64, word(chunk) as i64);
        let hits = _mm_or_si128(_mm_cmpeq_epi8(bytes, comma), _mm_cmpeq_epi8(bytes, close));
        #[allow(clippy::cast_sign_loss)]
        let bits = _mm_movemask_epi8(hits) as u32;
        ends |= u64::from(bits) << (16 * i);
    }
    ends
}

/// Bit `i` set where `window[i]` is `,` or `]`: the ends of values.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn value_ends(window: &[u8; WINDOW]) -> u64 {
    use core::arch::wasm32::{u8x16_bitmask, u8x16_eq, u8x16_splat, u64x2, v128_or};
    let comma = u8x16_splat(b',');
    let close = u8x16_splat(b']');
    let mut ends = 0u64;
    for (i, chunk) in window.chunks_exact(16).enumerate() {
        let bytes = u64x2(word(chunk), word(&chunk[8..]));
        let hits = v128_or(u8x16_eq(bytes, comma), u8x16_eq(bytes, close));
        ends |= u64::from(u8x16_bitmask(hits)) << (16 * i);
    }
    ends
}

/// Bit `i` set where `window[i]` is `,` or `]`: the ends of values.
#[cfg(not(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
)))]
#[inline]
fn value_ends(window: &[u8; WINDOW]) -> u64 {
    value_ends_swar(window)
}

/// [`value_ends`] without vector instructions, eight bytes at a time with
/// word operations (the fallback, and the reference the vector versions
/// are tested against).
#[cfg_attr(
    any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    ),
    allow(dead_code)
)]
#[inline]
fn value_ends_swar(window: &[u8; WINDOW]) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // High bit of each byte that is zero (exactly: no carries between bytes).
    let zero_bytes = |x: u64| !(((x & LOW7) + LOW7) | x) & HIGH;
    let mut ends = 0u64;
    for (i, chunk) in window.chunks_exact(8).enumerate() {
        let w = word(chunk);
        let hits = zero_bytes(w ^ 0x2C2C_2C2C_2C2C_2C2C) | zero_bytes(w ^ 0x5D5D_5D5D_5D5D_5D5D);
        // Gathers the eight high bits into the top byte, byte 0 lowest.
        let bits = hits.wrapping_mul(0x0002_0408_1020_4081) >> 56;
        ends |= bits << (8 * i);
    }
    ends
}

/// The first eight bytes of `chunk` as a little-endian word.
#[inline]
fn word(chunk: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&chunk[..8]);
    u64::from_le_bytes(bytes)
}

/// The value of the `len` (1..=8) bytes at the start of `word` (first byte
/// lowest), or `None` unless they are all decimal digits.
#[inline]
fn short_digits(word: u64, len: usize) -> Option<u64> {
    // The digits become the high bytes; the bytes below them are filled
    // with b'0', read as leading zeros.
    let digits = word << (8 * (8 - len));
    let fill = 0x3030_3030_3030_3030u64 & ((u64::MAX >> 1) >> (8 * len - 1));
    let digits = digits | fill;
    // A byte's high bit is set in `below` if it is under b'0' (or not ASCII),
    // in `above` if it is over b'9'; the first such byte is always caught.
    let below = digits.wrapping_sub(0x3030_3030_3030_3030);
    let above = digits.wrapping_add(0x4646_4646_4646_4646);
    ((below | above) & 0x8080_8080_8080_8080 == 0).then(|| convert_eight(digits))
}

/// The value of the `len` (9..=15) bytes at the start of `chunk`, or `None`
/// unless they are all decimal digits.
#[inline]
fn long_digits(chunk: &[u8], len: usize) -> Option<u64> {
    let high = short_digits(word(chunk), 8)?;
    let low = short_digits(word(&chunk[8..]), len - 8)?;
    Some(high * POW10[len - 8] + low)
}

/// The fast path for the common case, compact integers (`12,-7,3]`): reads
/// values of up to 15 digits each directly followed by `,` or `]` into `ints`
/// and returns how many it read and whether it consumed the row's `]`. It
/// stops, with `pos` at the start of a value, at anything else (spaces, a
/// float, a longer number, the last bytes of the text), which the general
/// reader then handles.
///
/// The ends of values are found for a window of [`WINDOW`] bytes at once,
/// so finding where the next value starts never waits for the current one
/// to be converted: the values of a window are read independently.
#[inline]
pub(super) fn compact_integers(
    bytes: &[u8],
    pos: &mut usize,
    ints: &mut Vec<i64>,
) -> (usize, bool) {
    let mut count = 0;
    loop {
        let start = *pos;
        let Some(window) = bytes.get(start..start + WINDOW + VALUE_BYTES) else {
            return (count, false);
        };
        let Some(head) = window.first_chunk::<WINDOW>() else {
            return (count, false);
        };
        let mut ends = value_ends(head);
        if ends == 0 {
            return (count, false);
        }
        // At most one value ends at each byte of the window: room for them
        // is made first and written by index (no length update per value),
        // then cut to what was read.
        let base = ints.len();
        ints.resize(base + WINDOW, 0);
        let out = &mut ints[base..];
        let mut read = 0;
        let mut value_start = 0;
        let mut row_done = false;
        let mut stopped = false;
        while ends != 0 {
            let end = ends.trailing_zeros() as usize;
            ends &= ends - 1;
            // The mask gives each value's length: no digit search.
            let negative = window[value_start] == b'-';
            let digits = value_start + usize::from(negative);
            let len = end.wrapping_sub(digits);
            let magnitude = match len {
                1..=8 => short_digits(word(&window[digits..]), len),
                9..VALUE_BYTES => long_digits(&window[digits..], len),
                _ => None,
            };
            let Some(magnitude) = magnitude else {
                stopped = true;
                break;
            };
            // Fewer than 16 digits fit in i64 with either sign; negated
            // without a branch, as signs follow no pattern.
            #[allow(clippy::cast_possible_wrap)]
            let sign = -i64::from(negative);
            #[allow(clippy::cast_possible_wrap)]
            let value = ((magnitude as i64) ^ sign) - sign;
            out[read] = value;
            read += 1;
            value_start = end + 1;
            if window[end] == b']' {
                row_done = true;
                break;
            }
        }
        ints.truncate(base + read);
        count += read;
        *pos = start + value_start;
        if row_done || stopped {
            return (count, row_done);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_ends_mark_exactly_the_commas_and_closing_brackets() {
        // Every byte value at every position, next to the bytes around it.
        for byte in 0..=255u8 {
            for at in 0..WINDOW {
                let mut window = [b'7'; WINDOW];
                window[at] = byte;
                window[(at + 17) % WINDOW] = b',';
                let expected = window
                    .iter()
                    .enumerate()
                    .filter(|&(_, &b)| b == b',' || b == b']')
                    .fold(0u64, |bits, (i, _)| bits | 1 << i);
                assert_eq!(value_ends(&window), expected, "byte {byte} at {at}");
                assert_eq!(value_ends_swar(&window), expected, "byte {byte} at {at}");
            }
        }
    }

    #[test]
    fn digits_of_every_length_convert_and_any_other_byte_is_refused() {
        let digits = *b"9081726354453627";
        for len in 1..VALUE_BYTES {
            let expected: u64 = std::str::from_utf8(&digits[..len])
                .unwrap()
                .parse()
                .unwrap();
            let read = |chunk: &[u8]| match len {
                1..=8 => short_digits(word(chunk), len),
                _ => long_digits(chunk, len),
            };
            assert_eq!(read(&digits), Some(expected), "{len} digits");
            for at in 0..len {
                for byte in (0..=255u8).filter(|b| !b.is_ascii_digit()) {
                    let mut chunk = digits;
                    chunk[at] = byte;
                    assert_eq!(read(&chunk), None, "byte {byte} at {at} of {len}");
                }
            }
        }
    }
}
