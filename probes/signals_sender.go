package probes

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/stakeout/stakeout/schema"
)

// Who sent a signal, beyond its pid and comm: the parent, the cgroup (and
// so the systemd unit) and the controlling terminal, read from /proc when
// stakeout handles the signal (host mode: at once after a quiet spell,
// within about 100 ms while others keep coming, see gatherPause; in ptrace
// mode at delivery) and kept per sender for a few seconds, so a burst from
// one sender costs the reads once.

// senderTTL is how long what was read about a sender is reused. A pid is
// not reused that fast on any real host (pids wrap at pid_max).
const senderTTL = 5e9 // ns

// maxSenders bounds the cache; past it, it starts over.
const maxSenders = 1024

// senderInfo is what is known about one sender process.
type senderInfo struct {
	tgid       int
	ppid       int
	parentComm string
	cgroup     string
	unit       string
	tty        string
	readAt     int64 // unix ns
}

// apply copies what is known into s.
func (si *senderInfo) apply(s *schema.Signal) {
	s.SenderPPID, s.SenderParentComm = si.ppid, si.parentComm
	s.SenderCgroup, s.SenderUnit, s.SenderTTY = si.cgroup, si.unit, si.tty
}

// ParseSignal reads a signal as --signals-include takes it: "SIGURG",
// "URG", "urg", "23" or "SIGRTMIN+3".
func ParseSignal(s string) (int, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if n, err := strconv.Atoi(t); err == nil {
		if n < 1 || n > 64 {
			return 0, fmt.Errorf("%q: signal numbers run from 1 to 64", s)
		}
		return n, nil
	}
	if !strings.HasPrefix(t, "SIG") {
		t = "SIG" + t
	}
	for n := 1; n <= 64; n++ {
		if schema.SignalName(n) == t {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%q is not a signal name or number", s)
}

// hostIgnoredDefault are the signals --signals host leaves out unless
// --signals-include names them: SIGURG is how the Go runtime (and others)
// preempt their own threads, about 100 a second on a busy host, stakeout's
// own included, and never what an on-call engineer is after.
var hostIgnoredDefault = []int{23}

// hostFilter decides which generated signals host mode records.
type hostFilter struct {
	ignored map[int]bool // by signal number
	own     map[int]bool // stakeout's own processes: itself and its watchdog
}

func newHostFilter(include []string, self int) hostFilter {
	f := hostFilter{ignored: map[int]bool{}, own: map[int]bool{self: true}}
	for _, n := range hostIgnoredDefault {
		f.ignored[n] = true
	}
	for _, s := range include {
		if n, err := ParseSignal(s); err == nil {
			delete(f.ignored, n)
		}
	}
	return f
}

// wantSignal says whether signal signo is recorded at all; it needs
// nothing but the trace line, so the rest is skipped for the others.
func (f hostFilter) wantSignal(signo int) bool { return !f.ignored[signo] }

// wantTarget says whether a signal to process pid (a tgid) is recorded:
// not when it goes to stakeout itself or its helpers.
func (f hostFilter) wantTarget(pid int) bool { return !f.own[pid] }

// kernelFilter is the tracefs filter expression for signal_generate that
// drops the ignored signals in the kernel, before they reach the ring
// buffer or wake stakeout ("" when nothing is ignored).
func (f hostFilter) kernelFilter() string {
	var parts []string
	for n := 1; n <= 64; n++ {
		if f.ignored[n] {
			parts = append(parts, "sig != "+strconv.Itoa(n))
		}
	}
	return strings.Join(parts, " && ")
}

// cgroupPath picks the process's cgroup from /proc/PID/cgroup: the
// unified (v2) "0::" line, else systemd's named v1 hierarchy.
func cgroupPath(b []byte) string {
	var v1 string
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p
		}
		if _, p, ok := strings.Cut(l, ":name=systemd:"); ok {
			v1 = p
		}
	}
	return v1
}

// cgroupUnit is the systemd unit a cgroup path belongs to: its innermost
// service or scope ("/system.slice/logrotate.service" is
// logrotate.service; "/user.slice/user-0.slice/session-3.scope" is
// session-3.scope). "" when it names none.
func cgroupUnit(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if strings.HasSuffix(parts[i], ".service") || strings.HasSuffix(parts[i], ".scope") {
			return parts[i]
		}
	}
	return ""
}

// ttyName names a controlling terminal from /proc/PID/stat's tty_nr (a
// device number); "" for none.
func ttyName(nr int) string {
	if nr == 0 {
		return ""
	}
	major := (nr >> 8) & 0xfff
	minor := (nr & 0xff) | ((nr >> 12) & 0xfff00)
	switch {
	case major >= 136 && major <= 143:
		return "pts/" + strconv.Itoa((major-136)*256+minor)
	case major == 4 && minor < 64:
		return "tty" + strconv.Itoa(minor)
	case major == 4:
		return "ttyS" + strconv.Itoa(minor-64)
	case major == 5 && minor == 1:
		return "console"
	}
	return strconv.Itoa(major) + ":" + strconv.Itoa(minor)
}
