#!/usr/bin/env bash
# Starts the coordinator on PORT (default 8080), serving this repository's
# webserver/ folder. Builds what is missing first. Extra flags after PORT go
# to the coordinator and win over the defaults set here (see
# `target/release/coordinator --help`).
#   ./run-coordinator.sh [PORT] [FLAGS...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PORT=8080
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    PORT="$1"
    shift
fi

if [ ! -f "$ROOT/webserver/pkg/kernel_best.js" ] && [ -f "$ROOT/compile-wasm.sh" ]; then
    echo "building the browser kernel (webserver/pkg/) ..." >&2
    if ! bash "$ROOT/compile-wasm.sh"; then
        echo "warning: compile-wasm.sh failed; the browser pages will lack the kernel" >&2
    fi
fi

# cargo rebuilds only what changed; with nothing to do it returns at once.
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" -p coordinator --bin coordinator

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
# Tasks and results are kept in data/ (git ignores it): stop and start again,
# and they are still there. --in-memory keeps nothing; --data-dir DIR elsewhere.
exec "$TARGET_DIR/release/coordinator" "$PORT" --static-dir "$ROOT/webserver" \
    --data-dir "$ROOT/data" "$@"
