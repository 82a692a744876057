//! The reader's fast path for the common case: compact integer rows
//! (`12,-7,3]`, no spaces, at most 15 digits a value).
//!
//! The bytes of a [`WINDOW`] are classified at once with vector compares
//! (SSE2 on x86-64, `simd128` on wasm32, word operations elsewhere) into bit
//! masks ([`Classes`]): where values end (`,` `]`), where signs are, and
//! whether anything else is there. So finding where the next value starts
//! never waits for the current one to be converted, and a window holding
//! only well-formed values is checked once instead of value by value: its
//! values are converted with no further tests, eight digits at a time with
//! word arithmetic. Anything else (spaces, floats, longer numbers, the last
//! bytes of a text) is left to the general reader.

use super::{POW10, convert_eight};

/// Bytes classified at once.
const WINDOW: usize = 64;

/// Bytes read from a value's first digit: up to 15 digits and one more.
const VALUE_BYTES: usize = 16;

/// The bytes of a window by class, bit `i` for byte `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Classes {
    /// `,` or `]`: the ends of values.
    ends: u64,
    /// `]`: the end of the row.
    closes: u64,
    /// `-`.
    minus: u64,
    /// Anything but a digit, `,`, `]` or `-`.
    other: u64,
}

impl Classes {
    /// No bytes classified yet.
    const NONE: Self = Self {
        ends: 0,
        closes: 0,
        minus: 0,
        other: 0,
    };

    /// Adds the masks of the `width` bytes from byte `at`: where values
    /// end, where the row ends, signs, and the bytes of any known class.
    fn add(&mut self, at: usize, width: usize, [ends, closes, minus, known]: [u64; 4]) {
        let all = u64::MAX >> (64 - width);
        self.ends |= ends << at;
        self.closes |= closes << at;
        self.minus |= minus << at;
        self.other |= (!known & all) << at;
    }
}

/// Classifies the bytes of `window`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[allow(unsafe_code)]
fn classify(window: &[u8; WINDOW]) -> Classes {
    // SAFETY: SSE2 is part of the x86-64 baseline: every x86-64 CPU has it.
    unsafe { classify_sse2(window) }
}

/// [`classify`] with SSE2 compares.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
#[inline]
fn classify_sse2(window: &[u8; WINDOW]) -> Classes {
    use core::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_movemask_epi8,
        _mm_or_si128, _mm_set_epi64x, _mm_set1_epi8,
    };
    #[allow(clippy::cast_possible_wrap)]
    let splat = |byte: u8| _mm_set1_epi8(byte as i8);
    #[allow(clippy::cast_sign_loss)]
    let bits = |hits: __m128i| u64::from(_mm_movemask_epi8(hits) as u16);
    let mut classes = Classes::NONE;
    for (i, chunk) in window.chunks_exact(16).enumerate() {
        #[allow(clippy::cast_possible_wrap)]
        let bytes = _mm_set_epi64x(word(&chunk[8..]) as i64, word(chunk) as i64);
        let closes = _mm_cmpeq_epi8(bytes, splat(b']'));
        let ends = _mm_or_si128(_mm_cmpeq_epi8(bytes, splat(b',')), closes);
        let minus = _mm_cmpeq_epi8(bytes, splat(b'-'));
        // Signed compares: bytes from 0x80 up are negative, never digits.
        let digits = _mm_and_si128(
            _mm_cmpgt_epi8(bytes, splat(b'0' - 1)),
            _mm_cmplt_epi8(bytes, splat(b'9' + 1)),
        );
        let known = _mm_or_si128(_mm_or_si128(ends, minus), digits);
        classes.add(16 * i, 16, [ends, closes, minus, known].map(bits));
    }
    classes
}

/// Classifies the bytes of `window`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn classify(window: &[u8; WINDOW]) -> Classes {
    use core::arch::wasm32::{
        i8x16_gt, i8x16_lt, i8x16_splat, u8x16_bitmask, u8x16_eq, u8x16_splat, u64x2, v128,
        v128_and, v128_or,
    };
    let bits = |hits: v128| u64::from(u8x16_bitmask(hits));
    let mut classes = Classes::NONE;
    for (i, chunk) in window.chunks_exact(16).enumerate() {
        let bytes = u64x2(word(chunk), word(&chunk[8..]));
        let closes = u8x16_eq(bytes, u8x16_splat(b']'));
        let ends = v128_or(u8x16_eq(bytes, u8x16_splat(b',')), closes);
        let minus = u8x16_eq(bytes, u8x16_splat(b'-'));
        // Signed compares: bytes from 0x80 up are negative, never digits.
        #[allow(clippy::cast_possible_wrap)]
        let digits = v128_and(
            i8x16_gt(bytes, i8x16_splat((b'0' - 1) as i8)),
            i8x16_lt(bytes, i8x16_splat((b'9' + 1) as i8)),
        );
        let known = v128_or(v128_or(ends, minus), digits);
        classes.add(16 * i, 16, [ends, closes, minus, known].map(bits));
    }
    classes
}

/// Classifies the bytes of `window`.
#[cfg(not(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
)))]
#[inline]
fn classify(window: &[u8; WINDOW]) -> Classes {
    classify_swar(window)
}

/// [`classify`] without vector instructions, eight bytes at a time with
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
fn classify_swar(window: &[u8; WINDOW]) -> Classes {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // High bit of each byte that is zero (exactly: no carries between bytes).
    let zero_bytes = |x: u64| !(((x & LOW7) + LOW7) | x) & HIGH;
    let equal = |w: u64, byte: u8| zero_bytes(w ^ (ONES * u64::from(byte)));
    // Gathers the eight high bits into the low byte, byte 0 lowest.
    let gather = |hits: u64| hits.wrapping_mul(0x0002_0408_1020_4081) >> 56;
    let mut classes = Classes::NONE;
    for (i, chunk) in window.chunks_exact(8).enumerate() {
        let w = word(chunk);
        let closes = equal(w, b']');
        let ends = equal(w, b',') | closes;
        let minus = equal(w, b'-');
        // ASCII bytes from b'0' and not from b'9' + 1; the sums stay within
        // each byte.
        let low = w & LOW7;
        let from_zero = low + ONES * u64::from(0x80 - b'0');
        let past_nine = low + ONES * u64::from(0x80 - b'9' - 1);
        let digits = from_zero & !past_nine & !w & HIGH;
        classes.add(
            8 * i,
            8,
            [ends, closes, minus, ends | minus | digits].map(gather),
        );
    }
    classes
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
        let classes = classify(head);
        let mut ends = classes.ends;
        // Values up to the row's end only.
        let closes = classes.closes;
        let first_close = closes & closes.wrapping_neg();
        if first_close != 0 {
            ends &= first_close | (first_close - 1);
        }
        if ends == 0 {
            return (count, false);
        }
        // The window up to its last value's end is clean when it holds
        // only digits, value ends, and signs that open values, and no value
        // is empty: then its digits need no checking value by value.
        let last_end = 63 - ends.leading_zeros();
        let region = u64::MAX >> (63 - last_end);
        let starts = (ends << 1) | 1;
        let faults =
            classes.other | (classes.minus & !starts) | (ends & (starts | (classes.minus << 1)));
        let clean = faults & region == 0;
        // Values are written into spare room by index (no length update per
        // value), and the length set once to what was read.
        let base = ints.len();
        ints.reserve(WINDOW);
        let out = &mut ints.spare_capacity_mut()[..WINDOW];
        let mut read = 0;
        let mut value_start = 0;
        let mut stopped = false;
        while ends != 0 {
            let end = ends.trailing_zeros() as usize;
            ends &= ends - 1;
            // The mask gives each value's sign and length.
            let negative = (classes.minus >> value_start) & 1;
            #[allow(clippy::cast_possible_truncation)]
            let digits = value_start + negative as usize;
            let len = end.wrapping_sub(digits);
            let magnitude = match len {
                1..=8 if clean => Some(convert_eight(word(&window[digits..]) << (8 * (8 - len)))),
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
            let sign = -(negative as i64);
            #[allow(clippy::cast_possible_wrap)]
            let value = ((magnitude as i64) ^ sign) - sign;
            out[read].write(value);
            read += 1;
            value_start = end + 1;
        }
        #[allow(unsafe_code)]
        // SAFETY: the `read` slots after the length were written above.
        unsafe {
            ints.set_len(base + read);
        }
        count += read;
        *pos = start + value_start;
        let row_done = first_close != 0 && !stopped;
        if row_done || stopped {
            return (count, row_done);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The classes of `window`, byte by byte.
    fn classes_of(window: &[u8; WINDOW]) -> Classes {
        let mask = |class: fn(u8) -> bool| {
            window
                .iter()
                .enumerate()
                .filter(|&(_, &b)| class(b))
                .fold(0u64, |bits, (i, _)| bits | 1 << i)
        };
        Classes {
            ends: mask(|b| b == b',' || b == b']'),
            closes: mask(|b| b == b']'),
            minus: mask(|b| b == b'-'),
            other: mask(|b| !(b.is_ascii_digit() || b"-,]".contains(&b))),
        }
    }

    #[test]
    fn classes_mark_exactly_their_bytes() {
        // Every byte value at every position, next to the bytes around it.
        for byte in 0..=255u8 {
            for at in 0..WINDOW {
                let mut window = [b'7'; WINDOW];
                window[at] = byte;
                window[(at + 17) % WINDOW] = b',';
                window[(at + 30) % WINDOW] = b'-';
                let expected = classes_of(&window);
                assert_eq!(classify(&window), expected, "byte {byte} at {at}");
                assert_eq!(classify_swar(&window), expected, "byte {byte} at {at}");
            }
        }
    }

    #[test]
    fn digits_of_every_length_convert_and_any_other_byte_is_refused() {
        let digits = *b"9081726354453627";
        for len in 1..VALUE_BYTES {
            let expected = digits[..len]
                .iter()
                .fold(0u64, |value, &d| value * 10 + u64::from(d - b'0'));
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
