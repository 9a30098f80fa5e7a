#!/usr/bin/env bash
# Side-by-side figures for stakeout against the tools an SRE would otherwise
# run (atop -w, iostat -x). Prints a table; asserts nothing (the machines are
# noisy). Usage: bench/run.sh [SECONDS]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-${BENCH_SECONDS:-60}}
OUT=.bench
mkdir -p "$OUT"
rm -f "$OUT"/*.stk "$OUT"/atop.raw
BIN=./bin/stakeout
TICK=$(getconf CLK_TCK)

# cpu_ticks PID -> utime+stime so far, in clock ticks
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
pct() { awk -v t="$1" -v s="$2" -v k="$TICK" 'BEGIN{printf "%.2f", 100*t/k/s}'; }

# watch NAME PID: samples CPU and RSS of PID over SECS, prints one row.
watch() {
  local name=$1 pid=$2 t0 r0 r1 r2 c0 c1
  sleep 1; c0=$(cpu_ticks "$pid"); r0=$(rss_kb "$pid")
  sleep $(( (SECS-1) / 2 )); r1=$(rss_kb "$pid")
  sleep $(( SECS - 1 - (SECS-1)/2 )); c1=$(cpu_ticks "$pid"); r2=$(rss_kb "$pid")
  printf '%-34s %8s%% %10s %10s %10s\n' "$name" "$(pct $((c1-c0)) $((SECS-1)))" "$r0" "$r1" "$r2"
}

echo "== CPU and RSS over ${SECS}s at a 1 s interval (CPU is % of one core) =="
printf '%-34s %9s %10s %10s %10s\n' tool cpu rss_kb@1s rss_kb@mid rss_kb@end
$BIN snapshot --duration $((SECS+2))s -o "$OUT/run.stk" --format json >"$OUT/snapshot.json" 2>/dev/null &
SPID=$!
if command -v atop >/dev/null; then atop -w "$OUT/atop.raw" 1 $((SECS+2)) >/dev/null 2>&1 & APID=$!; fi
if command -v iostat >/dev/null; then iostat -x 1 $((SECS+2)) >/dev/null 2>&1 & IPID=$!; fi
sleep 0.2
watch "stakeout snapshot (all probes)" $SPID &
[ -n "${APID:-}" ] && watch "atop -w FILE 1" $APID &
[ -n "${IPID:-}" ] && watch "iostat -x 1" $IPID &
wait $SPID
wait
echo
echo "== Recording size =="
SZ=$(stat -c %s "$OUT/run.stk")
printf 'stakeout .stk   %8d bytes in %ss  -> %6.2f MB/hour\n' "$SZ" "$SECS" "$(awk -v s=$SZ -v t=$SECS 'BEGIN{print s*3600/t/1e6}')"
if [ -f "$OUT/atop.raw" ]; then
  AZ=$(stat -c %s "$OUT/atop.raw")
  printf 'atop -w raw log %8d bytes in %ss  -> %6.2f MB/hour\n' "$AZ" "$SECS" "$(awk -v s=$AZ -v t=$SECS 'BEGIN{print s*3600/t/1e6}')"
fi

echo
echo "== RSS under an accelerated hour: 3600 samples at --interval 10ms (36 s) =="
$BIN snapshot --duration 38s --interval 10ms -o "$OUT/hour.stk" --format json >/dev/null 2>&1 &
HP=$!
sleep 2; a=$(rss_kb $HP); sleep 17; b=$(rss_kb $HP); sleep 17; c=$(rss_kb $HP)
wait $HP
printf 'rss_kb after 200 / 1900 / 3600 samples: %s / %s / %s\n' "$a" "$b" "$c"

echo
echo "== Time to first frame (live TUI in tmux, 120x40) =="
if command -v tmux >/dev/null; then
  # first_frame CMD: ms from starting a tmux session running CMD until "iostat" shows.
  first_frame() {
    tmux kill-session -t stkbench 2>/dev/null || true
    local t0 t1
    t0=$(date +%s%N)
    tmux new-session -d -s stkbench -x 120 -y 40 "$1"
    until tmux capture-pane -p -t stkbench 2>/dev/null | grep -q 'iostat'; do sleep 0.005; done
    t1=$(date +%s%N)
    tmux kill-session -t stkbench 2>/dev/null || true
    echo $(( (t1-t0)/1000000 ))
  }
  for i in 1 2 3 4 5; do
    echo "run $i: stakeout $(first_frame "$BIN --no-record --probes iostat") ms;" \
      "tmux baseline (echo iostat) $(first_frame 'echo iostat; sleep 5') ms"
  done
else
  echo "tmux not installed; skipped"
fi
