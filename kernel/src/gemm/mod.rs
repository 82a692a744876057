//! The cache-blocked, packed `f64` matrix multiply (the GotoBLAS/BLIS loop
//! nest) and the choice of microkernel.
//!
//! `C = A * B` is cut into blocks that fit the caches: a `KC` x `NC` block of
//! `B` is packed into `NR`-wide column panels, an `MC` x `KC` block of `A` into
//! `MR`-tall row panels, and a register-blocked microkernel multiplies one
//! `A` panel by one `B` panel into an `MR` x `NR` tile of `C`. Packing pads
//! edges with zeros so microkernels only ever see full panels; partial tiles
//! of `C` are written through a small buffer.
//!
//! One microkernel per instruction set lives in its own module; [`Isa`] picks
//! the best one the running CPU supports, so the default build runs on any
//! x86-64 and uses AVX2+FMA or AVX-512 where present. On wasm32 the `simd128`
//! kernel is compiled in when the build enables that target feature.
//!
//! Only the microkernel modules use `unsafe` (SIMD intrinsics and raw loads
//! over slices whose bounds are checked before).

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod pack;
mod portable;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;

/// An instruction set a microkernel is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// Plain Rust, auto-vectorised by the compiler; runs everywhere.
    Portable,
    /// x86-64 AVX2 with FMA: a 6x8 tile in 12 ymm registers.
    Avx2Fma,
    /// x86-64 AVX-512F: an 8x24 tile in 24 zmm registers.
    Avx512,
    /// wasm32 `simd128`: a 4x4 tile of `f64x2` vectors (fused multiply-adds
    /// when built with `relaxed-simd`).
    Simd128,
}

impl Isa {
    /// Every instruction set, best first.
    pub const ALL: [Isa; 4] = [Isa::Avx512, Isa::Avx2Fma, Isa::Simd128, Isa::Portable];

    /// True when this build and the running CPU can use this kernel.
    #[must_use]
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => avx2::Avx2Fma::detect().is_some(),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => avx512::Avx512::detect().is_some(),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Isa::Simd128 => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The best supported instruction set.
    #[must_use]
    pub fn best() -> Isa {
        Isa::ALL
            .into_iter()
            .find(|isa| isa.is_supported())
            .unwrap_or(Isa::Portable)
    }

    /// A short name such as `"x86_64 avx512f"`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable if cfg!(target_arch = "wasm32") => "wasm32 portable",
            Isa::Portable if cfg!(target_arch = "x86_64") => "x86_64 portable",
            Isa::Portable => "portable",
            Isa::Avx2Fma => "x86_64 avx2+fma",
            Isa::Avx512 => "x86_64 avx512f",
            Isa::Simd128 if cfg!(target_feature = "relaxed-simd") => "wasm32 simd128+relaxed-simd",
            Isa::Simd128 => "wasm32 simd128",
        }
    }
}

/// The name of the kernel [`gemm_f64`] uses on this machine.
#[must_use]
pub fn selected_kernel_name() -> &'static str {
    Isa::best().name()
}

/// A register-blocked microkernel and the block sizes that suit it.
pub(crate) trait MicroKernel: Copy {
    /// Rows of the `C` tile (height of a packed `A` panel).
    const MR: usize;
    /// Columns of the `C` tile (width of a packed `B` panel).
    const NR: usize;
    /// Depth of one packed block (the `B` panel `KC x NR` should sit in L1).
    const KC: usize;
    /// Rows of `A` packed at once (a multiple of `MR`; the block sits in L2).
    const MC: usize;
    /// Columns of `B` packed at once (a multiple of `NR`).
    const NC: usize;

    /// Computes the `MR x NR` product of the packed panels `a` (`kc` groups
    /// of `MR` values) and `b` (`kc` groups of `NR` values) and writes its
    /// top-left `rows x cols` part into `c` (row stride `ldc`), adding to
    /// what is there when `accumulate` is true and overwriting otherwise.
    #[allow(clippy::too_many_arguments)]
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
    );
}

/// Computes `c = a * b` for a row-major `m x k` matrix `a` and `k x n` matrix
/// `b`, overwriting every element of the row-major `m x n` buffer `c`, with
/// the best kernel for this CPU.
///
/// # Panics
/// When a buffer length does not match its shape.
pub fn gemm_f64(m: usize, k: usize, n: usize, a: &[f64], b: &[f64], c: &mut [f64]) {
    gemm_f64_with(Isa::best(), m, k, n, a, b, c);
}

/// [`gemm_f64`] with a chosen kernel (tests and benchmarks compare them).
///
/// # Panics
/// When a buffer length does not match its shape, or `isa` is not supported
/// here (see [`Isa::is_supported`]).
pub fn gemm_f64_with(isa: Isa, m: usize, k: usize, n: usize, a: &[f64], b: &[f64], c: &mut [f64]) {
    gemm_from(isa, m, k, n, a, b, c);
}

/// `c = a * b` for integer operands, converted to `f64` while packing (no
/// converted copies of `a` and `b`), with the best kernel. Exact only when
/// every partial sum stays below 2^53 (see [`crate::exact`]).
///
/// # Panics
/// When a buffer length does not match its shape.
pub(crate) fn gemm_i64_as_f64(m: usize, k: usize, n: usize, a: &[i64], b: &[i64], c: &mut [f64]) {
    gemm_from(Isa::best(), m, k, n, a, b, c);
}

/// [`gemm_f64_with`] over any packable element type.
fn gemm_from<S: pack::Element>(
    isa: Isa,
    m: usize,
    k: usize,
    n: usize,
    a: &[S],
    b: &[S],
    c: &mut [f64],
) {
    assert_eq!(a.len(), m * k, "a must hold m * k values");
    assert_eq!(b.len(), k * n, "b must hold k * n values");
    assert_eq!(c.len(), m * n, "c must hold m * n values");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        c.fill(0.0);
        return;
    }
    match isa {
        Isa::Portable => blocked(portable::Portable, m, k, n, a, b, c),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => match avx2::Avx2Fma::detect() {
            Some(kernel) => blocked(kernel, m, k, n, a, b, c),
            None => panic!("AVX2+FMA is not supported on this CPU"),
        },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => match avx512::Avx512::detect() {
            Some(kernel) => blocked(kernel, m, k, n, a, b, c),
            None => panic!("AVX-512F is not supported on this CPU"),
        },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Isa::Simd128 => blocked(simd128::Simd128, m, k, n, a, b, c),
        #[allow(unreachable_patterns)]
        other => panic!("{} is not available in this build", other.name()),
    }
}

/// The blocked loop nest around one microkernel.
fn blocked<K: MicroKernel, S: pack::Element>(
    kernel: K,
    m: usize,
    k: usize,
    n: usize,
    a: &[S],
    b: &[S],
    c: &mut [f64],
) {
    let (mr, nr) = (K::MR, K::NR);
    let kc_max = K::KC.min(k);
    let mc_max = K::MC.min(m.div_ceil(mr) * mr);
    let nc_max = K::NC.min(n.div_ceil(nr) * nr);
    // Reuse this thread's packing buffers: fresh large allocations come
    // from the OS zeroed, page by page, which costs as much as the multiply
    // itself for mid-sized matrices. A nested call (none exists today) would
    // find them borrowed and allocate its own.
    PACK_BUFFERS.with(|buffers| match buffers.try_borrow_mut() {
        Ok(mut buffers) => {
            let (a_buffer, b_buffer) = &mut *buffers;
            let a_packed = aligned(a_buffer, mc_max * kc_max);
            let b_packed = aligned(b_buffer, nc_max * kc_max);
            blocked_with(kernel, m, k, n, a, b, c, a_packed, b_packed);
        }
        Err(_) => {
            let (mut a_buffer, mut b_buffer) = (Vec::new(), Vec::new());
            let a_packed = aligned(&mut a_buffer, mc_max * kc_max);
            let b_packed = aligned(&mut b_buffer, nc_max * kc_max);
            blocked_with(kernel, m, k, n, a, b, c, a_packed, b_packed);
        }
    });
}

/// The loop nest proper, with packing buffers of at least `MC*KC` and
/// `NC*KC` values (fewer when the matrices are smaller).
#[allow(clippy::too_many_arguments)]
fn blocked_with<K: MicroKernel, S: pack::Element>(
    kernel: K,
    m: usize,
    k: usize,
    n: usize,
    a: &[S],
    b: &[S],
    c: &mut [f64],
    a_packed: &mut [f64],
    b_packed: &mut [f64],
) {
    let (mr, nr) = (K::MR, K::NR);
    for jc in (0..n).step_by(K::NC) {
        let nb = K::NC.min(n - jc);
        for pc in (0..k).step_by(K::KC) {
            let kb = K::KC.min(k - pc);
            pack::pack_b(b_packed, b, n, pc, kb, jc, nb, nr);
            for ic in (0..m).step_by(K::MC) {
                let mb = K::MC.min(m - ic);
                pack::pack_a(a_packed, a, k, ic, mb, pc, kb, mr);
                for (jp, jr) in (0..nb).step_by(nr).enumerate() {
                    let cols = nr.min(nb - jr);
                    let b_panel = &b_packed[jp * nr * kb..(jp + 1) * nr * kb];
                    for (ip, ir) in (0..mb).step_by(mr).enumerate() {
                        let rows = mr.min(mb - ir);
                        let a_panel = &a_packed[ip * mr * kb..(ip + 1) * mr * kb];
                        let first = (ic + ir) * n + jc + jr;
                        let last = (ic + ir + rows - 1) * n + jc + jr + cols;
                        kernel.tile(
                            kb,
                            a_panel,
                            b_panel,
                            &mut c[first..last],
                            n,
                            rows,
                            cols,
                            pc > 0,
                        );
                    }
                }
            }
        }
    }
}

/// Bytes of a cache line: packed panels start on one, so a SIMD load of a
/// panel's values never straddles two lines.
const CACHE_LINE: usize = 64;

thread_local! {
    /// This thread's packing buffers for `A` and `B`, grown as needed.
    static PACK_BUFFERS: std::cell::RefCell<(Vec<f64>, Vec<f64>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// `len` values of `buffer` starting on a cache line, growing `buffer` when
/// needed. The contents are stale: packing overwrites every value it uses.
fn aligned(buffer: &mut Vec<f64>, len: usize) -> &mut [f64] {
    let slack = CACHE_LINE / size_of::<f64>();
    if buffer.len() < len + slack {
        buffer.resize(len + slack, 0.0);
    }
    // `align_offset` may decline (usize::MAX) on exotic targets: then start
    // unaligned, which is only slower.
    let offset = match buffer.as_ptr().align_offset(CACHE_LINE) {
        offset if offset <= slack => offset,
        _ => 0,
    };
    &mut buffer[offset..offset + len]
}

/// Largest `MR * NR` of a microkernel that uses [`full_tile_or_scratch`].
const MAX_SCRATCH_TILE: usize = 64;

/// The tile logic shared by the microkernels that can only write a whole
/// `MR x NR` tile: checks the bounds `full` relies on, then calls
/// `full(dst, ldc, accumulate)` on `c` itself when the tile is whole, or on a
/// zeroed scratch tile (stride `NR`, not accumulating) whose top-left
/// `rows x cols` part then goes into `c` through [`write_tile`].
///
/// `full` may rely on: `a.len() >= kc * MR`, `b.len() >= kc * NR`, and
/// `dst` holding `MR` rows of `NR` values at row stride `ldc`.
///
/// # Panics
/// When a panel is too short, the tile is larger than `MR x NR`, or a whole
/// tile does not fit in `c`.
#[allow(clippy::too_many_arguments, dead_code)]
pub(crate) fn full_tile_or_scratch<const MR: usize, const NR: usize>(
    kc: usize,
    a: &[f64],
    b: &[f64],
    c: &mut [f64],
    ldc: usize,
    rows: usize,
    cols: usize,
    accumulate: bool,
    full: impl FnOnce(&mut [f64], usize, bool),
) {
    const { assert!(MR * NR <= MAX_SCRATCH_TILE, "scratch tile too small") };
    assert!(
        a.len() >= kc * MR && b.len() >= kc * NR,
        "packed panels too short"
    );
    assert!(rows <= MR && cols <= NR, "tile larger than the kernel");
    if rows == MR && cols == NR {
        assert!(c.len() >= (MR - 1) * ldc + NR, "C tile out of bounds");
        full(c, ldc, accumulate);
    } else {
        let mut scratch = [0.0f64; MAX_SCRATCH_TILE];
        let tile = &mut scratch[..MR * NR];
        full(tile, NR, false);
        write_tile(tile, NR, c, ldc, rows, cols, accumulate);
    }
}

/// Writes the top-left `rows x cols` part of a full `MR x NR` tile (row
/// stride `nr`) into `c` (row stride `ldc`); the partial-tile path shared by
/// every microkernel.
pub(crate) fn write_tile(
    tile: &[f64],
    nr: usize,
    c: &mut [f64],
    ldc: usize,
    rows: usize,
    cols: usize,
    accumulate: bool,
) {
    for r in 0..rows {
        let src = &tile[r * nr..r * nr + cols];
        let dst = &mut c[r * ldc..r * ldc + cols];
        if accumulate {
            for (d, s) in dst.iter_mut().zip(src) {
                *d += s;
            }
        } else {
            dst.copy_from_slice(src);
        }
    }
}
