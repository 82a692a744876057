//! The wasm32 `simd128` tile: an `MR` x `NR` tile of `C` in eight `i32x4`
//! registers; per pair of rows of `B`, each row of `A` contributes its two
//! values splatted across the lanes, and `i32x4.dot_i16x8_s` multiplies
//! them with the pair's interleaved values and adds each column's two
//! products.
#![allow(unsafe_code)]

use core::arch::wasm32::{i32x4_add, i32x4_dot_i16x8, i32x4_splat, v128, v128_load, v128_store};

use super::{MR, NR, PAIR_LEN, Tile};

/// [`super::tile`] with `simd128`.
pub(super) fn tile(rows: &[i16], stride: usize, panel: &[i16], pairs: usize) -> Tile {
    assert!(stride >= 2 * pairs && rows.len() >= MR * stride && panel.len() >= pairs * PAIR_LEN);
    let mut acc = [i32x4_splat(0); 2 * MR];
    for p in 0..pairs {
        // SAFETY: the loads read `panel[p * PAIR_LEN..(p + 1) * PAIR_LEN]`
        // and `rows[r * stride + 2 * p..][..2]`, within the lengths asserted
        // above; `v128_load` and `read_unaligned` need no alignment.
        unsafe {
            let pair = panel.as_ptr().add(p * PAIR_LEN);
            let left = v128_load(pair.cast::<v128>());
            let right = v128_load(pair.add(NR).cast::<v128>());
            for r in 0..MR {
                let two = rows
                    .as_ptr()
                    .add(r * stride + 2 * p)
                    .cast::<i32>()
                    .read_unaligned();
                let x = i32x4_splat(two);
                acc[2 * r] = i32x4_add(acc[2 * r], i32x4_dot_i16x8(x, left));
                acc[2 * r + 1] = i32x4_add(acc[2 * r + 1], i32x4_dot_i16x8(x, right));
            }
        }
    }
    let mut tile = [[0i32; NR]; MR];
    for (r, sums) in tile.iter_mut().enumerate() {
        // SAFETY: each row of the tile holds `NR` = 8 `i32`, two `v128`.
        unsafe {
            let out = sums.as_mut_ptr().cast::<v128>();
            v128_store(out, acc[2 * r]);
            v128_store(out.add(1), acc[2 * r + 1]);
        }
    }
    tile
}
