//! Freivalds' check of a claimed product `C = A·B` in `O(mk + kn + mn)` time
//! per round instead of the `O(mkn)` of computing the product again.
//!
//! A [`ProductCheck`] is prepared once per pair `(A, B)` with a secret random
//! vector `r`: it computes `B·r` and then `A_i·(B·r)` for every row `i`, and
//! keeps only those numbers (and `r`), so it holds `O(m + n)` values, not
//! the matrices. Checking a claimed product, or a claimed row block
//! `A[i..j]·B` as a split task returns it, then costs one pass over those
//! rows of `C`: `C_i·r` must equal `A_i·(B·r)`. All the row blocks of one
//! pair are checked against the same prepared numbers.
//!
//! # Integers: exact, in modular arithmetic
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
//! `C` (use [`fresh_seed`]); a worker that knows `r` can forge a result.
//!
//! # Floats: a tolerance from the error bound of a dot product
//!
//! An honest blocked product in `f64`, in any summation order and with or
//! without FMA, satisfies `|C - A·B| <= gamma_k |A||B|` element-wise, with
//! `gamma_k = k u / (1 - k u)` and `u = 2^-53` (Higham, *Accuracy and
//! Stability of Numerical Algorithms*, §3.5), plus `k` times the smallest
//! subnormal per element when products underflow. With `r` drawn from
//! `[1, 2)`, the check computes `z = fl(C·r)`, `y = fl(A·fl(B·r))` and accepts
//! row `i` when `|z_i - y_i| <= tau_i`, where
//!
//! `tau_i = 2 * ((2 gamma_k + 2 gamma_n) (|A| (|B| r))_i + gamma_n (|C| r)_i) + floor_i`
//!
//! covers the product's own error (`gamma_k |A||B| r`), the errors of the
//! three matrix-vector products (`gamma_n |B| r` propagated through `|A|`,
//! `gamma_k |A||fl(B r)|`, `gamma_n |C| r`), a factor 2 for the rounding of
//! the bound itself, and `floor_i`, the subnormal terms. So an honest product
//! always passes, unless a row's bound is not a finite float (values within a
//! factor `k` of `f64::MAX`), which is reported as
//! [`VerifyError::Unverifiable`] rather than accepted unchecked.
//!
//! What a float check catches: a single wrong element `C[i][l]` off by more
//! than `tau_i` changes `(C·r)_i` by `|delta| r_l >= |delta|`, so it is
//! rejected every time. Several wrong elements in one row could cancel for
//! some `r`; for an error `F` with `|F[i][l]| >= 2^22 T_i` (where `T_i` is
//! `tau_i` with every `r` set to 2) one round passes with probability at
//! most `4 T_i / |F[i][l]| + 2^-52 < 2^-20 + 2^-52`, and [`FLOAT_ROUNDS`]
//! independent rounds multiply those probabilities. Errors below `tau_i` are
//! indistinguishable from rounding and are accepted by design.
//!
//! # What this module leaves to others
//!
//! Parsing text into matrices is [`crate::text`]'s job; choosing seeds,
//! counting rejections and deciding what to do with a rejected result is the
//! caller's.

use std::hash::{BuildHasher, Hasher};
use std::ops::Range;

use crate::text::{self, IntRows};
use row_ops::{abs_sum, dot_wrapping, max_magnitude};

mod row_ops;
use crate::{AnyMatrix, Matrix, MatrixError};

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

/// Independent rounds of the float check (see the module docs for what each
/// round guarantees).
pub const FLOAT_ROUNDS: usize = 2;

/// Why a claimed product was rejected, or could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// `A` and `B` cannot be multiplied at all.
    #[error(transparent)]
    Operands(#[from] MatrixError),
    /// The claimed product's text is not a matrix.
    #[error("the claimed product is not a matrix: {0}")]
    Unreadable(MatrixError),
    /// The claimed product does not have the shape of `A[rows]·B`.
    #[error("the claimed product is {found_rows}x{found_cols} but should be {rows}x{cols}")]
    WrongShape {
        /// Rows the product should have.
        rows: usize,
        /// Columns the product should have.
        cols: usize,
        /// Rows of the claimed product.
        found_rows: usize,
        /// Columns of the claimed product.
        found_cols: usize,
    },
    /// The requested row block is not inside `A`.
    #[error("rows {start}..{end} are not inside A, which has {rows} rows")]
    RowsOutOfRange {
        /// First row asked for.
        start: usize,
        /// One past the last row asked for.
        end: usize,
        /// Rows of `A`.
        rows: usize,
    },
    /// Two integer matrices have an integer product, but the claim holds
    /// floats.
    #[error("the product of two integer matrices must hold integers, the claimed one holds floats")]
    FloatForIntegers,
    /// An element larger than `sum_p |A[i][p]| * max |B|`, which no element
    /// of the true product can be.
    #[error("element ({row},{col}) is larger than any element of the true product can be")]
    OutOfBound {
        /// Row of the element in the claimed product.
        row: usize,
        /// Column of the element.
        col: usize,
    },
    /// Freivalds' check failed on a row: the claimed product is wrong there.
    #[error("row {row} of the claimed product is wrong (Freivalds' check failed)")]
    Mismatch {
        /// Row in the claimed product.
        row: usize,
    },
    /// The float error bound of a row is not finite, so the row cannot be
    /// checked.
    #[error("row {row} cannot be checked: its error bound is not a finite number")]
    Unverifiable {
        /// Row in the claimed product.
        row: usize,
    },
}

/// A seed no one can predict: from the process's random hasher keys and the
/// clock. Use one per [`ProductCheck`] that checks an untrusted result.
#[must_use]
pub fn fresh_seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.finish()
}

/// Checks that `c` is `a·b`; see the module docs for what "checks" means for
/// integers and for floats.
///
/// # Errors
/// [`VerifyError::Operands`] when `a` and `b` do not multiply; any other
/// [`VerifyError`] when `c` is rejected.
pub fn verify_product(
    a: &AnyMatrix,
    b: &AnyMatrix,
    c: &AnyMatrix,
    seed: u64,
) -> Result<(), VerifyError> {
    ProductCheck::new(a, b, seed)?.check(c)
}

/// Whether some element of the `f64` product `a·b` can overflow: the bound
/// `sum_p |a_ip| * max|b|` of some row `i` is not finite (integer operands
/// of a mixed pair count as floats, as they are multiplied).
#[allow(clippy::cast_precision_loss)]
fn float_product_may_overflow(a: &AnyMatrix, b: &AnyMatrix) -> bool {
    let b_max = match b {
        AnyMatrix::Int(b) => b
            .data()
            .iter()
            .map(|v| v.unsigned_abs() as f64)
            .fold(0.0, f64::max),
        AnyMatrix::Float(b) => b.data().iter().map(|v| v.abs()).fold(0.0, f64::max),
    };
    (0..a.rows()).any(|i| {
        let row_abs: f64 = match a {
            AnyMatrix::Int(a) => a.row(i).iter().map(|v| v.unsigned_abs() as f64).sum(),
            AnyMatrix::Float(a) => a.row(i).iter().map(|v| v.abs()).sum(),
        };
        !(row_abs * b_max).is_finite()
    })
}

/// A prepared Freivalds check for products of one pair `(A, B)`: holds the
/// secret random vectors `r` and, for every row `i` of `A`, `A_i·(B·r)` and
/// the row's bound, so it takes `O(m + n)` memory, not `A` or `B`.
#[derive(Debug, Clone)]
pub struct ProductCheck {
    kind: CheckKind,
    /// Rows of `A` (and of the product).
    rows: usize,
    /// Columns of `B` (and of the product).
    cols: usize,
    /// Whether computing the product can fail (see
    /// [`ProductCheck::product_may_fail`]).
    may_fail: bool,
}

#[derive(Debug, Clone)]
enum CheckKind {
    Int(IntCheck),
    Float(FloatCheck),
}

impl ProductCheck {
    /// Prepares the check of products `A·B` (or row blocks of it) with the
    /// random vectors drawn from `seed`. Integers if both are integer
    /// matrices, `f64` otherwise (as [`AnyMatrix::multiply`] decides).
    ///
    /// # Errors
    /// [`VerifyError::Operands`] when `a.cols() != b.rows()`.
    pub fn new(a: &AnyMatrix, b: &AnyMatrix, seed: u64) -> Result<Self, VerifyError> {
        MatrixError::check_shapes(a.rows(), a.cols(), b.rows(), b.cols())?;
        let mut rng = SplitMix64::new(seed);
        let kind = match (a, b) {
            (AnyMatrix::Int(a), AnyMatrix::Int(b)) => {
                return Ok(Self::integers(IntCheck::new(a, b, &mut rng)));
            }
            (AnyMatrix::Float(a), AnyMatrix::Float(b)) => {
                CheckKind::Float(FloatCheck::new(a, b, &mut rng))
            }
            (a, b) => CheckKind::Float(FloatCheck::new(
                &a.clone().into_f64(),
                &b.clone().into_f64(),
                &mut rng,
            )),
        };
        let may_fail = float_product_may_overflow(a, b);
        Ok(Self {
            kind,
            rows: a.rows(),
            cols: b.cols(),
            may_fail,
        })
    }

    /// Whether an honest worker can fail to compute this product. `false`
    /// when no element of `A·B` can leave the result type: for integers
    /// `sum_p |A_ip| * max|B|` fits in `i64` for every row `i`, for floats
    /// it is finite. The operands are valid and their shapes multiply
    /// (or this check would not exist), so when this is `false` a worker's
    /// error report for the product, or for any row block of it, is false.
    #[must_use]
    pub fn product_may_fail(&self) -> bool {
        self.may_fail
    }

    /// Prepares the check from the matrix texts of `A` and `B`, read with
    /// [`text::parse`].
    ///
    /// # Errors
    /// [`VerifyError::Operands`] when a text is not a matrix or the shapes
    /// do not multiply.
    pub fn from_text(a: &str, b: &str, seed: u64) -> Result<Self, VerifyError> {
        // The common case, integers small enough for the wrapping round, is
        // prepared row by row without holding either matrix; anything else
        // is read whole. Both draw the same `r` from the seed.
        if let Some(check) = IntCheck::wrapping_from_text(a, b, &mut SplitMix64::new(seed)) {
            return Ok(Self::integers(check));
        }
        let a = text::parse(a)?;
        let b = text::parse(b)?;
        Self::new(&a, &b, seed)
    }

    /// The check of an integer pair, prepared.
    fn integers(check: IntCheck) -> Self {
        Self {
            rows: check.row_abs.len(),
            cols: check.cols,
            may_fail: check.product_may_overflow(),
            kind: CheckKind::Int(check),
        }
    }

    /// Rows of `A`.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of `B`.
    #[must_use]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// How many Freivalds rounds each check runs (primes for integers,
    /// [`FLOAT_ROUNDS`] for floats).
    #[must_use]
    pub fn rounds(&self) -> usize {
        match &self.kind {
            CheckKind::Int(check) => check.round_count(),
            CheckKind::Float(check) => check.rounds.len(),
        }
    }

    /// Checks a claimed full product `A·B`.
    ///
    /// # Errors
    /// [`VerifyError::WrongShape`], [`VerifyError::FloatForIntegers`],
    /// [`VerifyError::OutOfBound`], [`VerifyError::Mismatch`] or
    /// [`VerifyError::Unverifiable`].
    pub fn check(&self, c: &AnyMatrix) -> Result<(), VerifyError> {
        self.check_rows(0..self.rows(), c)
    }

    /// Checks a claimed full product given as matrix text.
    ///
    /// # Errors
    /// [`VerifyError::Unreadable`], and as [`ProductCheck::check`].
    pub fn check_text(&self, c: &str) -> Result<(), VerifyError> {
        self.check_rows_text(0..self.rows(), c)
    }

    /// Checks a claimed row block `A[rows]·B` given as matrix text.
    ///
    /// # Errors
    /// [`VerifyError::Unreadable`], and as [`ProductCheck::check_rows`].
    pub fn check_rows_text(&self, rows: Range<usize>, c: &str) -> Result<(), VerifyError> {
        // An integer result is checked row by row as it is read, without
        // holding it; only a result that fails that (wrong, or not an
        // integer matrix of the right shape) is read whole, for the error.
        if let CheckKind::Int(check) = &self.kind
            && rows.start <= rows.end
            && rows.end <= self.rows
            && check.rows_text_pass(rows.clone(), c)
        {
            return Ok(());
        }
        let c = text::parse(c).map_err(VerifyError::Unreadable)?;
        self.check_rows(rows, &c)
    }

    /// Checks a claimed row block `A[rows]·B`; row numbers in errors are
    /// rows of `c`.
    ///
    /// # Errors
    /// [`VerifyError::RowsOutOfRange`], and as [`ProductCheck::check`].
    pub fn check_rows(&self, rows: Range<usize>, c: &AnyMatrix) -> Result<(), VerifyError> {
        if rows.start > rows.end || rows.end > self.rows() {
            return Err(VerifyError::RowsOutOfRange {
                start: rows.start,
                end: rows.end,
                rows: self.rows(),
            });
        }
        if c.rows() != rows.len() || c.cols() != self.cols {
            return Err(VerifyError::WrongShape {
                rows: rows.len(),
                cols: self.cols,
                found_rows: c.rows(),
                found_cols: c.cols(),
            });
        }
        match (&self.kind, c) {
            (CheckKind::Int(check), AnyMatrix::Int(c)) => check.check_rows(rows, c),
            (CheckKind::Int(_), AnyMatrix::Float(_)) => Err(VerifyError::FloatForIntegers),
            (CheckKind::Float(check), AnyMatrix::Float(c)) => check.check_rows(rows, c),
            (CheckKind::Float(check), c @ AnyMatrix::Int(_)) => {
                check.check_rows(rows, &c.clone().into_f64())
            }
        }
    }
}

/// The splitmix64 generator (Steele, Lea and Flood, 2014): tiny, fast, and
/// every seed gives a full-period, well-mixed stream.
#[derive(Debug, Clone)]
struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..q` for `q <= 2^61` (61-bit draws, rejecting those
    /// `>= q`, so there is no bias).
    fn below(&mut self, q: u64) -> u64 {
        loop {
            let x = self.next_u64() >> 3;
            if x < q {
                return x;
            }
        }
    }

    /// Uniform on the grid `1 + j 2^-52` in `[1, 2)`.
    #[allow(clippy::cast_precision_loss)]
    fn in_one_two(&mut self) -> f64 {
        1.0 + (self.next_u64() >> 12) as f64 * f64::EPSILON
    }
}

/// `2^61 - 1`, the mask of the low 61 bits.
const LOW61: u64 = (1 << 61) - 1;

/// Products summed in one `u128` before reducing: each is below `2^122`, so
/// 32 of them plus a reduced value stay below `2^128`.
const DOT_CHUNK: usize = 32;

/// Arithmetic modulo a prime `q = 2^61 - c`, using `2^61 = c (mod q)`.
#[derive(Debug, Clone, Copy)]
struct Modulus {
    q: u64,
    c: u64,
}

impl Modulus {
    fn new(q: u64) -> Self {
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
struct PrimeRound {
    modulus: Modulus,
    r: Vec<u64>,
    abr: Vec<u64>,
}

/// The rounds of an integer check (see the module docs for the choice).
#[derive(Debug, Clone)]
enum IntRounds {
    /// One round modulo `2^64` (wrapping `i64` arithmetic): `r` and
    /// `A_i·(B·r)` for every row `i`.
    Wrapping { r: Vec<i64>, abr: Vec<i64> },
    /// One round per prime.
    Primes(Vec<PrimeRound>),
}

#[derive(Debug, Clone)]
struct IntCheck {
    /// `sum_p |A[i][p]|` for every row.
    row_abs: Vec<u128>,
    /// Columns of `B` (and of the product).
    cols: usize,
    /// `max |B|`.
    b_max: u64,
    rounds: IntRounds,
}

impl IntCheck {
    /// Whether some element of the product can leave `i64`: the bound
    /// `sum_p |A_ip| * max|B|` of some row does not fit.
    fn product_may_overflow(&self) -> bool {
        let b_max = u128::from(self.b_max);
        self.row_abs
            .iter()
            .any(|&row_abs| row_abs.saturating_mul(b_max) > i64::MAX as u128)
    }

    fn new(a: &Matrix<i64>, b: &Matrix<i64>, rng: &mut SplitMix64) -> Self {
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
    /// otherwise (the caller then reads them whole).
    fn wrapping_from_text(a: &str, b: &str, rng: &mut SplitMix64) -> Option<Self> {
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
        }
        let suffices = wrapping_suffices(&row_abs, b_max);
        suffices.then_some(Self {
            row_abs,
            cols,
            b_max,
            rounds: IntRounds::Wrapping { r, abr },
        })
    }

    fn round_count(&self) -> usize {
        match &self.rounds {
            IntRounds::Wrapping { .. } => 1,
            IntRounds::Primes(rounds) => rounds.len(),
        }
    }

    fn check_rows(&self, rows: Range<usize>, c: &Matrix<i64>) -> Result<(), VerifyError> {
        for (row, i) in rows.enumerate() {
            self.check_row(row, i, c.row(row))?;
        }
        Ok(())
    }

    /// Whether `c` is the text of an integer matrix of the shape of
    /// `A[rows]·B` whose every row passes, read row by row (`rows` inside
    /// `A`).
    fn rows_text_pass(&self, rows: Range<usize>, c: &str) -> bool {
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

/// One float round: `r` in `[1, 2)` and, for every row `i` of `A`,
/// `y_i = fl(A_i·fl(B·r))` and `w_i = fl(|A_i|·fl(|B|·r))`.
#[derive(Debug, Clone)]
struct FloatRound {
    r: Vec<f64>,
    y: Vec<f64>,
    w: Vec<f64>,
}

#[derive(Debug, Clone)]
struct FloatCheck {
    /// `gamma_k` for the inner dimension.
    gamma_k: f64,
    /// `gamma_n` for the columns of `B`.
    gamma_n: f64,
    /// Each row's allowance for subnormal errors (`floor_i`).
    floors: Vec<f64>,
    rounds: Vec<FloatRound>,
}

/// `gamma_len = len u / (1 - len u)`, the relative error bound of a dot
/// product of length `len` in `f64` (`u = 2^-53`).
#[allow(clippy::cast_precision_loss)]
fn gamma(len: usize) -> f64 {
    let lu = len as f64 * (f64::EPSILON / 2.0);
    if lu < 1.0 {
        lu / (1.0 - lu)
    } else {
        f64::INFINITY
    }
}

impl FloatCheck {
    #[allow(clippy::cast_precision_loss)]
    fn new(a: &Matrix<f64>, b: &Matrix<f64>, rng: &mut SplitMix64) -> Self {
        let (k, n) = (b.rows(), b.cols());
        let rounds = (0..FLOAT_ROUNDS)
            .map(|_| {
                let r: Vec<f64> = (0..n).map(|_| rng.in_one_two()).collect();
                let (s, t): (Vec<f64>, Vec<f64>) =
                    (0..k).map(|p| dot_pair(b.row(p), &r, &r)).unzip();
                let (y, w) = (0..a.rows()).map(|i| dot_pair(a.row(i), &s, &t)).unzip();
                FloatRound { r, y, w }
            })
            .collect();
        // Subnormal terms (each at most 2^-1074 per product): 2nk from the
        // product itself (r < 2), n + n alpha_i from fl(B r) through A, k
        // from fl(A s), n from fl(C r); doubled.
        let count = (2 * n * k + 2 * n + k + 1) as f64;
        let floor_unit = 2.0 * count * f64::from_bits(1);
        let floors = (0..a.rows())
            .map(|i| floor_unit * (1.0 + a.row(i).iter().map(|v| v.abs()).sum::<f64>()))
            .collect();
        Self {
            gamma_k: gamma(k),
            gamma_n: gamma(n),
            floors,
            rounds,
        }
    }

    fn check_rows(&self, rows: Range<usize>, c: &Matrix<f64>) -> Result<(), VerifyError> {
        let weight_ab = 2.0 * (2.0 * self.gamma_k + 2.0 * self.gamma_n);
        let weight_c = 2.0 * self.gamma_n;
        for (row, i) in rows.enumerate() {
            let c_row = c.row(row);
            for round in &self.rounds {
                let (z, v) = dot_pair(c_row, &round.r, &round.r);
                let tau = weight_ab * round.w[i] + weight_c * v + self.floors[i];
                if !tau.is_finite() {
                    return Err(VerifyError::Unverifiable { row });
                }
                // A NaN difference is rejected too.
                let within = (z - round.y[i]).abs() <= tau;
                if !within {
                    return Err(VerifyError::Mismatch { row });
                }
            }
        }
        Ok(())
    }
}

/// Independent partial sums in [`dot_pair`], so the loop vectorises.
const LANES: usize = 4;

/// `(sum xs[j] * ys[j], sum |xs[j]| * abs_ys[j])` in one pass, summed in
/// [`LANES`] interleaved partial sums (the `gamma` bounds hold for any
/// summation order).
fn dot_pair(xs: &[f64], ys: &[f64], abs_ys: &[f64]) -> (f64, f64) {
    let len = xs.len().min(ys.len()).min(abs_ys.len());
    let (xs, ys, abs_ys) = (&xs[..len], &ys[..len], &abs_ys[..len]);
    let mut dot = [0.0; LANES];
    let mut abs = [0.0; LANES];
    let chunks = xs
        .chunks_exact(LANES)
        .zip(ys.chunks_exact(LANES))
        .zip(abs_ys.chunks_exact(LANES));
    for ((x, y), t) in chunks {
        for lane in 0..LANES {
            dot[lane] += x[lane] * y[lane];
            abs[lane] += x[lane].abs() * t[lane];
        }
    }
    let tail = len - len % LANES;
    for j in tail..len {
        dot[0] += xs[j] * ys[j];
        abs[0] += xs[j].abs() * abs_ys[j];
    }
    (
        (dot[0] + dot[1]) + (dot[2] + dot[3]),
        (abs[0] + abs[1]) + (abs[2] + abs[3]),
    )
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
    fn uniform_draws_stay_in_range() {
        let mut rng = SplitMix64::new(3);
        for _ in 0..10_000 {
            assert!(rng.below(PRIMES[3]) < PRIMES[3]);
            let x = rng.in_one_two();
            assert!((1.0..2.0).contains(&x));
        }
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
