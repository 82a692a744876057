//! The matrix-multiply core shared by the coordinator, the browser worker
//! (wasm32) and the wasmtime checks.
//!
//! One Rust implementation computes every product in the project: the server
//! uses it natively to verify results, the browser worker runs the same code
//! compiled to wasm32 with `simd128`, and the wasmtime checks run that wasm
//! build beside the native one to prove they agree.
//!
//! Integer products are exact with 64-bit (`i64`) semantics, as Dana `int`
//! under `-chip 64`; a product that does not fit is an error, never a silently
//! wrapped value. Floating point products follow IEEE 754 `f64` arithmetic in
//! a blocked summation order.
//!
//! # Layout
//! Modules use each other in one direction only (no cycles): `verify` uses
//! `text`, which uses `value` (the reader returns an [`AnyMatrix`]), which
//! uses `exact` (over `dot16` and `gemm`) and the `f64` [`multiply`] over
//! `gemm`, which use `matrix` and `error`. [`multiply_text`] (text in, text out) and the bindings sit
//! above them all.
//! - [`matrix`]: the [`Matrix`] type (rows, cols, one row-major buffer).
//! - [`error`]: [`MatrixError`], every way an input or a product can be wrong.
//! - [`naive`]: the textbook triple loops, the reference the tests compare to.
//! - [`gemm`]: the cache-blocked, packed `f64` multiply and its microkernels,
//!   one per instruction set, chosen at run time with a portable fallback.
//! - `dot16` (inside the crate only: it cuts values it was not meant for):
//!   exact products of small integers (values within ±32767, sums within
//!   `i32`) through 16-bit dot products, the fastest path on wasm32.
//! - [`exact`]: exact integer multiplication (16-bit dot products or an
//!   `f64` shortcut when a bound proves them exact, integer kernels
//!   otherwise).
//! - [`value`]: [`AnyMatrix`], a matrix of integers or of floats as read from
//!   text, and its product.
//! - [`text`]: parsing and writing the Dana matrix text `[[1,2],[3,4]]` (and
//!   JSON arrays, which share the form) without nested vectors, and finding
//!   its rows without reading numbers ([`text::row_spans`]).
//! - [`packed`]: the packed binary form of an integer matrix that worker
//!   pages post products in (about 3 bytes a value against 7 in text), and
//!   its Dana text back.
//! - [`verify`]: Freivalds' check of a claimed product in `O(n^2)`, exact for
//!   integers, with a rounding-error tolerance for floats.
//! - `testdata` (hidden): deterministic test and benchmark data, one
//!   generator for the tests, the benchmarks and the wasm checks.
//! - `ffi`: a plain C ABI (`extern "C"`, no imports) for wasmtime and native FFI.
//! - `wasm` (wasm32 only, feature `js`): the `wasm-bindgen` exports for the
//!   browser worker.
//! - the crate root: [`multiply`] and [`multiply_text`], the product every
//!   worker computes.

mod dot16;
pub mod error;
pub mod exact;
pub mod ffi;
pub mod gemm;
pub mod matrix;
pub mod naive;
pub mod packed;
#[doc(hidden)]
pub mod testdata;
pub mod text;
pub mod value;
pub mod verify;
#[cfg(all(target_arch = "wasm32", feature = "js"))]
pub mod wasm;

pub use error::MatrixError;
pub use exact::multiply_exact;
pub use matrix::Matrix;
pub use value::AnyMatrix;

/// Multiplies two `f64` matrices with the fastest kernel this CPU supports.
///
/// # Errors
/// [`MatrixError::ShapeMismatch`] when `a.cols() != b.rows()`.
pub fn multiply(a: &Matrix<f64>, b: &Matrix<f64>) -> Result<Matrix<f64>, MatrixError> {
    MatrixError::check_shapes(a.rows(), a.cols(), b.rows(), b.cols())?;
    let mut out = vec![0.0; a.rows() * b.cols()];
    gemm::gemm_f64(a.rows(), a.cols(), b.cols(), a.data(), b.data(), &mut out);
    Matrix::new(a.rows(), b.cols(), out)
}

/// Multiplies two matrices given as Dana text (or JSON array text) and
/// returns the product as Dana text: `multiply_text("[[1,2],[3,4]]",
/// "[[5,6],[7,8]]")` is `"[[19,22],[43,50]]"`.
///
/// # Errors
/// Any [`MatrixError`]: bad text, an empty or ragged matrix, mismatched
/// shapes, integer overflow, or a float product that is not finite.
pub fn multiply_text(a: &str, b: &str) -> Result<String, MatrixError> {
    let a = text::parse(a)?;
    let b = text::parse(b)?;
    a.multiply(b)?.to_text()
}

/// A short description of the instruction set the `f64` kernel uses here,
/// such as `"x86_64 avx512f"` or `"wasm32 simd128"`.
#[must_use]
pub fn kernel_info() -> String {
    gemm::selected_kernel_name().to_owned()
}
