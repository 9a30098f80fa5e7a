#!/usr/bin/env bash
# The signals probe's cost, side by side with strace (issue 3's targets:
# stakeout at most 1.05x of alone on a syscall-heavy loop; strace's ratio
# for reference), and the latency one traced signal adds.
#   loop: N getppid() calls, timed inside the target
#   ping: SIGUSR1 to itself until its handler ran, median and p99
# Each row is the median of RUNS runs. Needs root (ptrace).
# Usage: bench/signals.sh [N] [RUNS]   (defaults 5000000 and 3)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-${BENCH_SYSCALLS:-5000000}}
RUNS=${2:-3}
PINGS=2000
OUT=.bench
mkdir -p "$OUT"
BIN=./bin/stakeout
export PATH=$PATH:/usr/local/go/bin
if [ "$(id -u)" != 0 ]; then echo "bench/signals.sh: needs root to ptrace; skipped"; exit 0; fi
CGO_ENABLED=0 go build -o "$OUT/sigbench" ./bench/sigbench
[ -x "$BIN" ] || CGO_ENABLED=0 go build -o "$BIN" ./cmd/stakeout
HAVE_STRACE=$(command -v strace || true)

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

# med: the median of the numbers on stdin
med() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
field() { awk -v f="$1" '{for(i=1;i<NF;i++) if($i==f) print $(i+1)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }

# Runs are interleaved (alone, strace, stakeout, alone, …) so that drift in
# the machine's load hits every row alike.
: >"$OUT/sig.alone"; : >"$OUT/sig.strace"; : >"$OUT/sig.stakeout"
: >"$OUT/ping.none"; : >"$OUT/ping.stakeout"
for _ in $(seq "$RUNS"); do
  run loop "$N" none | field loop_ns_per_call >>"$OUT/sig.alone"
  [ -n "$HAVE_STRACE" ] && run loop $((N/10)) strace | field loop_ns_per_call >>"$OUT/sig.strace"
  run loop "$N" stakeout | field loop_ns_per_call >>"$OUT/sig.stakeout"
  run ping $PINGS none >>"$OUT/ping.none"
  run ping $PINGS stakeout >>"$OUT/ping.stakeout"
done

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
