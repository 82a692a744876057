//! The `wasm-bindgen` exports the browser worker calls; bindings only, every
//! computation is the core's. Errors become JavaScript `Error`s whose message
//! is the [`crate::MatrixError`] text.

use wasm_bindgen::prelude::*;

use crate::{Matrix, MatrixError};

/// Multiplies two matrices given as Dana text or JSON array text and returns
/// the product as Dana text.
///
/// # Errors
/// A JavaScript `Error` naming what was wrong (shape mismatch, ragged rows,
/// empty matrix, not a number, integer overflow...).
#[wasm_bindgen(js_name = multiplyText)]
pub fn multiply_text(a: &str, b: &str) -> Result<String, JsError> {
    crate::multiply_text(a, b).map_err(to_js)
}

/// [`multiply_text`] for texts already encoded as UTF-8 bytes
/// (`TextEncoder.encode`): handing bytes to wasm is one copy, while handing
/// a JavaScript string goes through a character-by-character loop in the
/// generated glue, slower than reading the matrix.
///
/// # Errors
/// As [`multiply_text`], and a JavaScript `Error` for bytes that are not
/// UTF-8.
#[wasm_bindgen(js_name = multiplyTextBytes)]
pub fn multiply_text_bytes(a: &[u8], b: &[u8]) -> Result<String, JsError> {
    multiply_text(utf8(a)?, utf8(b)?)
}

/// [`multiply_text_bytes`] with the product as UTF-8 bytes (a
/// `Uint8Array`), for a caller that sends it on as bytes: no JavaScript
/// string of the product is made.
///
/// # Errors
/// As [`multiply_text_bytes`].
#[wasm_bindgen(js_name = multiplyTextToBytes)]
pub fn multiply_text_to_bytes(a: &[u8], b: &[u8]) -> Result<Vec<u8>, JsError> {
    multiply_text_bytes(a, b).map(String::into_bytes)
}

/// [`multiply_text_bytes`] with the product ready to post: packed
/// ([`crate::packed`]) when it is an integer matrix, its Dana text as UTF-8
/// bytes when it is a float one. A packed product starts with `X`, a text
/// with `[`.
///
/// # Errors
/// As [`multiply_text_bytes`].
#[wasm_bindgen(js_name = multiplyTextToWire)]
pub fn multiply_text_to_wire(a: &[u8], b: &[u8]) -> Result<Vec<u8>, JsError> {
    crate::packed::multiply_text_to_wire(utf8(a)?, utf8(b)?).map_err(to_js)
}

/// Multiplies a row-major `a_rows x a_cols` matrix by a `b_rows x b_cols`
/// one, both as `Float64Array`s, and returns the row-major product.
///
/// # Errors
/// A JavaScript `Error` for mismatched shapes, an empty matrix or an array
/// whose length is not `rows * cols`.
#[wasm_bindgen(js_name = multiplyF64)]
pub fn multiply_f64(
    a: Vec<f64>,
    a_rows: usize,
    a_cols: usize,
    b: Vec<f64>,
    b_rows: usize,
    b_cols: usize,
) -> Result<Vec<f64>, JsError> {
    if a_rows == 0 || a_cols == 0 || b_rows == 0 || b_cols == 0 {
        return Err(to_js(MatrixError::Empty));
    }
    let a = Matrix::new(a_rows, a_cols, a).map_err(to_js)?;
    let b = Matrix::new(b_rows, b_cols, b).map_err(to_js)?;
    Ok(crate::multiply(&a, &b).map_err(to_js)?.into_data())
}

/// The instruction set the kernel uses, e.g. `"wasm32 simd128"`.
#[wasm_bindgen(js_name = kernelInfo)]
#[must_use]
pub fn kernel_info() -> String {
    crate::kernel_info()
}

/// `bytes` as text, or a JavaScript `Error` when they are not UTF-8.
fn utf8(bytes: &[u8]) -> Result<&str, JsError> {
    std::str::from_utf8(bytes).map_err(|e| JsError::new(&format!("not UTF-8 text: {e}")))
}

fn to_js(error: MatrixError) -> JsError {
    JsError::new(&error.to_string())
}
