#!/usr/bin/env bash
# Idle cost of stakeout, probe by probe: each configuration runs for
# WARMUP + SECONDS (past diskfill's 10 s warm-up, during which it scans
# every second), and its threads are read at the start and the end of the
# SECONDS:
#   cpu_tick  utime+stime from /proc/PID/stat (clock ticks of 10 ms), % of one core
#   cpu_ns    the threads' run time from /proc/PID/task/*/schedstat (ns), % of one core
#   wake/s    voluntary context switches a second over every thread
#             (/proc/PID/task/*/status): the thread slept and was woken,
#             less noisy than CPU time on a shared host
#   invol/s   involuntary ones (preempted: the host was busy)
#   rss_kb    VmRSS at the end
# With BASE_BIN set, the same configuration of that build runs beside
# STAKEOUT_BIN over the same seconds (before/after on a noisy host), or,
# with BENCH_SERIAL=1, right after it (the first of the two alternating by
# round): two stakeouts side by side tick in the same instant and contend
# for the CPUs there, which moves single-probe figures by a few hundredths
# of a percent either way.
# Prints a table per round and medians at the end; asserts nothing.
#
# Usage: bench/idle.sh [SECONDS] [CONFIG...]   (default 60; every config)
# CONFIG: all (recording), all-norec, tui (the live TUI in a 120x40 tmux,
# recording), or a probe name (that probe alone, --no-record).
# Env: STAKEOUT_BIN (./bin/stakeout), BASE_BIN, BENCH_SERIAL, BENCH_ROUNDS (1), WARMUP (12),
# IDLE_ARGS (flags added to every run, e.g. "--iface lo --iface eth0": every
# interface that is up gets a capture and a 4 MiB ring by default).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-${BENCH_SECONDS:-60}}
shift || true
CONFIGS=("$@")
[ ${#CONFIGS[@]} -gt 0 ] || CONFIGS=(all all-norec tui host iostat signals packets diskfill kmsg conntrack modules coredump)
if ! command -v tmux >/dev/null; then # the live TUI needs a terminal
  echo "no tmux: the tui configuration is left out" >&2
  CONFIGS=("${CONFIGS[@]/tui/}")
fi
BIN=${STAKEOUT_BIN:-./bin/stakeout}
BASE=${BASE_BIN:-}
ROUNDS=${BENCH_ROUNDS:-1}
WARMUP=${WARMUP:-12}
ARGS=${IDLE_ARGS:-}
TICK=$(getconf CLK_TCK)
OUT=$(mktemp -d /tmp/stakeout-idle.XXXXXX)
SOCK=stakeout-idle-$$
RESULTS=$OUT/results
PIDS=()
SOCKS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for s in "${SOCKS[@]}"; do tmux -L "$s" kill-server 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT

# sample PID -> "ticks run_ns voluntary involuntary rss_kb"; fails once PID is gone
sample() {
  local pid=$1 run=0 vol=0 inv=0 t r v n
  [ -r "/proc/$pid/stat" ] || return 1
  for t in /proc/"$pid"/task/*; do
    read -r r _ _ <"$t/schedstat" 2>/dev/null || continue
    v=$(awk '/^voluntary_ctxt_switches/{v=$2} /^nonvoluntary_ctxt_switches/{n=$2} END{print v+0, n+0}' "$t/status" 2>/dev/null) || continue
    run=$((run + r)); vol=$((vol + ${v% *})); inv=$((inv + ${v#* }))
  done
  t=$(awk '{print $14+$15}' "/proc/$pid/stat" 2>/dev/null) && r=$(awk '/^VmRSS:/{print $2}' "/proc/$pid/status" 2>/dev/null) || return 1
  echo "$t $run $vol $inv $r"
}

# start BIN CONFIG TAG -> the pid of what runs CONFIG
start() {
  local bin=$1 cfg=$2 tag=$3 d=$((WARMUP + SECS + 5))
  case $cfg in
  all) "$bin" snapshot --duration "${d}s" -o "$OUT/$tag.stk" $ARGS >/dev/null 2>&1 & echo $! ;;
  all-norec) "$bin" snapshot --duration "${d}s" --no-record $ARGS >/dev/null 2>&1 & echo $! ;;
  tui) # a tmux server of its own for each, so one's end cannot take another's
    tmux -L "$SOCK-$tag" new-session -d -x 120 -y 40 "TERM=xterm-256color exec $bin --record $OUT/$tag.stk $ARGS"
    sleep 0.5
    tmux -L "$SOCK-$tag" list-panes -F '#{pane_pid}' ;;
  *) "$bin" snapshot --probes "$cfg" --duration "${d}s" --no-record $ARGS >/dev/null 2>&1 & echo $! ;;
  esac
}

stop() {
  local pid=$1
  kill -INT "$pid" 2>/dev/null || true
}

row() { # row ROUND CONFIG BUILD BEFORE AFTER
  set -- "$1" "$2" "$3" $4 $5
  awk -v r="$1" -v c="$2" -v b="$3" -v s="$SECS" -v k="$TICK" \
    -v t0="$4" -v n0="$5" -v v0="$6" -v i0="$7" -v t1="$9" -v n1="${10}" -v v1="${11}" -v i1="${12}" -v rss="${13}" \
    'BEGIN{printf "%-5s %-10s %-5s %8.2f%% %8.3f%% %8.1f %8.1f %8d\n", r, c, b, 100*(t1-t0)/k/s, 100*(n1-n0)/1e9/s, (v1-v0)/s, (i1-i0)/s, rss}' | tee -a "$RESULTS"
}

echo "== idle cost over ${SECS}s after a ${WARMUP}s warm-up; $(nproc) CPUs; $(ls /proc | grep -c '^[0-9]') processes; $(ip -o link show up 2>/dev/null | wc -l) interfaces up; load $(cut -d' ' -f1-3 /proc/loadavg) =="
echo "   stakeout: $BIN${BASE:+; base: $BASE}${ARGS:+; flags: $ARGS}"
printf '%-5s %-10s %-5s %9s %9s %8s %8s %8s\n' round config build cpu_tick cpu_ns wake/s invol/s rss_kb
# measure ROUND CONFIG BUILD... (pairs of "name=binary"): runs them side by
# side over the same seconds and prints a row each.
measure() {
  local round=$1 cfg=$2 nb name bin i
  shift 2
  local names=() pids=() before=() after=()
  for nb in "$@"; do
    name=${nb%%=*} bin=${nb#*=}
    pids+=("$(start "$bin" "$cfg" "$name$round$cfg")") names+=("$name")
    PIDS+=("${pids[-1]}") SOCKS+=("$SOCK-$name$round$cfg")
  done
  sleep "$WARMUP"
  for i in "${!pids[@]}"; do before[i]=$(sample "${pids[i]}" || echo dead); done
  sleep "$SECS"
  for i in "${!pids[@]}"; do after[i]=$(sample "${pids[i]}" || echo dead); done
  for i in "${!pids[@]}"; do
    if [[ ${before[i]} == dead || ${after[i]} == dead ]]; then
      echo "$round $cfg ${names[i]}: the process ended early" >&2
    else
      row "$round" "$cfg" "${names[i]}" "${before[i]}" "${after[i]}"
    fi
  done
  for i in "${!PIDS[@]}"; do stop "${PIDS[i]}"; done
  for i in "${!SOCKS[@]}"; do tmux -L "${SOCKS[i]}" kill-server 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=() SOCKS=()
}

for round in $(seq "$ROUNDS"); do
  for cfg in "${CONFIGS[@]}"; do
    [ -n "$cfg" ] || continue
    if [ -z "$BASE" ]; then
      measure "$round" "$cfg" "new=$BIN"
    elif [ "${BENCH_SERIAL:-0}" = 1 ]; then # one at a time, who goes first alternating by round
      if ((round % 2)); then
        measure "$round" "$cfg" "new=$BIN"; measure "$round" "$cfg" "base=$BASE"
      else
        measure "$round" "$cfg" "base=$BASE"; measure "$round" "$cfg" "new=$BIN"
      fi
    else
      measure "$round" "$cfg" "new=$BIN" "base=$BASE"
    fi
  done
done
if [ "$ROUNDS" -gt 1 ]; then
  echo
  echo "== medians of $ROUNDS rounds =="
  printf '%-10s %-5s %9s %9s %8s %8s %8s\n' config build cpu_tick cpu_ns wake/s invol/s rss_kb
  for cfg in "${CONFIGS[@]}"; do
    [ -n "$cfg" ] || continue
    for b in new ${BASE:+base}; do
      awk -v c="$cfg" -v b="$b" '$2==c && $3==b {n++; t[n]=$4+0; s[n]=$5+0; w[n]=$6; i[n]=$7; m[n]=$8}
        function med(a,  k,j,x){ for(k=2;k<=n;k++){x=a[k]; for(j=k-1;j>0&&a[j]>x;j--) a[j+1]=a[j]; a[j+1]=x}; return n%2 ? a[(n+1)/2] : (a[n/2]+a[n/2+1])/2 }
        END{ if(n) printf "%-10s %-5s %8.2f%% %8.3f%% %8.1f %8.1f %8d\n", c, b, med(t), med(s), med(w), med(i), med(m) }' "$RESULTS"
    done
  done
fi
