//! The x86-64 AVX-512F microkernel: an 8x24 tile of `C` held in 24 zmm
//! registers; each step broadcasts 8 values of `A` and loads 24 of `B`.
//! Partial tiles at the matrix edges are written with masked stores instead
//! of through a buffer.
#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m512d, _mm512_add_pd, _mm512_fmadd_pd, _mm512_loadu_pd, _mm512_mask_storeu_pd,
    _mm512_maskz_loadu_pd, _mm512_set1_pd, _mm512_setzero_pd, _mm512_storeu_pd,
};

use super::MicroKernel;

const MR: usize = 8;
const NR: usize = 24;

/// Proof that the running CPU has AVX-512F: only [`Avx512::detect`]
/// makes one.
#[derive(Debug, Clone, Copy)]
pub(super) struct Avx512(());

impl Avx512 {
    /// The kernel, when the CPU supports it.
    pub(super) fn detect() -> Option<Self> {
        (is_x86_feature_detected!("avx512f")).then_some(Self(()))
    }
}

impl MicroKernel for Avx512 {
    const MR: usize = MR;
    const NR: usize = NR;
    const KC: usize = 256;
    const MC: usize = 96;
    const NC: usize = 768;

    fn tile(
        self,
        kc: usize,
        a: &[f64],
        b: &[f64],
        c: &mut [f64],
        ldc: usize,
        rows: usize,
        cols: usize,
        accumulate: bool,
    ) {
        assert!(
            a.len() >= kc * MR && b.len() >= kc * NR,
            "packed panels too short"
        );
        assert!(rows <= MR && cols <= NR, "tile larger than the kernel");
        if rows == 0 || cols == 0 {
            return;
        }
        assert!(c.len() >= (rows - 1) * ldc + cols, "C tile out of bounds");
        // The lanes of each of a row's three vectors that hold columns < cols.
        let masks: [u8; 3] = core::array::from_fn(|v| {
            let lanes = cols.saturating_sub(8 * v).min(8);
            ((1u16 << lanes) - 1) as u8
        });
        // SAFETY: `self` exists only when AVX-512F was detected; the asserts
        // above keep every read of `a` and `b` inside the panels and every
        // access to `c` (rows below `rows`, lanes limited by `masks` to
        // columns below `cols`, stride `ldc`) inside the slice; masked-off
        // lanes are neither read nor written.
        unsafe {
            kernel(
                kc,
                a.as_ptr(),
                b.as_ptr(),
                c.as_mut_ptr(),
                ldc,
                rows,
                masks,
                accumulate,
            )
        };
    }
}

/// The 8x24 register tile, written to the first `rows` rows of `c` through
/// the lane masks `masks` (one per vector of a row).
///
/// # Safety
/// AVX-512F must be available; `a` must hold `kc * MR` values and `b`
/// `kc * NR` values; `c` must be valid for the masked lanes of `rows` rows
/// of row stride `ldc`.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel(
    kc: usize,
    a: *const f64,
    b: *const f64,
    c: *mut f64,
    ldc: usize,
    rows: usize,
    masks: [u8; 3],
    accumulate: bool,
) {
    let mut acc: [[__m512d; 3]; MR] = [[_mm512_setzero_pd(); 3]; MR];
    for p in 0..kc {
        // SAFETY: p < kc, so the reads stay inside the panels (see caller).
        let (b0, b1, b2, ap) = unsafe {
            let bp = b.add(p * NR);
            (
                _mm512_loadu_pd(bp),
                _mm512_loadu_pd(bp.add(8)),
                _mm512_loadu_pd(bp.add(16)),
                a.add(p * MR),
            )
        };
        for (r, row) in acc.iter_mut().enumerate() {
            // SAFETY: r < MR.
            let av = _mm512_set1_pd(unsafe { *ap.add(r) });
            row[0] = _mm512_fmadd_pd(av, b0, row[0]);
            row[1] = _mm512_fmadd_pd(av, b1, row[1]);
            row[2] = _mm512_fmadd_pd(av, b2, row[2]);
        }
    }
    if rows == MR && masks == [u8::MAX; 3] {
        for (r, row) in acc.iter().enumerate() {
            for (v, &sum) in row.iter().enumerate() {
                // SAFETY: r < MR and 8 * v + 8 <= NR: inside the full tile.
                unsafe {
                    let ptr = c.add(r * ldc + 8 * v);
                    let out = if accumulate {
                        _mm512_add_pd(_mm512_loadu_pd(ptr), sum)
                    } else {
                        sum
                    };
                    _mm512_storeu_pd(ptr, out);
                }
            }
        }
    } else {
        for (r, row) in acc.iter().enumerate().take(rows) {
            for ((v, &sum), &mask) in row.iter().enumerate().zip(&masks) {
                // SAFETY: r < rows and `mask` keeps the lanes inside the tile.
                unsafe {
                    let ptr = c.add(r * ldc + 8 * v);
                    let out = if accumulate {
                        _mm512_add_pd(_mm512_maskz_loadu_pd(mask, ptr), sum)
                    } else {
                        sum
                    };
                    _mm512_mask_storeu_pd(ptr, mask, out);
                }
            }
        }
    }
}
