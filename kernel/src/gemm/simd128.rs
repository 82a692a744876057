//! The wasm32 `simd128` microkernel: a 4x4 tile of `C` held in 8 `f64x2`
//! vectors, small enough that engines keep it in the xmm registers of an
//! x86-64 host.
//!
//! Plain `simd128` has no fused multiply-add, so each step is a multiply and
//! an add. A build with the `relaxed-simd` target feature uses
//! `f64x2.relaxed_madd` instead, which engines turn into one FMA instruction
//! where the CPU has it: more throughput (about 1.2x measured on an x86-64
//! Xeon, whose separate add ports already serve the plain build well), and
//! results that may differ in the last bit between engines (integer products
//! on the exact `f64` path are unaffected: every partial sum is exact either
//! way).
//!
//! # Why 4x4
//! V8 gives wasm SIMD values 15 xmm registers on x86-64 and, in the code
//! node 20 generates, issues the loads of a `k` step before its
//! multiply-adds, so a step holds its accumulators and every value it loaded
//! at once: here 8 + 2 (`B`) + 4 (splats of `A`) = 14. A 5x4 tile needs 17,
//! spills an accumulator every step and runs at about 60% of this one (in
//! node 20 and Chromium 156 alike); 3x6 (15) and 2x8 (14) measure the same
//! as 4x4; unrolling `k` by 2 or 4 loads more per step and is slower. The
//! loop runs at close to 90% of what native 128-bit FMAs reach on the same
//! core; most of the rest of a `multiplyF64` call is copying the operands in
//! and the product out, then packing.
#![allow(unsafe_code)]

use core::arch::wasm32::{f64x2_add, f64x2_splat, v128, v128_load, v128_store};

use super::{MicroKernel, full_tile_or_scratch};

const MR: usize = 4;
/// `f64x2` vectors per row of the tile.
const NV: usize = 2;
const NR: usize = 2 * NV;

/// The `simd128` kernel; compiled only when the build enables `simd128`, so
/// it is always available where it exists.
#[derive(Debug, Clone, Copy)]
pub(super) struct Simd128;

impl MicroKernel for Simd128 {
    const MR: usize = MR;
    const NR: usize = NR;
    const KC: usize = 256;
    const MC: usize = 128;
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
                // SAFETY: `full_tile_or_scratch` checked that `a` and `b` hold
                // the panels and `dst` holds MR rows of NR values at stride
                // `ldc`; wasm loads and stores need no alignment.
                unsafe { kernel(kc, a.as_ptr(), b.as_ptr(), dst.as_mut_ptr(), ldc, acc) }
            },
        );
    }
}

/// `a * b + c`: one fused (or, where the engine cannot fuse, two-step)
/// multiply-add with relaxed SIMD, a multiply and an add otherwise.
#[inline(always)]
fn multiply_add(a: v128, b: v128, c: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    {
        core::arch::wasm32::f64x2_relaxed_madd(a, b, c)
    }
    #[cfg(not(target_feature = "relaxed-simd"))]
    {
        f64x2_add(c, core::arch::wasm32::f64x2_mul(a, b))
    }
}

/// The 4x4 register tile.
///
/// # Safety
/// `a` must hold `kc * MR` values, `b` `kc * NR` values and `c` `MR` rows of
/// `NR` values with row stride `ldc`.
#[inline]
unsafe fn kernel(
    kc: usize,
    a: *const f64,
    b: *const f64,
    c: *mut f64,
    ldc: usize,
    accumulate: bool,
) {
    let zero = f64x2_splat(0.0);
    let mut acc: [[v128; NV]; MR] = [[zero; NV]; MR];
    for p in 0..kc {
        let mut bv = [zero; NV];
        // SAFETY: p < kc, so the reads stay inside the panels (see caller).
        let ap = unsafe {
            let bp = b.add(p * NR);
            for (v, slot) in bv.iter_mut().enumerate() {
                *slot = v128_load(bp.add(2 * v).cast());
            }
            a.add(p * MR)
        };
        for (r, row) in acc.iter_mut().enumerate() {
            // SAFETY: r < MR.
            let av = f64x2_splat(unsafe { *ap.add(r) });
            for (cell, &bvec) in row.iter_mut().zip(&bv) {
                *cell = multiply_add(av, bvec, *cell);
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (v, &sum) in row.iter().enumerate() {
            // SAFETY: r < MR and 2 * v + 2 <= NR: inside the C tile.
            unsafe {
                let ptr = c.add(r * ldc + 2 * v).cast::<v128>();
                let out = if accumulate {
                    f64x2_add(v128_load(ptr), sum)
                } else {
                    sum
                };
                v128_store(ptr, out);
            }
        }
    }
}
