#!/usr/bin/env bash
# The signals probe's cost, side by side with strace (issue 3's targets:
# stakeout at most 1.05x of alone on a syscall-heavy loop; strace's ratio
# for reference), and the latency one traced signal adds.
#   loop: N getppid() calls, timed inside the target
#   ping: SIGUSR1 to itself until its handler ran, median and p99
#   beat: 1,000 SIGUSR1 at 1 kHz from another process, not waiting for each
#         to be handled (a heartbeat), and how many the target counted: a
#         standard signal sent while the last one is still pending is merged.
#         Two receivers: C with a plain handler (bench/sigbeat.c: what the
#         kernel merged) and Go's os/signal (which also merges on its own)
# Each row is the median of RUNS runs. Needs root (ptrace).
# BENCH_LOAD=K runs K CPU hogs (busy shell loops) throughout, for the
# figures under load; the machine's own load adds to it.
# Usage: bench/signals.sh [N] [RUNS]   (defaults 5000000 and 3)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-${BENCH_SYSCALLS:-5000000}}
RUNS=${2:-3}
PINGS=2000
BEATS=1000
LOAD=${BENCH_LOAD:-0}
OUT=.bench
mkdir -p "$OUT"
BIN=./bin/stakeout
export PATH=$PATH:/usr/local/go/bin
if [ "$(id -u)" != 0 ]; then echo "bench/signals.sh: needs root to ptrace; skipped"; exit 0; fi
CGO_ENABLED=0 go build -o "$OUT/sigbench" ./bench/sigbench
[ -x "$BIN" ] || CGO_ENABLED=0 go build -o "$BIN" ./cmd/stakeout
HAVE_STRACE=$(command -v strace || true)
RECEIVERS=go
if command -v cc >/dev/null; then cc -O2 -o "$OUT/sigbeat" bench/sigbeat.c && RECEIVERS="c go"; fi

# traced_by PID: the TracerPid of PID (0 when untraced)
traced_by() { awk '/^TracerPid:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# run MODE ARGS TRACER: one run of sigbench under TRACER (none, strace or
# stakeout); prints sigbench's result line.
run() {
  local mode=$1 n=$2 tracer=$3 tp= pid res
  # No Go async preemption: a Go loop would otherwise get ~100 SIGURG/s from
  # its own runtime, which a C getppid() loop never does (each would be one
  # signal stop; the ping rows measure what a signal costs).
  GODEBUG=asyncpreemptoff=1 SIGBENCH_DELAY=1s "$OUT/sigbench" "$mode" "$n" >"$OUT/sigbench.out" & pid=$!
  case $tracer in
    strace) strace -f -e trace=none -e signal=all -p "$pid" -o /dev/null 2>/dev/null & tp=$! ;;
    stakeout) $BIN snapshot --probes signals --pid "$pid" --duration 10m --no-record >/dev/null 2>&1 & tp=$! ;;
  esac
  if [ -n "$tp" ]; then
    for _ in $(seq 200); do [ "$(traced_by $pid)" != 0 ] && break; sleep 0.005; done
    [ "$(traced_by $pid)" != 0 ] || { echo "$tracer did not attach" >&2; kill $pid $tp; return 1; }
  fi
  wait $pid
  [ -n "$tp" ] && { kill -INT $tp 2>/dev/null || true; wait $tp 2>/dev/null || true; }
  cat "$OUT/sigbench.out"
}

# beat RECEIVER TRACER: a heartbeat receiver (c or go), traced by TRACER
# (none or stakeout), takes BEATS SIGUSR1 at 1 kHz; prints how many it counted.
beat() {
  local rx=$1 tracer=$2 tp= pid
  : >"$OUT/beat.out"
  if [ "$rx" = c ]; then "$OUT/sigbeat" >"$OUT/beat.out" & pid=$!
  else GODEBUG=asyncpreemptoff=1 "$OUT/sigbench" count "$BEATS" >"$OUT/beat.out" & pid=$!; fi
  for _ in $(seq 400); do grep -q ready "$OUT/beat.out" && break; sleep 0.005; done
  if [ "$tracer" = stakeout ]; then
    $BIN snapshot --probes signals --pid "$pid" --duration 10m --no-record >/dev/null 2>&1 & tp=$!
    for _ in $(seq 200); do [ "$(traced_by $pid)" != 0 ] && break; sleep 0.005; done
    [ "$(traced_by $pid)" != 0 ] || { echo "stakeout did not attach" >&2; kill $pid $tp; return 1; }
  fi
  SIGBENCH_TARGET=$pid "$OUT/sigbench" send "$BEATS" >/dev/null
  sleep 0.2 # the last beats are handled
  kill -TERM $pid; wait $pid
  [ -n "$tp" ] && { kill -INT $tp 2>/dev/null || true; wait $tp 2>/dev/null || true; }
  awk '/^beats_counted/{print $2}' "$OUT/beat.out"
}

HOGS=()
stop_hogs() { [ ${#HOGS[@]} -gt 0 ] && kill "${HOGS[@]}" 2>/dev/null; true; }
trap stop_hogs EXIT
for _ in $(seq "$LOAD"); do bash -c 'while :; do :; done' & HOGS+=($!); done

# med: the median of the numbers on stdin
med() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
field() { awk -v f="$1" '{for(i=1;i<NF;i++) if($i==f) print $(i+1)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }

# Runs are interleaved (alone, strace, stakeout, alone, …) so that drift in
# the machine's load hits every row alike.
: >"$OUT/sig.alone"; : >"$OUT/sig.strace"; : >"$OUT/sig.stakeout"
: >"$OUT/ping.none"; : >"$OUT/ping.stakeout"
for rx in c go; do : >"$OUT/beat.$rx.none"; : >"$OUT/beat.$rx.stakeout"; done
for _ in $(seq "$RUNS"); do
  run loop "$N" none | field loop_ns_per_call >>"$OUT/sig.alone"
  [ -n "$HAVE_STRACE" ] && run loop $((N/10)) strace | field loop_ns_per_call >>"$OUT/sig.strace"
  run loop "$N" stakeout | field loop_ns_per_call >>"$OUT/sig.stakeout"
  run ping $PINGS none >>"$OUT/ping.none"
  run ping $PINGS stakeout >>"$OUT/ping.stakeout"
  for rx in $RECEIVERS; do
    beat $rx none >>"$OUT/beat.$rx.none"
    beat $rx stakeout >>"$OUT/beat.$rx.stakeout"
  done
done

[ "$LOAD" -gt 0 ] && echo "(with $LOAD CPU hogs running; load average now $(cut -d' ' -f1-3 /proc/loadavg))"
echo "== getppid() loop, $N calls (strace: $((N/10))), median of $RUNS interleaved runs =="
printf '%-44s %14s %8s\n' tracer ns_per_call ratio
alone=$(med <"$OUT/sig.alone")
printf '%-44s %14s %8s\n' "alone" "$alone" "1.00x"
if [ -n "$HAVE_STRACE" ]; then
  s=$(med <"$OUT/sig.strace")
  printf '%-44s %14s %8s\n' "strace -f -e trace=none -e signal=all -p" "$s" "$(ratio "$s" "$alone")"
fi
k=$(med <"$OUT/sig.stakeout")
printf '%-44s %14s %8s\n' "stakeout --probes signals --pid" "$k" "$(ratio "$k" "$alone")"

echo
echo "== Signal delivery latency, $PINGS SIGUSR1 to itself, median of $RUNS runs =="
printf '%-44s %10s %10s\n' tracer p50_us p99_us
for tr in none stakeout; do
  name=untraced; [ $tr = stakeout ] && name="stakeout --probes signals --pid"
  printf '%-44s %10s %10s\n' "$name" "$(field ping_us_p50 <"$OUT/ping.$tr" | med)" "$(field p99 <"$OUT/ping.$tr" | med)"
done

echo
echo "== Heartbeat: $BEATS SIGUSR1 at 1 kHz from another process, counted by the target, $RUNS runs =="
printf '%-52s %8s  %s\n' "receiver, tracer" median runs
for rx in $RECEIVERS; do
  for tr in none stakeout; do
    name="$rx handler, untraced"; [ $rx = go ] && name="go os/signal, untraced"
    [ $tr = stakeout ] && name="${name%, untraced}, stakeout --probes signals --pid"
    printf '%-52s %8s  %s\n' "$name" "$(med <"$OUT/beat.$rx.$tr")" "$(sort -g "$OUT/beat.$rx.$tr" | tr '\n' ' ')"
  done
done
