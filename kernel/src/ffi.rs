//! A plain C ABI over the core, with no imports when built for wasm32: the
//! interface wasmtime (and any native FFI caller) uses.
//!
//! Memory is the caller's: it allocates buffers with [`kernel_alloc`], fills
//! them, calls a multiply, reads the result and frees with [`kernel_free`].
//! Every function returns a status code (`KERNEL_*`).
#![allow(unsafe_code)]

use std::alloc::{Layout, alloc, dealloc};

use crate::{MatrixError, exact, gemm};

/// Success.
pub const KERNEL_OK: i32 = 0;
/// The shapes do not multiply, or a size is zero or too large.
pub const KERNEL_BAD_SHAPE: i32 = 1;
/// An element of an integer product does not fit in 64 bits.
pub const KERNEL_OVERFLOW: i32 = 2;
/// A null pointer was passed, or the text was not a valid matrix.
pub const KERNEL_BAD_INPUT: i32 = 3;

/// Alignment of every [`kernel_alloc`] buffer (enough for `f64`, `i64` and
/// SIMD loads).
const ALIGN: usize = 16;

/// Allocates `bytes` bytes aligned to 16; null when `bytes` is 0 or memory
/// is exhausted.
#[unsafe(no_mangle)]
pub extern "C" fn kernel_alloc(bytes: usize) -> *mut u8 {
    match Layout::from_size_align(bytes, ALIGN) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) if bytes > 0 => unsafe { alloc(layout) },
        _ => std::ptr::null_mut(),
    }
}

/// Frees a buffer from [`kernel_alloc`].
///
/// # Safety
/// `ptr` must come from `kernel_alloc(bytes)` with the same `bytes`, and not
/// be used afterwards. Null is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kernel_free(ptr: *mut u8, bytes: usize) {
    if let (false, Ok(layout)) = (ptr.is_null(), Layout::from_size_align(bytes, ALIGN)) {
        // SAFETY: the caller guarantees `ptr` was allocated with this layout.
        unsafe { dealloc(ptr, layout) };
    }
}

/// Which kernel [`kernel_multiply_f64`] uses: the index in
/// [`gemm::Isa::ALL`] (0 AVX-512, 1 AVX2+FMA, 2 simd128, 3 portable).
#[unsafe(no_mangle)]
pub extern "C" fn kernel_isa() -> u32 {
    let best = gemm::Isa::best();
    gemm::Isa::ALL
        .iter()
        .position(|&isa| isa == best)
        .map_or(u32::MAX, |i| i as u32)
}

/// Builds a slice from a caller's pointer, checking null and size overflow.
///
/// # Safety
/// A non-null `ptr` must point to `len` initialised values that stay valid and
/// unaliased by writes for `'a`.
unsafe fn slice_in<'a, T>(ptr: *const T, len: usize) -> Option<&'a [T]> {
    if len == 0 {
        return Some(&[]);
    }
    if ptr.is_null() || len.checked_mul(size_of::<T>())? > isize::MAX as usize {
        return None;
    }
    // SAFETY: non-null, and the caller guarantees `len` valid values.
    Some(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Like [`slice_in`] for an output buffer.
///
/// # Safety
/// A non-null `ptr` must point to `len` values that only this call uses.
unsafe fn slice_out<'a, T>(ptr: *mut T, len: usize) -> Option<&'a mut [T]> {
    if len == 0 {
        return Some(&mut []);
    }
    if ptr.is_null() || len.checked_mul(size_of::<T>())? > isize::MAX as usize {
        return None;
    }
    // SAFETY: non-null, and the caller guarantees exclusive access to `len` values.
    Some(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// The element counts `m*k`, `k*n`, `m*n`, when none overflows.
fn sizes(m: usize, k: usize, n: usize) -> Option<(usize, usize, usize)> {
    Some((m.checked_mul(k)?, k.checked_mul(n)?, m.checked_mul(n)?))
}

/// `c = a * b` in `f64` for a row-major `m x k` matrix `a` and `k x n`
/// matrix `b`; writes all `m * n` values of `c`.
///
/// # Safety
/// `a`, `b` and `c` must point to `m*k`, `k*n` and `m*n` `f64` values; `c`
/// must not overlap `a` or `b`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kernel_multiply_f64(
    a: *const f64,
    m: usize,
    k: usize,
    b: *const f64,
    n: usize,
    c: *mut f64,
) -> i32 {
    let Some((a_len, b_len, c_len)) = sizes(m, k, n) else {
        return KERNEL_BAD_SHAPE;
    };
    // SAFETY: the caller guarantees the buffer sizes.
    let buffers = unsafe { (slice_in(a, a_len), slice_in(b, b_len), slice_out(c, c_len)) };
    let (Some(a), Some(b), Some(c)) = buffers else {
        return KERNEL_BAD_INPUT;
    };
    gemm::gemm_f64(m, k, n, a, b, c);
    KERNEL_OK
}

/// `c = a * b` exactly in `i64` (see [`exact::multiply_exact`]); on
/// [`KERNEL_OVERFLOW`] the contents of `c` are unspecified.
///
/// # Safety
/// As [`kernel_multiply_f64`], with `i64` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kernel_multiply_i64(
    a: *const i64,
    m: usize,
    k: usize,
    b: *const i64,
    n: usize,
    c: *mut i64,
) -> i32 {
    let Some((a_len, b_len, c_len)) = sizes(m, k, n) else {
        return KERNEL_BAD_SHAPE;
    };
    // SAFETY: the caller guarantees the buffer sizes.
    let buffers = unsafe { (slice_in(a, a_len), slice_in(b, b_len), slice_out(c, c_len)) };
    let (Some(a), Some(b), Some(c)) = buffers else {
        return KERNEL_BAD_INPUT;
    };
    let product = crate::Matrix::new(m, k, a.to_vec())
        .and_then(|a| Ok((a, crate::Matrix::new(k, n, b.to_vec())?)))
        .and_then(|(a, b)| exact::multiply_exact(&a, &b));
    match product {
        Ok(product) => {
            c.copy_from_slice(product.data());
            KERNEL_OK
        }
        Err(error) => status_of(&error),
    }
}

/// Multiplies two matrices given as UTF-8 Dana text. On return `*out_ptr`
/// and `*out_len` describe a [`kernel_alloc`] buffer (free it with
/// [`kernel_free`]) holding the product's text on [`KERNEL_OK`], or the error
/// message otherwise.
///
/// # Safety
/// `a` and `b` must point to `a_len` and `b_len` bytes; `out_ptr` and
/// `out_len` must be valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kernel_multiply_text(
    a: *const u8,
    a_len: usize,
    b: *const u8,
    b_len: usize,
    out_ptr: *mut *mut u8,
    out_len: *mut usize,
) -> i32 {
    if out_ptr.is_null() || out_len.is_null() {
        return KERNEL_BAD_INPUT;
    }
    // SAFETY: the caller guarantees the buffer sizes.
    let (a, b) = unsafe { (slice_in(a, a_len), slice_in(b, b_len)) };
    let result = match (a.map(std::str::from_utf8), b.map(std::str::from_utf8)) {
        (Some(Ok(a)), Some(Ok(b))) => crate::multiply_text(a, b),
        _ => Err(MatrixError::Syntax {
            offset: 0,
            expected: "UTF-8 text",
            found: "invalid bytes".to_owned(),
        }),
    };
    let (status, text) = match result {
        Ok(text) => (KERNEL_OK, text),
        Err(error) => (status_of(&error), error.to_string()),
    };
    let ptr = kernel_alloc(text.len().max(1));
    if ptr.is_null() {
        return KERNEL_BAD_INPUT;
    }
    // SAFETY: `ptr` holds at least `text.len()` bytes; the out pointers are
    // valid for writes (checked non-null, guaranteed by the caller).
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), ptr, text.len());
        *out_ptr = ptr;
        *out_len = text.len();
    }
    status
}

/// The status code for an error.
fn status_of(error: &MatrixError) -> i32 {
    match error {
        MatrixError::ShapeMismatch { .. } | MatrixError::DataLength { .. } => KERNEL_BAD_SHAPE,
        MatrixError::Overflow { .. } => KERNEL_OVERFLOW,
        _ => KERNEL_BAD_INPUT,
    }
}

/// `c = a * b` with the `matrixmultiply` crate's `dgemm`, the baseline the
/// wasm benchmarks compare this kernel against (feature `baseline`).
///
/// # Safety
/// As [`kernel_multiply_f64`].
#[cfg(feature = "baseline")]
#[unsafe(no_mangle)]
#[allow(clippy::cast_possible_wrap)]
pub unsafe extern "C" fn kernel_baseline_dgemm(
    a: *const f64,
    m: usize,
    k: usize,
    b: *const f64,
    n: usize,
    c: *mut f64,
) -> i32 {
    if a.is_null() || b.is_null() || c.is_null() || sizes(m, k, n).is_none() {
        return KERNEL_BAD_INPUT;
    }
    // SAFETY: row-major strides of the caller's buffers, whose sizes the
    // caller guarantees; beta = 0 overwrites `c`.
    unsafe {
        matrixmultiply::dgemm(
            m, k, n, 1.0, a, k as isize, 1, b, n as isize, 1, 0.0, c, n as isize, 1,
        );
    }
    KERNEL_OK
}
