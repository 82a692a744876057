#!/usr/bin/env bash
# Starts the coordinator on PORT (default 8080), serving this repository's
# webserver/ folder. Builds what is missing first, saying what it builds (the
# first run compiles the browser kernel and the server: several minutes, with
# cargo's progress on the terminal). Extra flags after PORT go to the
# coordinator and win over the defaults set here (see
# `target/release/coordinator --help`, or the README's Configuration).
#   ./run-coordinator.sh [PORT] [FLAGS...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PORT=8080
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    PORT="$1"
    shift
fi

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
started=$SECONDS

if [ ! -f "$ROOT/webserver/pkg/kernel_best.js" ] && [ -f "$ROOT/compile-wasm.sh" ]; then
    echo "run-coordinator: first run: building the browser kernel (webserver/pkg/), then the server;" \
        "this takes several minutes, progress follows" >&2
    if ! bash "$ROOT/compile-wasm.sh" >&2; then
        echo "run-coordinator: warning: compile-wasm.sh failed; the browser pages will lack the kernel" >&2
    fi
fi

# cargo rebuilds only what changed (with nothing to do it returns at once) and
# shows its progress while it builds.
if [ ! -x "$TARGET_DIR/release/coordinator" ]; then
    echo "run-coordinator: building the coordinator (release) ..." >&2
fi
cargo build --release --manifest-path "$ROOT/Cargo.toml" -p coordinator --bin coordinator
if [ $((SECONDS - started)) -gt 5 ]; then
    echo "run-coordinator: built in $((SECONDS - started)) s; starting the coordinator on port $PORT" >&2
fi

# Tasks and results are kept in data/ (git ignores it): stop and start again,
# and they are still there. --in-memory keeps nothing; --data-dir DIR elsewhere.
exec "$TARGET_DIR/release/coordinator" "$PORT" --static-dir "$ROOT/webserver" \
    --data-dir "$ROOT/data" "$@"
