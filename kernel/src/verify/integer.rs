//! The integer check: exact, in modular arithmetic.
//!
//! Integer products are checked modulo `2^64` (wrapping `i64` arithmetic)
//! when the operands are small enough, and otherwise modulo primes
//! `q = 2^61 - c` ([`PRIMES`]), one round per prime. Every product and sum
//! is exact modular arithmetic (`u128` sums reduced modulo `q`), so there is
//! no overflow and no rounding, and an honest product (`D = C - A·B = 0`)
//! passes: an honest result is never rejected.
//!
//! Why a wrong `C` passes with probability at most `2^-21` (so below the
//! `2^-20` asked for):
//! 1. First every element is checked against the bound
//!    `|C[i][l]| <= alpha_i * beta`, where `alpha_i = sum_p |A[i][p]|` and
//!    `beta = max |B|`; the true product satisfies it, so an honest result
//!    passes, and a result that fails it is wrong. After this check every
//!    element of `D` has `|D[i][l]| <= 2 alpha_i beta < 2^bits`, with
//!    `bits = bitlen(max_i alpha_i) + bitlen(beta) + 1`.
//! 2. Modulo `2^64`, used when `bits <= 44` ([`WRAPPING_MAX_BITS`]; Dana's
//!    test matrices of values up to 1000 need about 33): `r` is uniform in
//!    `(Z/2^64)^n`. A nonzero `D[i][l] = 2^v * odd` has `v <= bits - 1 <= 43`
//!    because `|D[i][l]| < 2^bits`. Fix every `r[j]` with `j != l`: then
//!    `(D·r)[i] = D[i][l] r[l] + s (mod 2^64)`, and `D[i][l] r[l]` is uniform
//!    over the `2^(64-v)` multiples of `2^v`, so it equals `-s` with
//!    probability at most `2^-(64-v) <= 2^-21`.
//! 3. Modulo primes otherwise: `r` is uniform in `(Z/q)^n` for each of
//!    `L = ceil(bits / 60)` primes (each above `2^60`, so their product
//!    exceeds `2^bits`; at most four for any `i64` input). If `D != 0`, some
//!    prime `q` does not divide some element `D[i][l]`: otherwise the product
//!    of the primes would divide a nonzero integer smaller than itself. Fix
//!    every `r[j]` with `j != l`: then `(D·r)[i] = D[i][l] r[l] + s` is zero
//!    in the field `Z/q` for exactly one value of `r[l]`, taken with
//!    probability `1/q < 2^-60`.
//!
//! A row block of a product is checked the same way on its rows.
//!
//! The probability is over the seed: it must be unknown to whoever computed
//! `C` (use [`super::fresh_seed`]); a worker that knows `r` can forge a result.

use std::ops::Range;

use super::VerifyError;
use super::row_ops::{abs_sum, dot_wrapping, max_magnitude};
use super::seed::SplitMix64;
use crate::Matrix;
use crate::text::{IntRows, RowSpans};

/// The primes `2^61 - c` the integer check works modulo, in the order they
/// are used. Each is above `2^60`; four cover any `i64` product (see the
/// module docs).
pub const PRIMES: [u64; 4] = [
    (1 << 61) - 1,
    (1 << 61) - 31,
    (1 << 61) - 45,
    (1 << 61) - 229,
];

/// The integer check runs one round modulo `2^64` (wrapping `i64`
/// arithmetic, the fastest) when `2 max_i alpha_i beta < 2^WRAPPING_MAX_BITS`,
/// and the prime rounds otherwise (see the module docs).
pub const WRAPPING_MAX_BITS: u32 = 44;

/// `2^61 - 1`, the mask of the low 61 bits.
const LOW61: u64 = (1 << 61) - 1;

/// Products summed in one `u128` before reducing: each is below `2^122`, so
/// 32 of them plus a reduced value stay below `2^128`.
const DOT_CHUNK: usize = 32;

/// Arithmetic modulo a prime `q = 2^61 - c`, using `2^61 = c (mod q)`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Modulus {
    pub(super) q: u64,
    pub(super) c: u64,
}

impl Modulus {
    pub(super) fn new(q: u64) -> Self {
        Self {
            q,
            c: (1 << 61) - q,
        }
    }

    /// `x mod q` for any `u128`.
    #[allow(clippy::cast_possible_truncation)]
    fn reduce(self, x: u128) -> u64 {
        let c = u128::from(self.c);
        // x < 2^128: the first fold leaves less than 2^61 + 2^67 c < 2^76,
        // the second less than 2^61 + 2^15 c < 2q, so one subtraction ends.
        let x = (x & u128::from(LOW61)) + (x >> 61) * c;
        let x = ((x & u128::from(LOW61)) + (x >> 61) * c) as u64;
        if x >= self.q { x - self.q } else { x }
    }

    /// `v mod q` in `0..q` for a signed value.
    fn residue(self, v: i64) -> u64 {
        let m = v.unsigned_abs();
        // m < 2^64: one fold leaves less than 2^61 + 8c < 2q.
        let m = (m & LOW61) + (m >> 61) * self.c;
        let m = if m >= self.q { m - self.q } else { m };
        if v < 0 && m != 0 { self.q - m } else { m }
    }

    /// `sum xs[j] * ys[j] mod q` for `ys` already reduced.
    fn dot_i64(self, xs: &[i64], ys: &[u64]) -> u64 {
        let mut acc = 0u64;
        for (xc, yc) in xs.chunks(DOT_CHUNK).zip(ys.chunks(DOT_CHUNK)) {
            let mut sum = u128::from(acc);
            for (&x, &y) in xc.iter().zip(yc) {
                sum += u128::from(self.residue(x)) * u128::from(y);
            }
            acc = self.reduce(sum);
        }
        acc
    }
}

/// One integer round modulo one prime: a random `r` and `A_i·(B·r)` for
/// every row `i`.
#[derive(Debug, Clone)]
pub(super) struct PrimeRound {
    pub(super) modulus: Modulus,
    pub(super) r: Vec<u64>,
    pub(super) abr: Vec<u64>,
}

/// The rounds of an integer check (see the module docs for the choice).
#[derive(Debug, Clone)]
pub(super) enum IntRounds {
    /// One round modulo `2^64` (wrapping `i64` arithmetic): `r` and
    /// `A_i·(B·r)` for every row `i`.
    Wrapping { r: Vec<i64>, abr: Vec<i64> },
    /// One round per prime.
    Primes(Vec<PrimeRound>),
}

/// A prepared integer check: each row's bound and the rounds' `A_i·(B·r)`.
#[derive(Debug, Clone)]
pub(super) struct IntCheck {
    /// `sum_p |A[i][p]|` for every row.
    pub(super) row_abs: Vec<u128>,
    /// Columns of `B` (and of the product).
    pub(super) cols: usize,
    /// `max |B|`.
    pub(super) b_max: u64,
    pub(super) rounds: IntRounds,
}

impl IntCheck {
    /// Rows of `A` (and of the product).
    pub(super) fn rows(&self) -> usize {
        self.row_abs.len()
    }

    /// Columns of `B` (and of the product).
    pub(super) fn cols(&self) -> usize {
        self.cols
    }

    /// Whether some element of the product can leave `i64`: the bound
    /// `sum_p |A_ip| * max|B|` of some row does not fit.
    pub(super) fn product_may_overflow(&self) -> bool {
        let b_max = u128::from(self.b_max);
        self.row_abs
            .iter()
            .any(|&row_abs| row_abs.saturating_mul(b_max) > i64::MAX as u128)
    }

    /// Prepares the check of `a·b` with the random vectors drawn from `rng`.
    pub(super) fn new(a: &Matrix<i64>, b: &Matrix<i64>, rng: &mut SplitMix64) -> Self {
        let row_abs: Vec<u128> = (0..a.rows()).map(|i| abs_sum(a.row(i))).collect();
        let b_max = b.data().iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
        let cols = b.cols();
        let rounds = if wrapping_suffices(&row_abs, b_max) {
            let r = wrapping_vector(cols, rng);
            let br: Vec<i64> = (0..b.rows()).map(|p| dot_wrapping(b.row(p), &r)).collect();
            let abr = (0..a.rows()).map(|i| dot_wrapping(a.row(i), &br)).collect();
            IntRounds::Wrapping { r, abr }
        } else {
            let a_max = row_abs.iter().copied().max().unwrap_or(0);
            let primes = check_bits(a_max, b_max)
                .div_ceil(60)
                .clamp(1, PRIMES.len() as u32) as usize;
            IntRounds::Primes(
                PRIMES[..primes]
                    .iter()
                    .map(|&q| {
                        let modulus = Modulus::new(q);
                        let r: Vec<u64> = (0..cols).map(|_| rng.below(q)).collect();
                        let br: Vec<u64> = (0..b.rows())
                            .map(|p| modulus.dot_i64(b.row(p), &r))
                            .collect();
                        let abr = (0..a.rows())
                            .map(|i| modulus.dot_i64(a.row(i), &br))
                            .collect();
                        PrimeRound { modulus, r, abr }
                    })
                    .collect(),
            )
        };
        Self {
            row_abs,
            cols,
            b_max,
            rounds,
        }
    }

    /// The check [`IntCheck::new`] prepares, read from the matrix texts row
    /// by row without holding either matrix, when they are integer matrices
    /// that multiply and small enough for the wrapping round; `None`
    /// otherwise (the caller then reads them whole). With `a_spans`, also
    /// records where `A`'s rows are (left partly filled on `None`).
    pub(super) fn wrapping_from_text(
        a: &str,
        b: &str,
        rng: &mut SplitMix64,
        mut a_spans: Option<&mut RowSpans>,
    ) -> Option<Self> {
        let mut b_rows = IntRows::new(b).ok()?;
        let first = b_rows.next_row().ok()??;
        let cols = first.len();
        let r = wrapping_vector(cols, rng);
        let mut b_max = max_magnitude(first);
        let mut br = vec![dot_wrapping(first, &r)];
        while let Some(row) = b_rows.next_row().ok()? {
            b_max = b_max.max(max_magnitude(row));
            br.push(dot_wrapping(row, &r));
        }
        let mut a_rows = IntRows::new(a).ok()?;
        let (mut row_abs, mut abr) = (Vec::new(), Vec::new());
        while let Some(row) = a_rows.next_row().ok()? {
            if row.len() != br.len() {
                return None;
            }
            row_abs.push(abs_sum(row));
            abr.push(dot_wrapping(row, &br));
            if let Some(spans) = a_spans.as_deref_mut() {
                spans.rows.push(a_rows.row_span());
            }
        }
        if let Some(spans) = a_spans {
            spans.cols = br.len();
        }
        let suffices = wrapping_suffices(&row_abs, b_max);
        suffices.then_some(Self {
            row_abs,
            cols,
            b_max,
            rounds: IntRounds::Wrapping { r, abr },
        })
    }

    /// Rounds run per check: 1 modulo `2^64`, or one per prime.
    pub(super) fn round_count(&self) -> usize {
        match &self.rounds {
            IntRounds::Wrapping { .. } => 1,
            IntRounds::Primes(rounds) => rounds.len(),
        }
    }

    /// Checks the claimed row block `c` of the product, rows `rows` of `A`.
    pub(super) fn check_rows(
        &self,
        rows: Range<usize>,
        c: &Matrix<i64>,
    ) -> Result<(), VerifyError> {
        for (row, i) in rows.enumerate() {
            self.check_row(row, i, c.row(row))?;
        }
        Ok(())
    }

    /// Whether `c` is the text of an integer matrix of the shape of
    /// `A[rows]·B` whose every row passes, read row by row (`rows` inside
    /// `A`).
    pub(super) fn rows_text_pass(&self, rows: Range<usize>, c: &str) -> bool {
        let Ok(mut c_rows) = IntRows::new(c) else {
            return false;
        };
        let mut expected = rows.clone();
        loop {
            match (c_rows.next_row(), expected.next()) {
                (Ok(None), None) => return true,
                (Ok(Some(c_row)), Some(i)) => {
                    if c_row.len() != self.cols || self.check_row(i - rows.start, i, c_row).is_err()
                    {
                        return false;
                    }
                }
                _ => return false,
            }
        }
    }

    /// Checks row `i` of the product, given as row `row` of the claim.
    fn check_row(&self, row: usize, i: usize, c_row: &[i64]) -> Result<(), VerifyError> {
        let limit = self.row_abs[i].saturating_mul(u128::from(self.b_max));
        if u128::from(max_magnitude(c_row)) > limit {
            let col = c_row
                .iter()
                .position(|v| u128::from(v.unsigned_abs()) > limit)
                .unwrap_or(0);
            return Err(VerifyError::OutOfBound { row, col });
        }
        let agrees = match &self.rounds {
            IntRounds::Wrapping { r, abr } => abr[i] == dot_wrapping(c_row, r),
            IntRounds::Primes(rounds) => rounds
                .iter()
                .all(|round| round.abr[i] == round.modulus.dot_i64(c_row, &round.r)),
        };
        if agrees {
            Ok(())
        } else {
            Err(VerifyError::Mismatch { row })
        }
    }
}

/// `bits` with `2 a_max b_max < 2^bits` (see the module docs).
fn check_bits(a_max: u128, b_max: u64) -> u32 {
    (128 - a_max.leading_zeros()) + (64 - b_max.leading_zeros()) + 1
}

/// Whether one round modulo `2^64` is enough for these bounds.
fn wrapping_suffices(row_abs: &[u128], b_max: u64) -> bool {
    let a_max = row_abs.iter().copied().max().unwrap_or(0);
    check_bits(a_max, b_max) <= WRAPPING_MAX_BITS
}

/// The random vector of the wrapping round.
#[allow(clippy::cast_possible_wrap)]
fn wrapping_vector(len: usize, rng: &mut SplitMix64) -> Vec<i64> {
    (0..len).map(|_| rng.next_u64() as i64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modular_reduction_matches_u128_remainder() {
        let mut rng = SplitMix64::new(7);
        for &q in &PRIMES {
            let m = Modulus::new(q);
            for x in [
                0u128,
                1,
                u128::from(q),
                u128::from(q) - 1,
                u128::MAX,
                u128::MAX - 1,
            ] {
                assert_eq!(u128::from(m.reduce(x)), x % u128::from(q));
            }
            for _ in 0..10_000 {
                let x = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
                assert_eq!(u128::from(m.reduce(x)), x % u128::from(q));
            }
        }
    }

    #[test]
    fn signed_values_reduce_to_their_residue() {
        for &q in &PRIMES {
            let m = Modulus::new(q);
            for v in [
                0,
                1,
                -1,
                i64::MAX,
                i64::MIN,
                q as i64,
                -(q as i64),
                12345,
                -98765,
            ] {
                let expected = i128::from(v).rem_euclid(i128::from(q));
                assert_eq!(i128::from(m.residue(v)), expected, "{v} mod {q}");
            }
        }
    }

    #[test]
    fn modular_dot_matches_i128_arithmetic() {
        let m = Modulus::new(PRIMES[1]);
        let mut rng = SplitMix64::new(11);
        let xs: Vec<i64> = (0..100).map(|_| rng.next_u64() as i64).collect();
        let ys: Vec<u64> = (0..100).map(|_| rng.below(m.q)).collect();
        let q = i128::from(m.q);
        let expected = xs.iter().zip(&ys).fold(0i128, |acc, (&x, &y)| {
            (acc + i128::from(x).rem_euclid(q) * i128::from(y) % q) % q
        });
        assert_eq!(i128::from(m.dot_i64(&xs, &ys)), expected);
    }

    #[test]
    fn operand_size_picks_the_rounds() {
        let matrix = |data: Vec<i64>| Matrix::new(2, 2, data).unwrap_or_else(|e| panic!("{e}"));
        let mut rng = SplitMix64::new(1);
        let small = matrix(vec![1, 2, 3, 4]);
        let check = IntCheck::new(&small, &small, &mut rng);
        assert!(matches!(check.rounds, IntRounds::Wrapping { .. }));
        // 2 * 2^22 * 2^21 needs 46 bits: past the wrapping limit, one prime.
        let medium = matrix(vec![1 << 21, 1 << 21, 3, 4]);
        let check = IntCheck::new(&medium, &medium, &mut rng);
        assert!(matches!(&check.rounds, IntRounds::Primes(r) if r.len() == 1));
        // 2 * (2^64 - 1) * 2^63 needs 129 bits: three primes.
        let big = matrix(vec![i64::MAX, i64::MIN, 5, 6]);
        assert_eq!(IntCheck::new(&big, &big, &mut rng).round_count(), 3);
    }
}
