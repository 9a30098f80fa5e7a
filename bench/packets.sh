#!/usr/bin/env bash
# Packet capture side by side: a bounded UDP flood over loopback captured by
# `tcpdump -i lo -w /dev/null` and by stakeout recording headers to its
# session file. Compares kernel drops, CPU seconds per million packets and
# stakeout's recorded bytes per packet (issue 4's targets: 0 drops, CPU per
# packet no more than tcpdump's, at most 40 bytes per packet). Needs root.
# Usage: bench/packets.sh [PACKETS]   (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-${BENCH_PACKETS:-1000000}}
OUT=${BENCH_OUT:-.bench}
mkdir -p "$OUT"
BIN=${STAKEOUT_BIN:-./bin/stakeout}
TICK=$(getconf CLK_TCK)
export PATH=$PATH:/usr/local/go/bin
if [ "$(id -u)" != 0 ]; then echo "bench/packets.sh: needs root to capture; skipped"; exit 0; fi
CGO_ENABLED=0 go build -o "$OUT/udpflood" ./bench/udpflood
[ -x "$BIN" ] || CGO_ENABLED=0 go build -o "$BIN" ./cmd/stakeout

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# per_m TICKS PACKETS -> CPU seconds per million packets
per_m() { awk -v t="$1" -v k="$TICK" -v n="$2" 'BEGIN{ if (n>0) printf "%.2f", t/k/(n/1e6); else print "-" }'; }

echo "== UDP flood over lo: $N datagrams of 64 bytes =="
printf '%-38s %12s %10s %10s %14s %12s\n' capture sender_pps captured drops cpu_s_per_Mpkt bytes_per_pkt

# tcpdump: its own counts come on stderr when it exits.
if command -v tcpdump >/dev/null; then
  tcpdump -i lo -n -w /dev/null 2>"$OUT/tcpdump.err" & TP=$!
  sleep 1.5
  c0=$(cpu_ticks $TP)
  rate=$("$OUT/udpflood" -n "$N" | awk '{print $(NF-1)}')
  sleep 1
  c1=$(cpu_ticks $TP)
  kill -INT $TP; wait $TP || true
  cap=$(awk '/packets captured/{print $1}' "$OUT/tcpdump.err")
  drop=$(awk '/dropped by kernel/{print $1}' "$OUT/tcpdump.err")
  printf '%-38s %12s %10s %10s %14s %12s\n' "tcpdump -i lo -w /dev/null" "$rate" "$cap" "$drop" "$(per_m $((c1-c0)) "$cap")" -
else
  echo "tcpdump not installed (make deps-bench installs it); stakeout only"
fi

# stakeout: headers recorded to the .stk file (and once with --no-record,
# to split capture and analysis from recording); drops from PACKET_STATISTICS.
stakeout_row() {
  local label=$1; shift
  rm -f "$OUT/packets.stk"
  $BIN snapshot --duration 10m --probes packets --iface lo --format json "$@" >"$OUT/packets.json" 2>"$OUT/packets.err" & SP=$!
  sleep 1.5
  c0=$(cpu_ticks $SP)
  rate=$("$OUT/udpflood" -n "$N" | awk '{print $(NF-1)}')
  sleep 1
  c1=$(cpu_ticks $SP)
  kill -INT $SP; wait $SP || true
  read -r cap drop < <(python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
i=[x for x in d["summary"]["packets"]["ifaces"] if x["iface"]=="lo"][0]
print(i["packets"], i["drops"])' "$OUT/packets.json")
  bpp=-
  if [ -f "$OUT/packets.stk" ]; then
    bpp=$(awk -v s="$(stat -c %s "$OUT/packets.stk")" -v n="$cap" 'BEGIN{ if (n>0) printf "%.2f", s/n; else print "-" }')
  fi
  printf '%-38s %12s %10s %10s %14s %12s\n' "$label" "$rate" "$cap" "$drop" "$(per_m $((c1-c0)) "$cap")" "$bpp"
}
stakeout_row "stakeout snapshot --iface lo (record)" -o "$OUT/packets.stk"
stakeout_row "stakeout snapshot --iface lo --no-record" --no-record
echo "(captured counts include the few other packets on lo; CPU is user+system of the capturing process during the flood)"
