//! The x86-64 AVX-512F microkernel: an 8x24 tile of `C` held in 24 zmm
//! registers; each step broadcasts 8 values of `A` and loads 24 of `B`.
#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m512d, _mm512_add_pd, _mm512_fmadd_pd, _mm512_loadu_pd, _mm512_set1_pd, _mm512_setzero_pd,
    _mm512_storeu_pd,
};

use super::{MicroKernel, write_tile};

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
        if rows == MR && cols == NR {
            assert!(c.len() >= (MR - 1) * ldc + NR, "C tile out of bounds");
            // SAFETY: `self` exists only when AVX-512F was detected; the
            // asserts above keep every read of `a`, `b` and every access to
            // `c` (MR rows of NR values, stride `ldc`) inside the slices.
            unsafe { kernel(kc, a.as_ptr(), b.as_ptr(), c.as_mut_ptr(), ldc, accumulate) };
        } else {
            let mut tile = [0.0f64; MR * NR];
            // SAFETY: as above; `tile` holds exactly MR rows of NR values.
            unsafe { kernel(kc, a.as_ptr(), b.as_ptr(), tile.as_mut_ptr(), NR, false) };
            write_tile(&tile, NR, c, ldc, rows, cols, accumulate);
        }
    }
}

/// The 8x24 register tile.
///
/// # Safety
/// AVX-512F must be available; `a` must hold `kc * MR` values, `b`
/// `kc * NR` values and `c` `MR` rows of `NR` values with row stride `ldc`.
#[target_feature(enable = "avx512f")]
unsafe fn kernel(
    kc: usize,
    a: *const f64,
    b: *const f64,
    c: *mut f64,
    ldc: usize,
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
    for (r, row) in acc.iter().enumerate() {
        for (v, &sum) in row.iter().enumerate() {
            // SAFETY: r < MR and 8 * v + 8 <= NR: inside the C tile.
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
}
