//! The random numbers of the check: the splitmix64 generator, drawn from
//! the check's secret seed, with the uniform draws the integer and float
//! rounds need.

/// The splitmix64 generator (Steele, Lea and Flood, 2014): tiny, fast, and
/// every seed gives a full-period, well-mixed stream.
#[derive(Debug, Clone)]
pub(super) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// The stream of `seed`.
    pub(super) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 uniform bits.
    pub(super) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..q` for `q <= 2^61` (61-bit draws, rejecting those
    /// `>= q`, so there is no bias).
    pub(super) fn below(&mut self, q: u64) -> u64 {
        loop {
            let x = self.next_u64() >> 3;
            if x < q {
                return x;
            }
        }
    }

    /// Uniform on the grid `1 + j 2^-52` in `[1, 2)`.
    #[allow(clippy::cast_precision_loss)]
    pub(super) fn in_one_two(&mut self) -> f64 {
        1.0 + (self.next_u64() >> 12) as f64 * f64::EPSILON
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::PRIMES;

    #[test]
    fn uniform_draws_stay_in_range() {
        let mut rng = SplitMix64::new(3);
        for _ in 0..10_000 {
            assert!(rng.below(PRIMES[3]) < PRIMES[3]);
            let x = rng.in_one_two();
            assert!((1.0..2.0).contains(&x));
        }
    }
}
