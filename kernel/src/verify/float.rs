//! The float check: a tolerance from the error bound of a dot product.
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

use std::ops::Range;

use super::VerifyError;
use super::seed::SplitMix64;
use crate::{AnyMatrix, Matrix};

/// Independent rounds of the float check (see the module docs for what each
/// round guarantees).
pub const FLOAT_ROUNDS: usize = 2;

/// Whether some element of the `f64` product `a·b` can overflow: the bound
/// `sum_p |a_ip| * max|b|` of some row `i` is not finite (integer operands
/// of a mixed pair count as floats, as they are multiplied).
#[allow(clippy::cast_precision_loss)]
pub(super) fn product_may_overflow(a: &AnyMatrix, b: &AnyMatrix) -> bool {
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

/// One float round: `r` in `[1, 2)` and, for every row `i` of `A`,
/// `y_i = fl(A_i·fl(B·r))` and `w_i = fl(|A_i|·fl(|B|·r))`.
#[derive(Debug, Clone)]
pub(super) struct FloatRound {
    pub(super) r: Vec<f64>,
    pub(super) y: Vec<f64>,
    pub(super) w: Vec<f64>,
}

/// A prepared float check: the rounds' `y` and `w` and each row's floor.
#[derive(Debug, Clone)]
pub(super) struct FloatCheck {
    /// `gamma_k` for the inner dimension.
    pub(super) gamma_k: f64,
    /// `gamma_n` for the columns of `B`.
    pub(super) gamma_n: f64,
    /// Each row's allowance for subnormal errors (`floor_i`).
    pub(super) floors: Vec<f64>,
    pub(super) rounds: Vec<FloatRound>,
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
    /// Prepares the check of `a·b` with the random vectors drawn from `rng`.
    #[allow(clippy::cast_precision_loss)]
    pub(super) fn new(a: &Matrix<f64>, b: &Matrix<f64>, rng: &mut SplitMix64) -> Self {
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

    /// Rounds run per check ([`FLOAT_ROUNDS`]).
    pub(super) fn round_count(&self) -> usize {
        self.rounds.len()
    }

    /// Checks the claimed row block `c` of the product, rows `rows` of `A`.
    pub(super) fn check_rows(
        &self,
        rows: Range<usize>,
        c: &Matrix<f64>,
    ) -> Result<(), VerifyError> {
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
