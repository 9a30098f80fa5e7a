#!/usr/bin/env bash
# Packets at incident scale (issue 15): tcpdump and `stakeout snapshot`
# (recording) side by side under floods where every packet may be a new
# flow. Three cases:
#   many  3M UDP datagrams over 20,000 destination ports on lo (bench/udpflood)
#   syn   2M TCP SYNs from random source addresses and ports (bench/synflood,
#         a raw-socket sender) into a listening port, across a veth pair
#         between two network namespaces; the capture, in the victim's
#         namespace, sees each SYN and its SYN-ACK
#   one   the one-flow flood of bench/packets.sh (1M datagrams on lo)
# Each round runs every case once per capture, tcpdump first in odd rounds
# and last in even ones, each a fresh process started 1.5 s before the
# flood. Per run it prints CPU seconds per 1M packets (every thread's run
# time from /proc/PID/task/*/schedstat, from just before the flood to 1 s
# after it, over the packets the capture got), kernel drops, max RSS
# (VmHWM), stakeout's bytes per recorded packet and how long `stakeout
# report` of the recording takes per 1M packets; then the medians per case
# and stakeout's ratio to tcpdump. Targets: CPU <= 1.5x tcpdump's, 0 drops
# where tcpdump has 0, RSS <= 40 MB, <= 8 B/packet, report >= 2M packets/s.
# Needs root. Asserts nothing: the machines are noisy.
#
# Usage: bench/flowstorm.sh [CASES]   (default "many syn one"; BENCH_ROUNDS,
# default 2; STAKEOUT_BIN, default ./bin/stakeout; BENCH_OUT, default .bench)
set -euo pipefail
cd "$(dirname "$0")/.."
CASES=${1:-${BENCH_CASES:-many syn one}}
ROUNDS=${BENCH_ROUNDS:-2}
OUT=${BENCH_OUT:-.bench}
BIN=${STAKEOUT_BIN:-./bin/stakeout}
export PATH=$PATH:/usr/local/go/bin
if [ "$(id -u)" != 0 ]; then echo "bench/flowstorm.sh: needs root to capture; skipped"; exit 0; fi
if ! command -v tcpdump >/dev/null; then echo "bench/flowstorm.sh: tcpdump not installed (make deps-bench installs it); skipped"; exit 0; fi
mkdir -p "$OUT"
CGO_ENABLED=0 go build -o "$OUT/udpflood" ./bench/udpflood
CGO_ENABLED=0 go build -o "$OUT/synflood" ./bench/synflood
[ -x "$BIN" ] || CGO_ENABLED=0 go build -o "$BIN" ./cmd/stakeout

cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s+=$1} END{printf "%d", s}'; }
hwm_mb() { awk '/^VmHWM:/{printf "%.1f", $2/1024}' /proc/"$1"/status; }
per_m() { awk -v t="$1" -v n="$2" 'BEGIN{ if (n>0) printf "%.3f", t/1e9/(n/1e6); else print "-" }'; }

# The SYN case's namespaces: A sends, B listens and captures. B's default
# route points back at A, which forwards nothing, so SYN-ACKs to the
# spoofed sources leave B's veth and die in A.
ID=$(( $$ % 200 + 20 ))
NSA=stkfs-a$ID NSB=stkfs-b$ID IFA=stkfsa$ID IFB=stkfsb$ID
LISTENER=
cleanup() {
  [ -n "$LISTENER" ] && kill "$LISTENER" 2>/dev/null && wait "$LISTENER" 2>/dev/null
  ip netns del "$NSA" 2>/dev/null || true
  ip netns del "$NSB" 2>/dev/null || true
}
trap cleanup EXIT
netns_up() {
  ip netns add "$NSA"; ip netns add "$NSB"
  ip link add "$IFA" netns "$NSA" type veth peer name "$IFB" netns "$NSB"
  ip -n "$NSA" addr add "10.232.$ID.1/24" dev "$IFA"; ip -n "$NSB" addr add "10.232.$ID.2/24" dev "$IFB"
  for n in "$NSA:$IFA" "$NSB:$IFB"; do ip -n "${n%%:*}" link set "${n#*:}" up; ip -n "${n%%:*}" link set lo up; done
  ip -n "$NSB" route add default via "10.232.$ID.1"
  ip netns exec "$NSB" "$OUT/synflood" -listen "10.232.$ID.2:80" >/dev/null & LISTENER=$!
  sleep 0.3
}

# Per case: how to run a capture there (prefix, interface, filter) and the flood.
case_setup() {
  case $1 in
    many) PRE=(); IFACE=lo; FILTER=udp; FLOOD=("$OUT/udpflood" -n 3000000 -ports 20000) ;;
    one)  PRE=(); IFACE=lo; FILTER=udp; FLOOD=("$OUT/udpflood" -n 1000000) ;;
    syn)  [ -n "$LISTENER" ] || netns_up
          PRE=(ip netns exec "$NSB"); IFACE=$IFB; FILTER=tcp
          FLOOD=(ip netns exec "$NSA" "$OUT/synflood" -n 2000000 -dst "10.232.$ID.2:80") ;;
  esac
}

# flood PID: the case's flood; prints "sender_rate cpu_ns hwm_mb" for PID.
flood() {
  local c0 c1 rate
  c0=$(cpu_ns "$1")
  rate=$("${FLOOD[@]}" | awk '{print $(NF-1)}')
  sleep 1
  c1=$(cpu_ns "$1")
  echo "$rate $((c1 - c0)) $(hwm_mb "$1")"
}
row() { printf '%-5s %-9s %9s %9s %8s %7s %9s %7s %10s\n' "$@"; }

tcpdump_run() {
  local cs=$1
  "${PRE[@]}" tcpdump -i "$IFACE" -n -w /dev/null "$FILTER" 2>"$OUT/fs.tcpdump.err" & local TP=$!
  sleep 1.5
  read -r rate ns rss < <(flood $TP)
  kill -INT $TP; wait $TP || true
  local cap drop
  cap=$(awk '/packets captured/{print $1}' "$OUT/fs.tcpdump.err")
  drop=$(awk '/dropped by kernel/{print $1}' "$OUT/fs.tcpdump.err")
  row "$cs" tcpdump "$rate" "$cap" "$drop" "$rss" "$(per_m "$ns" "$cap")" - -
  echo "$cs tcpdump $(per_m "$ns" "$cap") $drop $rss - -" >>"$OUT/flowstorm.runs"
}

stakeout_run() {
  local cs=$1
  rm -f "$OUT/fs.stk"
  "${PRE[@]}" "$BIN" snapshot --duration 10m --probes packets --iface "$IFACE" --filter "$FILTER" --format json \
    -o "$OUT/fs.stk" >"$OUT/fs.json" 2>"$OUT/fs.err" & local SP=$!
  sleep 1.5
  read -r rate ns rss < <(flood $SP)
  kill -INT $SP; wait $SP || true
  local cap drop
  read -r cap drop < <(python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
i=[x for x in d["summary"]["packets"]["ifaces"] if x["iface"]==sys.argv[2]][0]
print(i["packets"], i["drops"])' "$OUT/fs.json" "$IFACE")
  local bpp rep t0 t1
  bpp=$(awk -v s="$(stat -c %s "$OUT/fs.stk")" -v n="$cap" 'BEGIN{ if (n>0) printf "%.2f", s/n; else print "-" }')
  t0=$(date +%s%N); "$BIN" report "$OUT/fs.stk" >/dev/null 2>&1 || true; t1=$(date +%s%N)
  rep=$(per_m $((t1 - t0)) "$cap")
  row "$cs" stakeout "$rate" "$cap" "$drop" "$rss" "$(per_m "$ns" "$cap")" "$bpp" "$rep"
  echo "$cs stakeout $(per_m "$ns" "$cap") $drop $rss $bpp $rep" >>"$OUT/flowstorm.runs"
}

echo "== flow storms: tcpdump and stakeout snapshot (recording), $ROUNDS rounds; stakeout is $BIN =="
row case capture sender/s captured drops rss_mb cpu_s/1M B/pkt report_s/1M
: >"$OUT/flowstorm.runs"
for r in $(seq "$ROUNDS"); do
  for cs in $CASES; do
    case_setup "$cs"
    if [ $((r % 2)) = 1 ]; then tcpdump_run "$cs"; stakeout_run "$cs"; else stakeout_run "$cs"; tcpdump_run "$cs"; fi
  done
done
echo "== medians over $ROUNDS rounds =="
python3 - "$OUT/flowstorm.runs" <<'PY'
import sys, statistics, collections
runs = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    cs, who, cpu, drops, rss, bpp, rep = line.split()
    for k, v in (("cpu", cpu), ("drops", drops), ("rss", rss), ("bpp", bpp), ("rep", rep)):
        if v != "-":
            runs[cs, who][k].append(float(v))
med = lambda xs: statistics.median(xs) if xs else float("nan")
print(f"{'case':5s} {'cpu_s/1M tcpdump':>17s} {'stakeout':>9s} {'ratio':>6s} {'drops td/st':>13s} {'rss_mb td/st':>13s} {'B/pkt':>6s} {'report_s/1M':>11s} {'report Mpkt/s':>13s}")
for cs in dict.fromkeys(c for c, _ in runs):
    td, st = runs[cs, "tcpdump"], runs[cs, "stakeout"]
    ratio = med(st["cpu"]) / med(td["cpu"]) if td["cpu"] and st["cpu"] else float("nan")
    rep = med(st["rep"])
    print(f"{cs:5s} {med(td['cpu']):17.3f} {med(st['cpu']):9.3f} {ratio:5.2f}x {med(td['drops']):6.0f}/{med(st['drops']):<6.0f} "
          f"{med(td['rss']):6.1f}/{med(st['rss']):<6.1f} {med(st['bpp']):6.2f} {rep:11.3f} {1/rep if rep > 0 else float('nan'):13.2f}")
PY
