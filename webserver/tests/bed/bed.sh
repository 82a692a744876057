#!/usr/bin/env bash
# The test bed: hosts on one machine, each in a network namespace of its own,
# joined by veth pairs to a bridge, with the links shaped in the kernel.
#
#   bed.sh bench [ARGS]   set the bed up, run bench-bed.mjs ARGS in the client's
#                         namespace, tear the bed down (also on Ctrl-C or an error)
#   bed.sh ci             the short version CI runs: the home profile, n = 512,
#                         two worker hosts, both wire modes, products checked
#   bed.sh up | down      set up or tear down by hand
#   bed.sh shape PROFILE  shape every link for PROFILE (bench-bed.mjs calls it)
#   bed.sh counters       bytes through each host's link, as JSON
#
# Hosts (namespace, address): the coordinator (xbed-coord, 10.231.0.1), the
# main app's client (xbed-client, 10.231.0.2), and worker hosts 1 to 3
# (xbed-w1.., 10.231.0.11..). Each has one interface, eth0, whose other end,
# sw-HOST, is a port of bridge br0 in namespace xbed-sw. A host's upload is
# capped on its eth0 and its download on its switch port (tbf: a token bucket
# in the kernel; this machine has no netem). Added round-trip time comes from
# Chromium's own network emulation on each worker page (bench-bed.mjs); the
# coordinator and the client add none. Byte counts are the switch ports'
# counters: what each host sent and received on the wire, headers included.
#
# Profiles (worker hosts' links; the coordinator and the client have 1 Gbit/s
# both ways in all but loopback):
#   loopback    no caps, no added latency (the veth pairs at memory speed)
#   datacenter  1 Gbit/s both ways, no added latency
#   office      100 Mbit/s both ways, 10 ms added to each request
#   home        100 Mbit/s down, 20 Mbit/s up, 30 ms added to each request
#
# Needs root, iproute2 (ip, tc) and the kernel's veth, bridge and sch_tbf.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"

SW=xbed-sw
HOSTS=(coord client w1 w2 w3)
declare -A ADDR=([coord]=10.231.0.1 [client]=10.231.0.2 [w1]=10.231.0.11 [w2]=10.231.0.12 [w3]=10.231.0.13)

ns() { echo "xbed-$1"; }

down() {
  local host
  for host in "${HOSTS[@]}"; do
    ip netns del "$(ns "$host")" 2>/dev/null || true
  done
  ip netns del "$SW" 2>/dev/null || true
}

up() {
  down
  ip netns add "$SW"
  ip -n "$SW" link set lo up
  ip -n "$SW" link add br0 type bridge
  ip -n "$SW" link set br0 up
  local host
  for host in "${HOSTS[@]}"; do
    local name
    name="$(ns "$host")"
    ip netns add "$name"
    ip -n "$name" link set lo up
    ip link add "sw-$host" netns "$SW" type veth peer name eth0 netns "$name"
    ip -n "$SW" link set "sw-$host" master br0
    ip -n "$SW" link set "sw-$host" up
    ip -n "$name" addr add "${ADDR[$host]}/24" dev eth0
    ip -n "$name" link set eth0 up
  done
  echo "bed: up: ${HOSTS[*]} on 10.231.0.0/24 through bridge br0 in $SW" >&2
}

# cap NAMESPACE DEVICE RATE_MBIT: a token bucket on the device's egress (none
# when RATE_MBIT is 0). The bucket holds 10 ms of the rate (at least 64 KiB,
# one segmentation-offload packet) and the queue 50 ms (at least 256 KiB).
cap() {
  local netns="$1" dev="$2" mbit="$3"
  tc -n "$netns" qdisc del dev "$dev" root 2>/dev/null || true
  [ "$mbit" -eq 0 ] && return 0
  local rate=$((mbit * 125000))
  local burst=$((rate / 100)) limit=$((rate / 20))
  [ "$burst" -ge 65536 ] || burst=65536
  [ "$limit" -ge 262144 ] || limit=262144
  tc -n "$netns" qdisc add dev "$dev" root tbf rate "${mbit}mbit" burst "$burst" limit "$limit"
}

# shape PROFILE: caps for every link (see the header).
shape() {
  local down_mbit up_mbit server_mbit
  case "$1" in
    loopback) down_mbit=0 up_mbit=0 server_mbit=0 ;;
    datacenter) down_mbit=1000 up_mbit=1000 server_mbit=1000 ;;
    office) down_mbit=100 up_mbit=100 server_mbit=1000 ;;
    home) down_mbit=100 up_mbit=20 server_mbit=1000 ;;
    *) echo "bed: unknown profile $1 (loopback, datacenter, office, home)" >&2; return 2 ;;
  esac
  local host
  for host in coord client; do
    cap "$(ns "$host")" eth0 "$server_mbit"
    cap "$SW" "sw-$host" "$server_mbit"
  done
  for host in w1 w2 w3; do
    cap "$(ns "$host")" eth0 "$up_mbit"
    cap "$SW" "sw-$host" "$down_mbit"
  done
}

# counters: {"HOST":{"sent":B,"received":B},...} from the switch ports (a
# port receives what its host sends).
counters() {
  local host first=1
  printf '{'
  for host in "${HOSTS[@]}"; do
    local stats="/sys/class/net/sw-$host/statistics"
    local rx tx
    rx="$(ip netns exec "$SW" cat "$stats/rx_bytes")"
    tx="$(ip netns exec "$SW" cat "$stats/tx_bytes")"
    [ "$first" -eq 1 ] || printf ','
    first=0
    printf '"%s":{"sent":%s,"received":%s}' "$host" "$rx" "$tx"
  done
  printf '}\n'
}

require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "bed: needs root (network namespaces and tc)" >&2
    exit 2
  fi
  command -v tc >/dev/null 2>&1 || { echo "bed: tc (iproute2) is missing" >&2; exit 2; }
}

# Builds what the bench runs, when missing.
build() {
  cd "$root"
  [ -x target/release/coordinator ] || cargo build --release -p coordinator --bin coordinator
  [ -x target/release/examples/multiply ] || cargo build --release -p kernel --example multiply
  [ -f webserver/pkg/kernel_best.js ] || ./compile-wasm.sh
}

# run ARGS: the bed up, the bench in the client's namespace, the bed down
# whatever happens. A signal to this script ends the bench (which closes its
# browsers and coordinators) before the bed goes down.
run() {
  require_root
  build
  trap down EXIT
  trap 'exit 130' INT TERM
  up
  ip netns exec "$(ns client)" node "$here/bench-bed.mjs" "$@" &
  local bench=$!
  trap 'kill -TERM "$bench" 2>/dev/null; wait "$bench" 2>/dev/null; exit 130' INT TERM
  wait "$bench"
}

case "${1:-}" in
  up) require_root; up ;;
  down) require_root; down ;;
  shape) require_root; shape "${2:?profile}" ;;
  counters) counters ;;
  bench) shift; run "$@" ;;
  ci) run --profiles home --sizes 512 --hosts 2 --modes plain,lean --check-only ;;
  *) sed -n '2,30p' "$0" >&2; exit 2 ;;
esac
