//! The matrix-multiply core shared by the coordinator, the browser worker
//! (wasm32) and the wasmtime checks.
