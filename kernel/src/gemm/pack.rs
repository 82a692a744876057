//! Packing blocks of `A` and `B` into the panel layouts the microkernels read
//! sequentially, padding partial panels with zeros, and converting integer
//! operands to `f64` on the way (the exact integer path).

/// A matrix element that packs into `f64`.
pub(crate) trait Element: Copy {
    /// The value as `f64` (exact for integers below 2^53).
    fn to_f64(self) -> f64;
}

impl Element for f64 {
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
}

impl Element for i64 {
    #[inline]
    #[allow(clippy::cast_precision_loss)]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

/// Packs `A[ic..ic+mb, pc..pc+kb]` (row stride `lda`) into `dst` as
/// `ceil(mb / mr)` panels; panel `ip` holds, for each `p` in `0..kb`, the `mr`
/// values `A[ic + ip*mr + i, pc + p]` (zero past the last row).
#[allow(clippy::too_many_arguments)]
pub(super) fn pack_a<S: Element>(
    dst: &mut [f64],
    a: &[S],
    lda: usize,
    ic: usize,
    mb: usize,
    pc: usize,
    kb: usize,
    mr: usize,
) {
    for (ip, panel) in dst
        .chunks_exact_mut(mr * kb)
        .take(mb.div_ceil(mr))
        .enumerate()
    {
        let row0 = ic + ip * mr;
        let rows = mr.min(ic + mb - row0);
        #[cfg(target_arch = "wasm32")]
        if rows == 4 && mr == 4 {
            pack_a_full::<S, 4>(panel, a, lda, row0, pc, kb);
            continue;
        }
        for i in 0..mr {
            if i < rows {
                let src = &a[(row0 + i) * lda + pc..(row0 + i) * lda + pc + kb];
                for (p, &value) in src.iter().enumerate() {
                    panel[p * mr + i] = value.to_f64();
                }
            } else {
                for p in 0..kb {
                    panel[p * mr + i] = 0.0;
                }
            }
        }
    }
}

/// Packs `B[pc..pc+kb, jc..jc+nb]` (row stride `ldb`) into `dst` as
/// `ceil(nb / nr)` panels; panel `jp` holds, for each `p` in `0..kb`, the `nr`
/// values `B[pc + p, jc + jp*nr + j]` (zero past the last column).
#[allow(clippy::too_many_arguments)]
pub(super) fn pack_b<S: Element>(
    dst: &mut [f64],
    b: &[S],
    ldb: usize,
    pc: usize,
    kb: usize,
    jc: usize,
    nb: usize,
    nr: usize,
) {
    for (jp, panel) in dst
        .chunks_exact_mut(nr * kb)
        .take(nb.div_ceil(nr))
        .enumerate()
    {
        let col0 = jc + jp * nr;
        let cols = nr.min(jc + nb - col0);
        #[cfg(target_arch = "wasm32")]
        if cols == 4 && nr == 4 {
            pack_b_full::<S, 4>(panel, b, ldb, pc, col0);
            continue;
        }
        for (p, group) in panel.chunks_exact_mut(nr).enumerate() {
            let src = &b[(pc + p) * ldb + col0..(pc + p) * ldb + col0 + cols];
            for (slot, &value) in group[..cols].iter_mut().zip(src) {
                *slot = value.to_f64();
            }
            group[cols..].fill(0.0);
        }
    }
}

/// One whole `N`-row panel of `A` (see [`pack_a`]). The fixed height lets
/// the compiler unroll each group into straight loads and stores; on wasm32
/// the generic loop over a run-time `mr` made packing about a twelfth of a
/// 256 x 256 product, this brings it to a few percent.
#[cfg(target_arch = "wasm32")]
fn pack_a_full<S: Element, const N: usize>(
    panel: &mut [f64],
    a: &[S],
    lda: usize,
    row0: usize,
    pc: usize,
    kb: usize,
) {
    let rows: [&[S]; N] = core::array::from_fn(|i| &a[(row0 + i) * lda + pc..][..kb]);
    let (groups, _) = panel.as_chunks_mut::<N>();
    for (p, group) in groups.iter_mut().take(kb).enumerate() {
        for (slot, row) in group.iter_mut().zip(&rows) {
            *slot = row[p].to_f64();
        }
    }
}

/// One whole `N`-column panel of `B` (see [`pack_b`]), unrolled like
/// [`pack_a_full`]: one bounds check and no zero fill per group.
#[cfg(target_arch = "wasm32")]
fn pack_b_full<S: Element, const N: usize>(
    panel: &mut [f64],
    b: &[S],
    ldb: usize,
    pc: usize,
    col0: usize,
) {
    let (groups, _) = panel.as_chunks_mut::<N>();
    for (p, group) in groups.iter_mut().enumerate() {
        let start = (pc + p) * ldb + col0;
        for (slot, &value) in group.iter_mut().zip(&b[start..start + N]) {
            *slot = value.to_f64();
        }
    }
}
