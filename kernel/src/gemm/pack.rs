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
        for (p, group) in panel.chunks_exact_mut(nr).enumerate() {
            let src = &b[(pc + p) * ldb + col0..(pc + p) * ldb + col0 + cols];
            for (slot, &value) in group[..cols].iter_mut().zip(src) {
                *slot = value.to_f64();
            }
            group[cols..].fill(0.0);
        }
    }
}
