//! The portable microkernel: plain Rust over fixed-size arrays, which the
//! compiler vectorises for whatever the target offers (SSE2 on any x86-64).

use super::{MicroKernel, write_tile};

const MR: usize = 4;
const NR: usize = 8;

/// The portable kernel; always available.
#[derive(Debug, Clone, Copy)]
pub(super) struct Portable;

impl MicroKernel for Portable {
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
        let mut acc = [[0.0f64; NR]; MR];
        for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(NR)).take(kc) {
            for (row, &av) in acc.iter_mut().zip(ap) {
                for (cell, &bv) in row.iter_mut().zip(bp) {
                    *cell += av * bv;
                }
            }
        }
        write_tile(acc.as_flattened(), NR, c, ldc, rows, cols, accumulate);
    }
}
