#!/usr/bin/env bash
# Builds the browser worker's matrix kernel:
#   1. the `kernel` crate for wasm32-unknown-unknown, release, with simd128;
#   2. wasm-bindgen --target web (through the kernel-bindgen helper, pinned to
#      the kernel's wasm-bindgen version) into webserver/pkg/ (kernel.js,
#      kernel_bg.wasm);
#   3. a variant built with relaxed-simd as well (f64x2.relaxed_madd, fused
#      multiply-adds), webserver/pkg/kernel_relaxed_bg.wasm, which shares
#      kernel.js; webserver/pkg/kernel_best.js loads it where the engine
#      accepts it and kernel_bg.wasm otherwise;
#   4. the same crate as a plain C-ABI module with no imports plus the
#      matrixmultiply baseline, webserver/pkg/kernel_ffi.wasm (used by
#      kernel/bench/wasm-node.mjs);
#   5. the Dana sources in dana/ for Dana's WebAssembly runtime when `dnc` is
#      on PATH (-os ubc -chip 32), otherwise says it skipped them.
# Respects CARGO_TARGET_DIR; otherwise uses the workspace's target directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
WASM_TARGET=wasm32-unknown-unknown
PKG_DIR="$ROOT/webserver/pkg"

if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
    TARGET_DIR="$CARGO_TARGET_DIR"
else
    TARGET_DIR="$(cargo metadata --format-version 1 --no-deps |
        sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
fi
[[ -n "$TARGET_DIR" ]] || { echo "compile-wasm: cannot find the cargo target directory" >&2; exit 1; }

if ! rustup target list --installed 2>/dev/null | grep -qx "$WASM_TARGET"; then
    echo "compile-wasm: installing the $WASM_TARGET target"
    rustup target add "$WASM_TARGET"
fi

# simd128 only for the wasm32 target, never for host code or build scripts.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128"
RAW_WASM="$TARGET_DIR/$WASM_TARGET/release/kernel.wasm"

echo "compile-wasm: building kernel for $WASM_TARGET (simd128, release)"
cargo build -p kernel --lib --release --target "$WASM_TARGET"
mkdir -p "$PKG_DIR"
echo "compile-wasm: running wasm-bindgen --target web into webserver/pkg/"
cargo run -p kernel-bindgen -- "$RAW_WASM" "$PKG_DIR"

echo "compile-wasm: building the relaxed-simd variant (fused multiply-adds)"
RELAXED_DIR="$TARGET_DIR/wasm-relaxed"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128,+relaxed-simd" \
    cargo build -p kernel --lib --release --target "$WASM_TARGET" --target-dir "$RELAXED_DIR"
rm -rf "$RELAXED_DIR/pkg" "$PKG_DIR/kernel_relaxed_bg.wasm"
cargo run -p kernel-bindgen -- "$RELAXED_DIR/$WASM_TARGET/release/kernel.wasm" "$RELAXED_DIR/pkg"
# kernel_best.js always ships: without kernel_relaxed_bg.wasm it loads kernel_bg.wasm.
cp "$ROOT/kernel/js/kernel_best.js" "$PKG_DIR/kernel_best.js"
if cmp -s "$RELAXED_DIR/pkg/kernel.js" "$PKG_DIR/kernel.js"; then
    cp "$RELAXED_DIR/pkg/kernel_bg.wasm" "$PKG_DIR/kernel_relaxed_bg.wasm"
else
    echo "compile-wasm: warning: the relaxed-simd glue differs from kernel.js; not shipping it" >&2
fi

echo "compile-wasm: building the C-ABI module (no imports) with the baseline"
cargo build -p kernel --lib --release --target "$WASM_TARGET" --no-default-features --features baseline
cp "$RAW_WASM" "$PKG_DIR/kernel_ffi.wasm"

if command -v dnc >/dev/null 2>&1; then
    echo "compile-wasm: compiling dana/ for Dana's WebAssembly runtime (-os ubc -chip 32)"
    (
        cd "$ROOT/dana"
        mkdir -p wasm_output/coordinator wasm_output/app
        dnc coordinator/Coordinator.dn -os ubc -chip 32 -o wasm_output/coordinator/Coordinator.o
        dnc app/mainWasm.dn -os ubc -chip 32 -o wasm_output/app/mainWasm.o
        dnc app/MainAppLoop.dn -os ubc -chip 32 -o wasm_output/app/MainAppLoop.o
        dnc app/mainLoop.dn -os ubc -chip 32 -o wasm_output/app/mainLoop.o
    )
else
    echo "compile-wasm: dnc not on PATH, skipped compiling dana/"
fi

ls -l "$PKG_DIR"
echo "compile-wasm: done"
