#!/usr/bin/env bash
# Follows the README's first-run steps as they are written, in a fresh clone of
# this repository, and checks that the coordinator they start answers /health.
#
# The steps are read from the README (the ```sh block after the
# "<!-- first-run -->" marker) and run in an empty folder with bash, with two
# substitutions it prints: REPO_URL is this repository, and the port 8080 is
# FIRST_RUN_PORT (default: 8080 when free, else a free port). It fails when the
# steps end, when /health does not answer within FIRST_RUN_TIMEOUT_SECS (2400),
# or when they print nothing for the first FIRST_OUTPUT_SECS (20): a newcomer
# must see progress while the first build runs. The output is shown with the
# seconds since the start, so the log says how long the first run took.
#
# FIRST_RUN_TARGET_DIR: cargo's target folder for the clone (default: the
# clone's own, so everything is built from nothing, as for a newcomer; CI sets
# it to this checkout's target folder to reuse the dependencies built there).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
timeout_secs="${FIRST_RUN_TIMEOUT_SECS:-2400}"
first_output_secs="${FIRST_OUTPUT_SECS:-20}"

say() { printf 'first-run: %s\n' "$*"; }

steps="$(awk '/<!-- first-run -->/ { marked = 1; next }
  marked && /^```sh/ { inside = 1; next }
  inside && /^```/ { exit }
  inside { print }' "$root/README.md")"
[ -n "$steps" ] || { say "the README has no first-run block (<!-- first-run --> then a \`\`\`sh block)"; exit 1; }

# A port nothing answers on (bash's /dev/tcp: no connection means free).
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port="${FIRST_RUN_PORT:-}"
if [ -z "$port" ]; then
  port=8080
  while ! port_free "$port"; do port=$((20000 + RANDOM % 40000)); done
fi

work="$(mktemp -d)"
log="$work/first-run.log"
server_pid=""
cleanup() {
  # Only the process group started here.
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM -- "-$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

script="${steps//8080/$port}"
say "in $work, with REPO_URL=$root and port $port, running the README's steps:"
printf '%s\n' "$script" | sed 's/^/    /'

export REPO_URL="$root"
if [ -n "${FIRST_RUN_TARGET_DIR:-}" ]; then
  export CARGO_TARGET_DIR="$FIRST_RUN_TARGET_DIR"
  say "cargo builds into $CARGO_TARGET_DIR"
else
  unset CARGO_TARGET_DIR
fi

started=$SECONDS
# A session of its own (setsid, which here execs without forking: $! is its id and
# its process group), so that it and everything it starts stop together.
: >"$log"
cd "$work"
setsid bash -euo pipefail -c "$script" >>"$log" 2>&1 </dev/null &
server_pid=$!
cd "$root"

# Shows the lines printed since the last call, with the seconds since the start.
shown=0
first_seen=""
show_log() {
  local total
  total="$(wc -l <"$log")"
  if [ "$total" -gt "$shown" ]; then
    [ -n "$first_seen" ] || first_seen=$((SECONDS - started))
    tail -n "+$((shown + 1))" "$log" | head -n "$((total - shown))" | sed "s/^/[$((SECONDS - started)) s] /"
    shown="$total"
  fi
}

while :; do
  show_log
  elapsed=$((SECONDS - started))
  if curl -fsS --max-time 5 "http://127.0.0.1:$port/health" 2>/dev/null | grep -q '"status":"ok"'; then
    show_log
    say "GET /health answered {\"status\":\"ok\"} ${elapsed} s after the start"
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    show_log
    say "the steps ended before /health answered"
    exit 1
  fi
  if [ -z "$first_seen" ] && [ "$elapsed" -ge "$first_output_secs" ]; then
    say "nothing printed in the first ${first_output_secs} s of the first run"
    exit 1
  fi
  if [ "$elapsed" -ge "$timeout_secs" ]; then
    say "no answer from /health after ${timeout_secs} s"
    exit 1
  fi
  sleep 1
done

say "first output after ${first_seen} s: $(head -n 1 "$log")"
