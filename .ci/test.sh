#!/usr/bin/env bash
# The project's one test command: installs what the tests need on a fresh
# machine, then runs every test (Rust unit, integration and wasmtime tests;
# the OpenAPI description fuzzed against the real binary; the browser
# end-to-end tests in headless Chromium).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf '\n== %s ==\n' "$*"; }

step "toolchain"
rustup target list --installed | grep -qx wasm32-unknown-unknown \
  || rustup target add wasm32-unknown-unknown
rustup component list --installed | grep -q '^clippy' || rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt

step "test tools"
apt_install() {
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@"
}
# promtool (Debian's prometheus package) checks the /metrics scrapes of
# coordinator/tests/watch.rs; python3-venv holds schemathesis for the API fuzzing;
# redis-server and nginx run under the cluster tests (coordinator/tests/cluster.rs,
# which start their own) and redis-server under the Dana wire replay on Redis below.
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing+=(nginx)
python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
# ip and tc build the test bed's network namespaces and shape its links.
command -v tc >/dev/null 2>&1 || missing+=(iproute2)
[ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust tests"
# The hostile-client suites run on their own below, where their tables show.
cargo test --workspace --locked -- --skip hostile_edge_suite --skip hostile_domain_suite

step "Dana wire replay, API and verification suites against coordinators on Redis"
# A redis-server of this step's own, on a free port with a temporary folder
# and no persistence; stopped however the step ends.
redis_dir="$(mktemp -d)"
redis_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --databases 512 --dir "$redis_dir" --daemonize yes --pidfile "$redis_dir/redis.pid" >/dev/null
stop_redis() {
  [ -f "$redis_dir/redis.pid" ] && kill "$(cat "$redis_dir/redis.pid")" 2>/dev/null || true
  rm -rf "$redis_dir"
}
trap stop_redis EXIT
for _ in $(seq 50); do
  redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break
  sleep 0.1
done
# The API and verification suites print the few tests they cannot run on
# Redis, and why.
COORDINATOR_TEST_REDIS="redis://127.0.0.1:$redis_port" \
  cargo test -p coordinator --locked --test dana_wire --test api --test verified -- --nocapture
stop_redis
trap - EXIT

step "hostile clients at the HTTP edge"
cargo test -p coordinator --locked --test hostile_edge -- --nocapture

step "hostile clients against the task rules"
cargo test -p coordinator --locked --test hostile_domain -- --nocapture

for target in request_path dana_text operand_scan result_check packed_product; do
  step "fuzz: $target, 30 s"
  coordinator/fuzz/run.sh "$target" 30
done

step "API fuzzing (schemathesis against the real binary)"
coordinator/tests/api-fuzz/run.sh

step "browser end-to-end tests"
webserver/tests/run-e2e.sh

step "test bed: home links, n = 512, two worker hosts, plain and lean wire"
webserver/tests/bed/bed.sh ci
