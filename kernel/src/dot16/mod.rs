//! Exact products of small integers: every operand value within ±32767 and
//! every partial sum within `i32`. Two values of a row of `A` meet two of a
//! column of `B` in one `i32` lane, so wasm32's `i32x4.dot_i16x8_s` does 8
//! multiply-adds in one instruction where the `f64` kernel's `f64x2` does
//! 2: about 3x faster for a 512 × 2048 × 2048 product of values in ±99 in
//! V8. Integer products of that kind are what the worker pages mostly get.
//!
//! The operands are packed as in the `f64` GEMM: `A` as rows of `i16`, `k`
//! padded to even; a block of [`BLOCK_COLS`] columns of `B` in panels of
//! [`NR`] columns, each pair of rows `2p, 2p + 1` of a panel interleaved
//! (`b[2p][j], b[2p + 1][j]` for each of its columns `j`). An [`MR`] x
//! [`NR`] tile of `C` is summed at a time: on wasm32 with `simd128` in
//! eight `i32x4` registers ([`simd128`]), elsewhere in plain Rust (for the
//! tests on every target: the `f64` GEMM is faster there).

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;

/// The largest magnitude of an operand value this path takes.
pub(crate) const MAX_VALUE: u64 = i16::MAX as u64;

/// Rows of a tile of `C`.
const MR: usize = 4;
/// Columns of a tile of `C` (two `i32x4`), and of a panel of `B`.
const NR: usize = 8;
/// Columns of `B` packed at once (a block of about 1 MB at `k` = 2048,
/// kept in L2 while every row of `A` passes over it).
const BLOCK_COLS: usize = 256;

/// `i16` values of one pair of rows of a panel: `NR` columns, two each.
const PAIR_LEN: usize = 2 * NR;

/// A tile of `C`.
type Tile = [[i32; NR]; MR];

/// Whether operands whose magnitudes are at most `a_bound` and `b_bound`,
/// with inner dimension `k`, fit this path: each value within ±32767 and
/// `a_bound * b_bound * k`, a bound on every partial sum, within `i32`.
#[must_use]
pub(crate) fn fits(a_bound: u64, b_bound: u64, k: usize) -> bool {
    a_bound <= MAX_VALUE
        && b_bound <= MAX_VALUE
        && (a_bound * b_bound)
            .checked_mul(k as u64)
            .is_some_and(|sum| sum <= i32::MAX as u64)
}

/// `a * b` for row-major `a` (`m x k`) and `b` (`k x n`); exact when
/// [`fits`] holds for them (values outside `i16` are cut to their low 16
/// bits, so never call it without).
///
/// # Panics
/// When `a` holds fewer than `m * k` values or `b` fewer than `k * n`.
#[must_use]
#[allow(clippy::cast_possible_truncation)]
pub(crate) fn multiply(m: usize, k: usize, n: usize, a: &[i64], b: &[i64]) -> Vec<i64> {
    assert!(
        a.len() >= m * k && b.len() >= k * n,
        "operands shorter than their shapes"
    );
    if m == 0 || k == 0 || n == 0 {
        return vec![0; m * n];
    }
    let pairs = k.div_ceil(2);
    let stride = 2 * pairs;
    // `A` as `i16`, rows padded to `stride` and to a whole number of tiles.
    let mut a16 = vec![0i16; m.next_multiple_of(MR) * stride];
    for (row, values) in a16.chunks_exact_mut(stride).zip(a.chunks_exact(k)) {
        for (cell, &value) in row.iter_mut().zip(values) {
            *cell = value as i16;
        }
    }
    let mut c = vec![0i64; m * n];
    let mut packed = vec![0i16; BLOCK_COLS / NR * pairs * PAIR_LEN];
    for j0 in (0..n).step_by(BLOCK_COLS) {
        let cols = BLOCK_COLS.min(n - j0);
        let panels = cols.div_ceil(NR);
        let packed = &mut packed[..panels * pairs * PAIR_LEN];
        pack_b(b, k, n, j0, cols, packed);
        for i0 in (0..m).step_by(MR) {
            let rows = &a16[i0 * stride..(i0 + MR) * stride];
            for (p, panel) in packed.chunks_exact(pairs * PAIR_LEN).enumerate() {
                let tile = tile(rows, stride, panel, pairs);
                let col = j0 + p * NR;
                let width = NR.min(n - col);
                for (r, sums) in tile.iter().enumerate().take(m - i0) {
                    let out = &mut c[(i0 + r) * n + col..][..width];
                    for (cell, &sum) in out.iter_mut().zip(sums) {
                        *cell = i64::from(sum);
                    }
                }
            }
        }
    }
    c
}

/// Packs columns `j0..j0 + cols` of `b` (`k x n`) into `out`, panel after
/// panel, pairs of rows interleaved; zeros past the last row and column.
#[allow(clippy::cast_possible_truncation)]
fn pack_b(b: &[i64], k: usize, n: usize, j0: usize, cols: usize, out: &mut [i16]) {
    out.fill(0);
    let pairs = k.div_ceil(2);
    for (p, panel) in out.chunks_exact_mut(pairs * PAIR_LEN).enumerate() {
        let first = j0 + p * NR;
        let width = NR.min(j0 + cols - first);
        for row in 0..k {
            let values = &b[row * n + first..][..width];
            let pair = &mut panel[row / 2 * PAIR_LEN..][..PAIR_LEN];
            for (j, &value) in values.iter().enumerate() {
                pair[2 * j + row % 2] = value as i16;
            }
        }
    }
}

/// The tile of rows `rows` (`MR` rows of `stride` values) times `panel`.
fn tile(rows: &[i16], stride: usize, panel: &[i16], pairs: usize) -> Tile {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        simd128::tile(rows, stride, panel, pairs)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        portable_tile(rows, stride, panel, pairs)
    }
}

/// [`tile`] in plain Rust.
#[cfg_attr(
    all(target_arch = "wasm32", target_feature = "simd128"),
    allow(dead_code)
)]
fn portable_tile(rows: &[i16], stride: usize, panel: &[i16], pairs: usize) -> Tile {
    let mut tile = [[0i32; NR]; MR];
    for (p, pair) in panel.chunks_exact(PAIR_LEN).take(pairs).enumerate() {
        for (r, sums) in tile.iter_mut().enumerate() {
            let x0 = i32::from(rows[r * stride + 2 * p]);
            let x1 = i32::from(rows[r * stride + 2 * p + 1]);
            for (j, sum) in sums.iter_mut().enumerate() {
                *sum += x0 * i32::from(pair[2 * j]) + x1 * i32::from(pair[2 * j + 1]);
            }
        }
    }
    tile
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_are_those_of_i16_values_and_i32_sums() {
        assert!(fits(32_767, 32_767, 2));
        assert!(!fits(32_767, 32_767, 3), "2^31 passed");
        assert!(!fits(32_768, 1, 1), "-32768 is not taken");
        assert!(fits(99, 99, 200_000));
        assert!(!fits(99, 99, 300_000));
        assert!(!fits(u64::MAX, u64::MAX, usize::MAX));
    }

    #[test]
    fn empty_shapes_give_zeros() {
        assert_eq!(multiply(2, 0, 3, &[], &[]), vec![0; 6]);
        assert!(multiply(0, 4, 3, &[], &[0; 12]).is_empty());
        assert!(multiply(2, 4, 0, &[0; 8], &[]).is_empty());
    }

    #[test]
    fn a_product_is_summed_tile_by_tile_exactly() {
        // 5 x 3 by 3 x 10: a partial tile of rows, a partial panel of
        // columns and an odd k, against the sums written out.
        let a: Vec<i64> = (0..15).map(|i| i - 7).collect();
        let b: Vec<i64> = (0..30).map(|i| 3 * i - 40).collect();
        let c = multiply(5, 3, 10, &a, &b);
        for i in 0..5 {
            for j in 0..10 {
                let sum: i64 = (0..3).map(|p| a[i * 3 + p] * b[p * 10 + j]).sum();
                assert_eq!(c[i * 10 + j], sum, "({i}, {j})");
            }
        }
    }
}
