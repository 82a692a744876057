//! The x86-64 AVX2+FMA microkernel: a 6x8 tile of `C` held in 12 ymm
//! registers; each step broadcasts 6 values of `A` and loads 8 of `B`.
#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m256d, _mm256_add_pd, _mm256_fmadd_pd, _mm256_loadu_pd, _mm256_set1_pd, _mm256_setzero_pd,
    _mm256_storeu_pd,
};

use super::{MicroKernel, full_tile_or_scratch};

const MR: usize = 6;
const NR: usize = 8;

/// Proof that the running CPU has AVX2 and FMA: only [`Avx2Fma::detect`]
/// makes one.
#[derive(Debug, Clone, Copy)]
pub(super) struct Avx2Fma(());

impl Avx2Fma {
    /// The kernel, when the CPU supports it.
    pub(super) fn detect() -> Option<Self> {
        (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")).then_some(Self(()))
    }
}

impl MicroKernel for Avx2Fma {
    const MR: usize = MR;
    const NR: usize = NR;
    const KC: usize = 256;
    const MC: usize = 96;
    const NC: usize = 4096;

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
        full_tile_or_scratch::<MR, NR>(
            kc,
            a,
            b,
            c,
            ldc,
            rows,
            cols,
            accumulate,
            |dst, ldc, acc| {
                // SAFETY: `self` exists only when AVX2 and FMA were detected;
                // `full_tile_or_scratch` checked that `a` and `b` hold the
                // panels and `dst` holds MR rows of NR values at stride `ldc`.
                unsafe { kernel(kc, a.as_ptr(), b.as_ptr(), dst.as_mut_ptr(), ldc, acc) }
            },
        );
    }
}

/// The 6x8 register tile.
///
/// # Safety
/// AVX2 and FMA must be available; `a` must hold `kc * MR` values, `b`
/// `kc * NR` values and `c` `MR` rows of `NR` values with row stride `ldc`.
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel(
    kc: usize,
    a: *const f64,
    b: *const f64,
    c: *mut f64,
    ldc: usize,
    accumulate: bool,
) {
    let mut acc: [[__m256d; 2]; MR] = [[_mm256_setzero_pd(); 2]; MR];
    for p in 0..kc {
        // SAFETY: p < kc, so the reads stay inside the panels (see caller).
        let (b0, b1, ap) = unsafe {
            let bp = b.add(p * NR);
            (
                _mm256_loadu_pd(bp),
                _mm256_loadu_pd(bp.add(4)),
                a.add(p * MR),
            )
        };
        for (r, row) in acc.iter_mut().enumerate() {
            // SAFETY: r < MR.
            let av = _mm256_set1_pd(unsafe { *ap.add(r) });
            row[0] = _mm256_fmadd_pd(av, b0, row[0]);
            row[1] = _mm256_fmadd_pd(av, b1, row[1]);
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (v, &sum) in row.iter().enumerate() {
            // SAFETY: r < MR and 4 * v + 4 <= NR: inside the C tile.
            unsafe {
                let ptr = c.add(r * ldc + 4 * v);
                let out = if accumulate {
                    _mm256_add_pd(_mm256_loadu_pd(ptr), sum)
                } else {
                    sum
                };
                _mm256_storeu_pd(ptr, out);
            }
        }
    }
}
