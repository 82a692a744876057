#!/usr/bin/env bash
# Instructions the coordinator executes per claim-and-answer cycle, counted
# by valgrind's callgrind (an instruction count does not change with how
# busy the machine is, so two builds compare exactly even on a noisy one).
#
#   coordinator/benches/instructions.sh [BASE_REV ...]
#
# Builds the working tree's release binary and, for each BASE_REV, that
# revision's (in a worktree under target/instructions/), runs each with log
# lines off and the state in memory, drives it with
# `cargo run --example cycle_client` (8 connections), and prints
# instructions per cycle with each base's ratio to the working tree's.
# CYCLES sets the cycles per connection (default 250; 50 more warm up first).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
cycles="${CYCLES:-250}"
connections=8
work="$root/target/instructions"
mkdir -p "$work"

if ! command -v valgrind >/dev/null 2>&1; then
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends valgrind
fi

cargo build --release --locked -p coordinator --bin coordinator --example cycle_client
client="$root/target/release/examples/cycle_client"

# build_rev REV: prints the path of REV's release binary.
build_rev() {
  local rev="$1" dir="$work/$1"
  if [ ! -d "$dir" ]; then
    git worktree add --detach "$dir" "$rev" >&2
  fi
  (cd "$dir" && CARGO_TARGET_DIR="$work/target-$rev" cargo build --release -p coordinator --bin coordinator >&2)
  echo "$work/target-$rev/release/coordinator"
}

# count BIN PORT: prints the instructions per cycle of BIN.
count() {
  local bin="$1" port="$2" flags=() out="$work/callgrind.$2"
  "$bin" --help | grep -q -- '--in-memory' && flags+=(--in-memory)
  rm -f "$out"*
  RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$out.%p" \
    "$bin" "$port" --bind 127.0.0.1 --static-dir webserver "${flags[@]}" \
    >"$work/server.$port.log" 2>&1 &
  local pid=$!
  trap 'kill $pid 2>/dev/null || true' RETURN
  for _ in $(seq 120); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.5
  done
  "$client" "127.0.0.1:$port" "$connections" 50 >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  "$client" "127.0.0.1:$port" "$connections" "$cycles" >&2
  callgrind_control -d "$pid" >/dev/null 2>&1
  sleep 1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local dump
  dump="$(ls -t "$out".*.[0-9]* 2>/dev/null | head -n 1)"
  local total
  total="$(grep -h '^summary:' "$dump" | awk '{print $2}')"
  echo $(( total / (connections * cycles) ))
}

port=18700
head_count="$(count "$root/target/release/coordinator" "$port")"
printf '%-24s %10s instructions per cycle\n' "working tree" "$head_count"
for rev in "$@"; do
  port=$((port + 1))
  base="$(count "$(build_rev "$rev")" "$port")"
  awk -v r="$rev" -v b="$base" -v h="$head_count" \
    'BEGIN { printf "%-24s %10d instructions per cycle; working tree / this = %.3f\n", r, b, h / b }'
done
