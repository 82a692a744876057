#!/usr/bin/env bash
# The project's one test command: installs what the tests need on a fresh
# machine, then runs every test (Rust unit, integration and wasmtime tests;
# the browser end-to-end tests in headless Chromium).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf '\n== %s ==\n' "$*"; }

step "toolchain"
rustup target list --installed | grep -qx wasm32-unknown-unknown \
  || rustup target add wasm32-unknown-unknown
rustup component list --installed | grep -q '^clippy' || rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust tests"
# The hostile-client suite runs on its own below, where its table shows.
cargo test --workspace --locked -- --skip hostile_edge_suite

step "hostile clients at the HTTP edge"
cargo test -p coordinator --locked --test hostile_edge -- --nocapture

step "fuzz: request path, 60 s"
coordinator/fuzz/run.sh request_path 60

step "browser end-to-end tests"
webserver/tests/run-e2e.sh
