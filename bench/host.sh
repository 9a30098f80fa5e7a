#!/usr/bin/env bash
# The host probe beside top and atop, which an SRE would otherwise leave
# running: CPU and RSS of each over the same seconds, first on this host as
# it is, then with PROCS extra processes (`sleep`s, killed at the end).
# Prints a table; asserts nothing (the machines are noisy).
# Usage: bench/host.sh [SECONDS] [PROCS]   (default 30 and 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-${BENCH_SECONDS:-30}}
PROCS=${2:-2000}
BIN=./bin/stakeout
TICK=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
pct() { awk -v t="$1" -v s="$2" -v k="$TICK" 'BEGIN{printf "%.2f", 100*t/k/s}'; }

# watch NAME PID: CPU and RSS of PID from second 1 to second SECS.
watch() {
  local name=$1 pid=$2 r0 r1 r2 c0 c1
  sleep 1; c0=$(cpu_ticks "$pid"); r0=$(rss_kb "$pid")
  sleep $(( (SECS-1) / 2 )); r1=$(rss_kb "$pid")
  sleep $(( SECS - 1 - (SECS-1)/2 )); c1=$(cpu_ticks "$pid"); r2=$(rss_kb "$pid")
  printf '%-40s %8s%% %10s %10s %10s\n' "$name" "$(pct $((c1-c0)) $((SECS-1)))" "$r0" "$r1" "$r2"
}

# side_by_side: the host probe alone (no recording), all probes
# (recording), top and atop, over the same seconds.
side_by_side() {
  local out=.bench/host
  mkdir -p "$out"; rm -f "$out"/*.stk
  printf '%-40s %9s %10s %10s %10s\n' tool cpu rss_kb@1s rss_kb@mid rss_kb@end
  $BIN snapshot --probes host --no-record --duration $((SECS+2))s --format json >/dev/null 2>&1 & local H=$!
  $BIN snapshot --duration $((SECS+2))s -o "$out/all.stk" --format json >/dev/null 2>&1 & local A=$!
  top -b -d 1 -n $((SECS+2)) >/dev/null 2>&1 & local T=$!
  atop 1 $((SECS+2)) >/dev/null 2>&1 & local P=$!
  sleep 0.2
  watch "stakeout snapshot --probes host" $H &
  watch "stakeout snapshot (all probes, recording)" $A &
  watch "top -b -d 1" $T &
  watch "atop 1" $P &
  wait
}

echo "== as this host is: $(ls /proc | grep -c '^[0-9]') processes; ${SECS}s at a 1 s interval (CPU is % of one core) =="
side_by_side

KIDS=()
cleanup() { [ ${#KIDS[@]} -gt 0 ] && kill "${KIDS[@]}" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq "$PROCS"); do sleep $((SECS+60)) & KIDS+=($!); done
echo
echo "== with $PROCS more processes: $(ls /proc | grep -c '^[0-9]') in all =="
side_by_side
