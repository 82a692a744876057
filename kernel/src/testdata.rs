//! Deterministic pseudo-random data for the kernel's tests and benchmarks
//! and for the wasm checks: one generator, so that a failing case replays
//! from its seed and every benchmark measures the same matrices in every run.
//!
//! Not part of the kernel's API (hidden from its docs); nothing in the
//! product path uses it. Randomness that must be secret (the check's
//! vectors) comes from [`crate::verify::fresh_seed`], never from here.

/// Marsaglia's xorshift64 generator (shifts 13, 7, 17): tiny, fast, and
/// good enough for test data, never for anything secret.
#[derive(Debug, Clone)]
pub struct Xorshift {
    state: u64,
}

impl Xorshift {
    /// The stream of `seed`. Any seed works, zero included: the seed is
    /// spread over the word and made odd, so the state is never zero.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// The next value in `[-1, 1)`, on a grid of `2^-52`.
    #[allow(clippy::cast_precision_loss)]
    pub fn next_signed_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// `len` values in `[-1, 1)` drawn from `seed`.
#[must_use]
pub fn floats(len: usize, seed: u64) -> Vec<f64> {
    let mut rng = Xorshift::new(seed);
    (0..len).map(|_| rng.next_signed_unit()).collect()
}

/// `len` integers in `-1000..=999` drawn from `seed` (the values of
/// [`floats`] times 1000, truncated), as Dana's test matrices hold.
#[must_use]
#[allow(clippy::cast_possible_truncation)]
pub fn ints(len: usize, seed: u64) -> Vec<i64> {
    floats(len, seed)
        .into_iter()
        .map(|v| (v * 1000.0) as i64)
        .collect()
}

/// `len` integers of 1 to 7 digits and both signs drawn from `seed`, as
/// task matrices hold; their text is about 5.5 bytes a value.
#[must_use]
#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
pub fn digit_ints(len: usize, seed: u64) -> Vec<i64> {
    let mut rng = Xorshift::new(seed);
    (0..len)
        .map(|_| {
            let state = rng.next_u64();
            let digits = 1 + (state % 7) as u32;
            let sign = if state & 1 == 0 { 1 } else { -1 };
            (state >> 8) as i64 % 10i64.pow(digits) * sign
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_data_and_another_seed_other_data() {
        assert_eq!(floats(100, 7), floats(100, 7));
        assert_ne!(floats(100, 7), floats(100, 8));
        assert_eq!(digit_ints(100, 1), digit_ints(100, 1));
    }

    #[test]
    fn values_stay_in_their_ranges() {
        assert!(floats(10_000, 0).iter().all(|v| (-1.0..1.0).contains(v)));
        assert!(ints(10_000, 1).iter().all(|v| (-1000..=999).contains(v)));
        assert!(
            digit_ints(10_000, 2)
                .iter()
                .all(|v| v.unsigned_abs() < 10_000_000)
        );
        // Both signs and every length from 1 to 7 digits occur.
        let lengths: std::collections::BTreeSet<usize> = digit_ints(10_000, 2)
            .iter()
            .map(|v| v.unsigned_abs().to_string().len())
            .collect();
        assert_eq!(
            lengths.into_iter().collect::<Vec<_>>(),
            (1..=7).collect::<Vec<_>>()
        );
        assert!(ints(1000, 3).iter().any(|&v| v < 0) && ints(1000, 3).iter().any(|&v| v > 0));
    }
}
