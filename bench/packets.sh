#!/usr/bin/env bash
# Packet capture side by side: a bounded UDP flood over loopback captured by
# `tcpdump -i lo -w /dev/null` and by stakeout recording headers to its
# session file. Compares kernel drops, CPU seconds per million packets and
# stakeout's recorded bytes per packet (issue 4's targets: 0 drops, CPU per
# packet no more than tcpdump's, at most 40 bytes per packet). Needs root.
#
# Each round runs tcpdump, stakeout recording and stakeout --no-record, one
# after the other (tcpdump first in odd rounds, last in even ones), each in
# a fresh process started 1.5 s before the flood;
# then one stakeout process takes a second flood, to show the steady state
# after its heap has grown once. The last lines are the medians over the
# rounds and stakeout's ratio to tcpdump. CPU is the capturing process's
# own (every thread's run time from /proc/PID/task/*/schedstat, in ns, so
# figures are not rounded to the 10 ms of a clock tick) from just before
# the flood to 1 s after it.
#
# Usage: bench/packets.sh [PACKETS]   (default 1000000; BENCH_ROUNDS, default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-${BENCH_PACKETS:-1000000}}
ROUNDS=${BENCH_ROUNDS:-3}
OUT=${BENCH_OUT:-.bench}
mkdir -p "$OUT"
BIN=${STAKEOUT_BIN:-./bin/stakeout}
export PATH=$PATH:/usr/local/go/bin
if [ "$(id -u)" != 0 ]; then echo "bench/packets.sh: needs root to capture; skipped"; exit 0; fi
CGO_ENABLED=0 go build -o "$OUT/udpflood" ./bench/udpflood
[ -x "$BIN" ] || CGO_ENABLED=0 go build -o "$BIN" ./cmd/stakeout

# cpu_ns, per_m and flood
. bench/flood.sh
row() { printf '%-44s %10s %10s %8s %14s %12s\n' "$@"; }

tcpdump_row() {
  tcpdump -i lo -n -w /dev/null 2>"$OUT/tcpdump.err" & local TP=$!
  sleep 1.5
  read -r rate ns < <(flood $TP)
  kill -INT $TP; wait $TP || true
  local cap drop
  cap=$(awk '/packets captured/{print $1}' "$OUT/tcpdump.err")
  drop=$(awk '/dropped by kernel/{print $1}' "$OUT/tcpdump.err")
  row "tcpdump -i lo -w /dev/null" "$rate" "$cap" "$drop" "$(per_m "$ns" "$cap")" -
  echo "tcpdump $(per_m "$ns" "$cap")" >>"$OUT/packets.medians"
}

# stakeout_row LABEL FLOODS ARGS...: drops from PACKET_STATISTICS, CPU of
# the last of FLOODS floods into one process.
stakeout_row() {
  local label=$1 floods=$2; shift 2
  rm -f "$OUT/packets.stk"
  $BIN snapshot --duration 10m --probes packets --iface lo --format json "$@" >"$OUT/packets.json" 2>"$OUT/packets.err" & local SP=$!
  sleep 1.5
  local rate ns
  for _ in $(seq "$floods"); do read -r rate ns < <(flood $SP); done
  kill -INT $SP; wait $SP || true
  read -r cap drop < <(python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
i=[x for x in d["summary"]["packets"]["ifaces"] if x["iface"]=="lo"][0]
print(i["packets"], i["drops"])' "$OUT/packets.json")
  local bpp=-
  if [ -f "$OUT/packets.stk" ]; then
    bpp=$(awk -v s="$(stat -c %s "$OUT/packets.stk")" -v n="$cap" 'BEGIN{ if (n>0) printf "%.2f", s/n; else print "-" }')
  fi
  # The CPU figure is for the last flood, so per its own packets.
  row "$label" "$rate" "$cap" "$drop" "$(per_m "$ns" $((cap / floods)))" "$bpp"
  echo "$label $(per_m "$ns" $((cap / floods)))" >>"$OUT/packets.medians"
}

echo "== UDP flood over lo: $N datagrams of 64 bytes, $ROUNDS rounds =="
row capture sender_pps captured drops cpu_s_per_Mpkt bytes_per_pkt
: >"$OUT/packets.medians"
have_tcpdump() {
  command -v tcpdump >/dev/null && return 0
  echo "tcpdump not installed (make deps-bench installs it); stakeout only"
  return 1
}
# tcpdump goes first in odd rounds and last in even ones, so a machine that
# slows down or speeds up during a round does not always favour one side.
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) = 1 ] && have_tcpdump; then tcpdump_row; fi
  stakeout_row "stakeout snapshot --iface lo (record)" 1 -o "$OUT/packets.stk"
  stakeout_row "stakeout snapshot --iface lo --no-record" 1 --no-record
  stakeout_row "stakeout (record), its second flood" 2 -o "$OUT/packets.stk"
  if [ $((r % 2)) = 0 ] && have_tcpdump; then tcpdump_row; fi
done
echo "(captured counts include the few other packets on lo; bytes per packet is the whole file's)"
echo "== medians over $ROUNDS rounds, CPU s per 1M packets (ratio to tcpdump) =="
python3 bench/medians.py "$OUT/packets.medians" tcpdump
