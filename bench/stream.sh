#!/usr/bin/env bash
# One host's stream (issue 17's `stakeout stream`, the other end of --ssh)
# at the one-flow flood rate of bench/packets.sh: the same bounded UDP
# flood over loopback (bench/flood.sh), captured three ways, one after the
# other, each process started 1.5 s before its flood:
#   tcpdump -i lo -w /dev/null                       the CPU yardstick
#   stakeout snapshot --probes packets --iface lo    the local recording
#   stakeout stream --probes packets --iface lo | streamcount
# streamcount (bench/streamcount) reads the stream from the pipe as the
# local side of --ssh would and counts what came. The issue's targets: no
# loss (the packets that reach the reader are the ones captured: no
# stream.dropped, no kernel drops) and under 2x the bytes of the local
# recording of the same flood. CPU is the capturing process's own, from
# just before the flood to 1 s after it (schedstat, in ns), per million
# packets; the reader's CPU is not counted (it is the local side's).
#
# Usage: bench/stream.sh [PACKETS]   (default 1000000; BENCH_ROUNDS, default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-${BENCH_PACKETS:-1000000}}
ROUNDS=${BENCH_ROUNDS:-3}
OUT=${BENCH_OUT:-.bench}
mkdir -p "$OUT"
BIN=${STAKEOUT_BIN:-./bin/stakeout}
export PATH=$PATH:/usr/local/go/bin
if [ "$(id -u)" != 0 ]; then echo "bench/stream.sh: needs root to capture; skipped"; exit 0; fi
CGO_ENABLED=0 go build -o "$OUT/udpflood" ./bench/udpflood
CGO_ENABLED=0 go build -o "$OUT/streamcount" ./bench/streamcount
[ -x "$BIN" ] || CGO_ENABLED=0 go build -o "$BIN" ./cmd/stakeout
# cpu_ns, per_m and flood
. bench/flood.sh

row() { printf '%-34s %10s %9s %6s %8s %14s %12s\n' "$@"; }

tcpdump_row() {
  command -v tcpdump >/dev/null || { echo "tcpdump not installed (make deps-bench installs it)"; return; }
  tcpdump -i lo -n -w /dev/null 2>"$OUT/tcpdump.err" & local TP=$!
  sleep 1.5
  read -r rate ns < <(flood $TP)
  kill -INT $TP; wait $TP || true
  local cap drop
  cap=$(awk '/packets captured/{print $1}' "$OUT/tcpdump.err")
  drop=$(awk '/dropped by kernel/{print $1}' "$OUT/tcpdump.err")
  row "tcpdump -i lo -w /dev/null" "$rate" "$cap" "$drop" - "$(per_m "$ns" "$cap")" -
  echo "cpu tcpdump $(per_m "$ns" "$cap")" >>"$OUT/stream.medians"
}

local_row() {
  rm -f "$OUT/local.stk"
  $BIN snapshot --duration 10m --probes packets --iface lo --format json -o "$OUT/local.stk" >"$OUT/local.json" 2>"$OUT/local.err" & local SP=$!
  sleep 1.5
  read -r rate ns < <(flood $SP)
  kill -INT $SP; wait $SP || true
  read -r cap drop < <(python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
i=[x for x in d["summary"]["packets"]["ifaces"] if x["iface"]=="lo"][0]
print(i["packets"], i["drops"])' "$OUT/local.json")
  LOCAL_BYTES=$(stat -c %s "$OUT/local.stk")
  row "stakeout snapshot (local .stk)" "$rate" "$cap" "$drop" - "$(per_m "$ns" "$cap")" "$LOCAL_BYTES"
  echo "cpu snapshot $(per_m "$ns" "$cap")" >>"$OUT/stream.medians"
}

stream_row() {
  rm -f "$OUT/stream.in" "$OUT/stream.pid"
  mkfifo "$OUT/stream.in"
  ( echo "$BASHPID" >"$OUT/stream.pid"
    exec $BIN stream --probes packets --iface lo <"$OUT/stream.in" 2>"$OUT/stream.err"
  ) | "$OUT/streamcount" --iface lo >"$OUT/streamcount.txt" & local PIPE=$!
  exec 7>"$OUT/stream.in" # stdin stays open until the flood is over
  sleep 1.5
  local SP rate ns
  SP=$(cat "$OUT/stream.pid")
  read -r rate ns < <(flood "$SP")
  exec 7>&- # end of stdin: the stream ends cleanly
  wait $PIPE || true
  local got drop sdrop bytes end
  got=$(awk '{print $6}' "$OUT/streamcount.txt")
  drop=$(awk '{print $8}' "$OUT/streamcount.txt")
  sdrop=$(awk '{print $10}' "$OUT/streamcount.txt")
  bytes=$(awk '{print $2}' "$OUT/streamcount.txt")
  end=$(sed 's/.* end //' "$OUT/streamcount.txt")
  row "stakeout stream | reader" "$rate" "$got" "$drop" "$sdrop" "$(per_m "$ns" "$got")" "$bytes"
  [ "$end" = '"clean"' ] || echo "  the stream ended: $end; stderr: $(head -c 300 "$OUT/stream.err")"
  echo "cpu stream $(per_m "$ns" "$got")" >>"$OUT/stream.medians"
  awk -v s="$bytes" -v l="$LOCAL_BYTES" 'BEGIN{ if (l>0) printf "bytes stream/local %.3f\n", s/l }' >>"$OUT/stream.medians"
  tail -1 "$OUT/stream.medians" | sed 's/^/  /'
}

echo "== UDP flood over lo: $N datagrams of 64 bytes, $ROUNDS rounds =="
row capture sender_pps packets drops str_drop cpu_s_per_Mpkt bytes
: >"$OUT/stream.medians"
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then tcpdump_row; fi
  local_row
  stream_row
  if [ $((r % 2)) = 0 ]; then tcpdump_row; fi
done
echo "(packets: captured (tcpdump, snapshot) or received by the reader (stream); drops: the kernel's;"
echo " str_drop: events the stream dropped for a slow pipe; bytes: the .stk file, or the stream's bytes on the pipe)"
echo "== medians over $ROUNDS rounds (CPU: ratio to tcpdump) =="
python3 bench/medians.py "$OUT/stream.medians" "cpu tcpdump" "cpu " 28
