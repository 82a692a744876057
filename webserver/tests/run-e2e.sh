#!/usr/bin/env bash
# Browser end-to-end tests of the worker page and the main app.
#
# Installs what is missing (Chromium, nginx and openssl from Debian, Node.js, the
# npm packages of webserver/tests), builds what the tests run (release coordinator,
# the kernel's `multiply` example, the wasm package), then runs `node --test`.
# Chromium is driven through playwright-core over its own DevTools pipe, so no
# chromedriver is needed; nginx serves the README's reverse-proxy block.
# Screenshots go to target/screenshots/ (SCREENSHOT_DIR), coordinator logs to
# target/e2e-logs/ (E2E_LOG_DIR). Extra arguments are passed to `node --test`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

apt_install() {
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@"
}

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "e2e: installing ${missing[*]}"
  apt_install "${missing[@]}"
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "e2e: warning: Node.js $node_major found; playwright-core wants 20 or newer" >&2
fi

echo "e2e: npm packages"
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

echo "e2e: building the coordinator, the native reference and the wasm kernel"
cargo build --release -p coordinator --bin coordinator
cargo build --release -p kernel --example multiply
./compile-wasm.sh
target_dir="${CARGO_TARGET_DIR:-$root/target}"
export COORDINATOR_BIN="${COORDINATOR_BIN:-$target_dir/release/coordinator}"
export MULTIPLY_BIN="${MULTIPLY_BIN:-$target_dir/release/examples/multiply}"

echo "e2e: running the browser tests"
exec node --test --test-concurrency=1 "$@" \
  "$here/unit.test.mjs" "$here/client.test.mjs" "$here/workers.test.mjs" "$here/main-app.test.mjs" "$here/lease.test.mjs" "$here/resilience.test.mjs" \
  "$here/adversarial.test.mjs" "$here/dashboard.test.mjs" "$here/tabs.test.mjs" "$here/large-products.test.mjs" "$here/stragglers.test.mjs" "$here/proxy.test.mjs"
