# Shared by bench/packets.sh and bench/stream.sh (sourced, not run): the
# one-flow UDP flood over lo and the CPU measure they both use. Needs N
# (datagrams) and OUT (where udpflood was built).

# cpu_ns PID: CPU time of all the process's threads so far, in ns.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s+=$1} END{printf "%d", s}'; }
# per_m NS PACKETS -> CPU seconds per million packets
per_m() { awk -v t="$1" -v n="$2" 'BEGIN{ if (n>0) printf "%.3f", t/1e9/(n/1e6); else print "-" }'; }
# flood PID: run the flood, print "sender_pps cpu_ns" for PID over it.
flood() {
  local c0 c1 rate
  c0=$(cpu_ns "$1")
  rate=$("$OUT/udpflood" -n "$N" | awk '{print $(NF-1)}')
  sleep 1
  c1=$(cpu_ns "$1")
  echo "$rate $((c1 - c0))"
}
