#!/usr/bin/env bash
# Bytes per second the live TUI sends to the engineer's terminal over a real
# SSH login, beside htop's, at 120x40. A throwaway sshd listens on 127.0.0.1
# (its own host key, one authorized key, config and pid file in a temp dir;
# the system's sshd config and root's ~/.ssh are not touched). tmux, on its
# own socket, runs `ssh -tt` in a 120x40 pane (so the remote pty is 120x40);
# `pipe-pane` counts what the ssh client writes to its terminal (the TUI's
# bytes after decryption), and `ss` on the server's socket counts the bytes
# on the wire (the encrypted SSH packets: TCP payload, not IP/TCP headers). Each
# tool runs alone for SECONDS after a 5 s warm-up, ROUNDS times, alternating
# which goes first. Prints figures; asserts nothing (the machines are noisy).
# Without sshd (openssh-server is not in BENCH_PKGS: installing it starts a
# listening sshd on most hosts) it measures through the tmux pty alone and
# says so; SSH then adds its framing on top (about 10-20% here, see
# bench/README.md).
# Usage: bench/tuibytes.sh [SECONDS] [ROUNDS]   (default 60 and 2)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-${BENCH_SECONDS:-60}}
ROUNDS=${2:-2}
WARM=5
BIN=$PWD/bin/stakeout
SSHD=${SSHD:-$(command -v sshd || echo /usr/sbin/sshd)}   # SSHD=none: pty only
for t in tmux htop; do
  command -v "$t" >/dev/null || { echo "tuibytes: $t not installed (make deps-bench); skipped"; exit 0; }
done
[ "$(id -u)" = 0 ] || { echo "tuibytes: needs root (the TUI's probes, sshd); skipped"; exit 0; }
VIA=ssh
for t in "$SSHD" ssh ssh-keygen ss python3; do
  command -v "$t" >/dev/null || { VIA=pty; echo "tuibytes: no $t, so no SSH login: measuring through a 120x40 tmux pty only (SSH adds its framing on top)"; break; }
done

T=$(mktemp -d /tmp/stk-tuibytes.XXXXXX)
SOCK=stk-tuibytes-$$
MADE_PRIVSEP=
SSHD_PID=
cleanup() {
  tmux -L "$SOCK" kill-server 2>/dev/null || true
  for f in "$T"/*.pid; do
    [ -f "$f" ] || continue
    p=$(cat "$f"); [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  [ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null && wait "$SSHD_PID" 2>/dev/null || true
  [ -n "$MADE_PRIVSEP" ] && rmdir /run/sshd 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

LAUNCH=(sh -c)
if [ "$VIA" = ssh ]; then
  # sshd (OpenSSH on Debian) insists on its privilege separation directory.
  if [ ! -d /run/sshd ]; then mkdir -m 0755 /run/sshd; MADE_PRIVSEP=1; fi
  ssh-keygen -q -t ed25519 -N '' -f "$T/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$T/id"
  cp "$T/id.pub" "$T/authorized_keys"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$T/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $T/host_key
PidFile $T/sshd.pidfile
AuthorizedKeysFile $T/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
ClientAliveInterval 0
EOF
  "$SSHD" -D -e -f "$T/sshd_config" 2>"$T/sshd.log" &
  SSHD_PID=$!
  for _ in $(seq 50); do ss -ltnH "sport = :$PORT" | grep -q . && break; sleep 0.1; done
  SSH=(ssh -tt -p "$PORT" -i "$T/id" -o StrictHostKeyChecking=no -o UserKnownHostsFile="$T/known_hosts"
    -o LogLevel=ERROR -o BatchMode=yes root@127.0.0.1)
  "${SSH[@]/-tt/-T}" true </dev/null || { echo "tuibytes: ssh login to the test sshd failed:"; cat "$T/sshd.log"; exit 1; }
  LAUNCH=("${SSH[@]}")
fi

# wire_bytes: bytes the server's side of the login has sent (ss's bytes_sent).
wire_bytes() {
  [ "$VIA" = ssh ] || { echo; return; }
  ss -tinH state established "( sport = :$PORT )" | grep -o 'bytes_sent:[0-9]*' | head -1 | cut -d: -f2
}

# measure NAME REMOTE_CMD: one login running REMOTE_CMD in a 120x40 pane;
# prints "term_bytes/s wire_bytes/s" over SECS after the warm-up.
measure() {
  local name=$1 cmd=$2 out="$T/$1.out" t0 t1 w0 w1
  : >"$out"
  tmux -L "$SOCK" kill-server 2>/dev/null || true
  tmux -L "$SOCK" -f /dev/null new-session -d -s tb -x 120 -y 40 \
    "$(printf '%q ' "${LAUNCH[@]}")$(printf '%q' "echo \$\$ >$T/$name.pid; cd $T; exec env HOME=$T TERM=xterm-256color $cmd")"
  tmux -L "$SOCK" pipe-pane -o -t tb "cat >>$out"
  sleep "$WARM"
  t0=$(stat -c %s "$out"); w0=$(wire_bytes)
  sleep "$SECS"
  t1=$(stat -c %s "$out"); w1=$(wire_bytes)
  local cols; cols=$(tmux -L "$SOCK" display -p -t tb '#{pane_width}x#{pane_height}')
  tmux -L "$SOCK" capture-pane -p -t tb >"$T/$name.screen"
  tmux -L "$SOCK" kill-server 2>/dev/null || true
  sleep 0.5
  local p; p=$(cat "$T/$name.pid" 2>/dev/null || true)
  [ -n "$p" ] && kill "$p" 2>/dev/null || true
  rm -f "$T/$name.pid"
  grep -q . "$T/$name.screen" || { echo "tuibytes: $name showed nothing" >&2; }
  local wire=-; [ -n "$w0" ] && [ -n "$w1" ] && wire=$(( (w1-w0)/SECS ))
  echo "$(( (t1-t0)/SECS )) $wire $cols"
}

echo "== Terminal output over $VIA at 120x40, ${SECS}s each after ${WARM}s, $ROUNDS rounds (load: $(cut -d' ' -f1-3 /proc/loadavg)) =="
printf '%-5s %-44s %12s %12s %8s\n' round tool term_B/s wire_B/s pty
STK="$BIN --record $T/live.stk"
HTOP="htop"
s_sum=0; h_sum=0
for r in $(seq "$ROUNDS"); do
  if (( r % 2 )); then order="stakeout htop"; else order="htop stakeout"; fi
  for who in $order; do
    rm -f "$T/live.stk"
    if [ "$who" = stakeout ]; then
      read -r tb wb pty < <(measure stakeout "$STK")
      s_sum=$((s_sum+tb)); label="stakeout (default probes, recording)"
    else
      read -r tb wb pty < <(measure htop "$HTOP")
      h_sum=$((h_sum+tb)); label="htop (defaults: 1.5 s delay)"
    fi
    printf '%-5s %-44s %12s %12s %8s\n' "$r" "$label" "$tb" "$wb" "$pty"
  done
done
awk -v s="$s_sum" -v h="$h_sum" -v n="$ROUNDS" 'BEGIN{
  printf "mean: stakeout %.0f B/s, htop %.0f B/s, stakeout/htop %.2f (target: stakeout < 10240 B/s idle)\n", s/n, h/n, (h>0 ? s/h : 0)}'
