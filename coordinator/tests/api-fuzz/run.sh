#!/usr/bin/env bash
# Fuzzes the real coordinator binary from its own OpenAPI description with
# schemathesis: every operation, at least MAX_EXAMPLES generated cases where
# the operation's parameters allow that many, every check (no 5xx, every
# answer's status, content type, headers and body match the description,
# invalid input is refused with a 4xx, other methods answer 405 with Allow).
#
# Installs schemathesis from PyPI into a virtual environment under target/
# when it is missing, builds the release binary, starts it on a free port
# with long polls capped at 1 s (so held requests cannot make the run slow),
# and stops it afterwards. `GET /events` is left out: it is a stream that
# does not end, which a fuzzer cannot read to its end
# (`coordinator/tests/watch.rs` reads it).
#
#   coordinator/tests/api-fuzz/run.sh            # what CI runs
#   MAX_EXAMPLES=300 SEED=7 coordinator/tests/api-fuzz/run.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
venv="$target_dir/schemathesis-venv"
version="4.32.5"
max_examples="${MAX_EXAMPLES:-100}"
seed="${SEED:-1}"
report_dir="$target_dir/api-fuzz"

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
  echo "api-fuzz: installing schemathesis $version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$version"
fi

cargo build --release --locked -p coordinator --bin coordinator
mkdir -p "$report_dir"
log="$report_dir/coordinator.log"
"$target_dir/release/coordinator" 0 --bind 127.0.0.1 --max-wait-secs 1 \
  --static-dir "$root/webserver" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
port=""
for _ in $(seq 1 100); do
  port="$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$log" | head -1)"
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "api-fuzz: the coordinator did not start:"; cat "$log"; exit 1; }

echo "api-fuzz: schemathesis $version against 127.0.0.1:$port, $max_examples examples per operation, seed $seed"
# Run from the report folder: schemathesis keeps its cache in `.schemathesis/`
# under the current directory.
cd "$report_dir"
timeout 900 "$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
  --checks all \
  --max-examples "$max_examples" \
  --seed "$seed" \
  --exclude-path /events \
  --request-timeout 10 \
  --generation-database none \
  --no-color \
  --report har,junit --report-dir "$report_dir"

# How many requests each operation got (the HAR report has every one).
python3 - "$report_dir" "$max_examples" <<'PY'
import glob, json, os, re, sys
from collections import Counter
from urllib.parse import urlparse
har = max(glob.glob(os.path.join(sys.argv[1], "har-*.json")), key=os.path.getmtime)
spec_ops = [("POST", "/task"), ("GET", "/task/next"), ("POST", "/task/{id}/result"),
            ("POST", "/task/{id}/release"), ("POST", "/task/{id}/cancel"), ("GET", "/result/{id}"),
            ("GET", "/stats"), ("GET", "/health"), ("GET", "/metrics"), ("GET", "/openapi.json"),
            ("GET", "/operand/{hash}")]
patterns = [(m, p, re.compile("^" + re.sub(r"\{(id|hash)\}", "[^/]*", p) + "$")) for m, p in spec_ops]
counts = Counter()
for entry in json.load(open(har))["log"]["entries"]:
    method, path = entry["request"]["method"], urlparse(entry["request"]["url"]).path
    for m, p, rx in patterns:
        if method == m and rx.match(path):
            counts[f"{m} {p}"] += 1
            break
for m, p, _ in patterns:
    print(f"api-fuzz: {counts[f'{m} {p}']:5d} requests  {m} {p}")
# Operations that take a body or parameters must each have had their examples;
# the others (/stats, /health, /metrics) have a handful of distinct requests.
short = [f"{m} {p}" for m, p in spec_ops[:6] if counts[f"{m} {p}"] < int(sys.argv[2])]
if short:
    sys.exit(f"api-fuzz: fewer than {sys.argv[2]} requests for {', '.join(short)}")
PY
