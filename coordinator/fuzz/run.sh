#!/usr/bin/env bash
# Runs one fuzz target for a number of seconds: ./run.sh TARGET SECONDS.
# Installs cargo-fuzz when it is missing. libFuzzer's instrumentation needs
# a nightly toolchain (the address sanitizer, `-Z` flags); where none is
# installed, the stable toolchain is used with RUSTC_BOOTSTRAP=1 and no
# sanitizer (coverage-guided all the same; panics are still found).
# New inputs go to a scratch folder; the committed corpus only seeds it.
set -euo pipefail
target="${1:?target}"
seconds="${2:-60}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
if cargo +nightly --version >/dev/null 2>&1; then
  toolchain=(+nightly)
  flags=()
else
  echo "no nightly toolchain: fuzzing on stable without a sanitizer"
  export RUSTC_BOOTSTRAP=1
  toolchain=()
  flags=(--sanitizer none)
fi
cargo "${toolchain[@]}" fuzz run "${flags[@]}" "$target" "$scratch" "corpus/$target" \
  -- -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=30
