package probes

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// /proc reads of the signals probe. All of them go through cfg.Procfs.

// readComm returns /proc/PID/comm without its newline, read with plain
// open, read and close (os.ReadFile's fstat, poller registration and
// fcntls more than double that, for every signal's sender and every
// process coredump lists).
func (c Config) readComm(pid int) (string, error) {
	var buf [128]byte // a comm is at most 15 bytes; a workqueue worker's, with its queue, up to 64
	b, err := readProcInto(c.ProcPath(strconv.Itoa(pid), "comm"), buf[:])
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

// senderComm names a signal's sender right away; a sender that has already
// exited (kill then exit is common: logrotate, kill(1)) is "exited".
func (c Config) senderComm(pid int) string {
	if comm, err := c.readComm(pid); err == nil {
		return comm
	}
	return "exited"
}

// statusInt reads one numeric field ("TracerPid", "Tgid") of /proc/PID/status.
// Host mode does this for every signal on the host, so it reads only the
// head of the file, where Tgid and TracerPid are, with plain syscalls.
func (c Config) statusInt(pid int, field string) (int, error) {
	path := c.ProcPath(strconv.Itoa(pid), "status")
	var head [1024]byte
	b, err := readProcInto(path, head[:])
	if err != nil {
		return 0, err
	}
	if v, err := parseStatusInt(b, field); err == nil || len(b) < len(head) {
		return v, err
	}
	if b, err = os.ReadFile(path); err != nil { // a field further down
		return 0, err
	}
	return parseStatusInt(b, field)
}

func parseStatusInt(b []byte, field string) (int, error) {
	for line := range bytes.Lines(b) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && string(k) == field {
			return strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	return 0, fmt.Errorf("no %s in status", field)
}

// taskIDs lists the threads of a process, sorted.
func (c Config) taskIDs(pid int) ([]int, error) {
	ents, err := os.ReadDir(c.ProcPath(strconv.Itoa(pid), "task"))
	if err != nil {
		return nil, err
	}
	out := make([]int, 0, len(ents))
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out, nil
}

// exePath is where /proc/PID/exe points ("" if it can't be read).
func (c Config) exePath(pid int) string {
	p, _ := os.Readlink(c.ProcPath(strconv.Itoa(pid), "exe"))
	return p
}

// pids lists every process in /proc.
func (c Config) pids() []int {
	ents, _ := os.ReadDir(c.Procfs)
	out := make([]int, 0, len(ents))
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// matchesProc says whether pid is one --proc NAME means: comm equals NAME
// (comm is cut to 15 bytes by the kernel, so a longer NAME matches its
// first 15), or the basename of its executable equals NAME.
func (c Config) matchesProc(pid int, names []string) bool {
	comm, err := c.readComm(pid)
	if err != nil {
		return false
	}
	if commMatches(comm, names) {
		return true
	}
	exe := filepath.Base(strings.TrimSuffix(c.exePath(pid), " (deleted)"))
	for _, n := range names {
		if exe == n {
			return true
		}
	}
	return false
}

// commMatches: comm is one of names, or a name's first 15 bytes.
func commMatches(comm string, names []string) bool {
	for _, n := range names {
		if comm == n || (len(n) > 15 && comm == n[:15]) {
			return true
		}
	}
	return false
}

// targetProblem explains, in words, why pid can't be traced, or returns
// nil. It only reads /proc, so Check can call it.
func (c Config) targetProblem(pid, self int) error {
	if pid == self {
		return fmt.Errorf("pid %d is stakeout itself", pid)
	}
	if _, err := os.Stat(c.ProcPath(strconv.Itoa(pid))); errors.Is(err, fs.ErrNotExist) || pid <= 0 {
		return fmt.Errorf("pid %d: no such process", pid)
	}
	tracer, err := c.statusInt(pid, "TracerPid")
	if err != nil {
		return fmt.Errorf("pid %d: %v", pid, err)
	}
	if tracer == 0 {
		return nil
	}
	// TracerPid is the tracing thread; name its process.
	if g, err := c.statusInt(tracer, "Tgid"); err == nil {
		tracer = g
	}
	if tracer != self {
		comm, err := c.readComm(tracer)
		if err != nil {
			comm = "?"
		}
		return fmt.Errorf("pid %d is already traced by pid %d (%s)", pid, tracer, comm)
	}
	return nil
}

// hasPtracePermission: root, or CAP_SYS_PTRACE (bit 19) in CapEff.
func (c Config) hasPtracePermission() bool {
	if os.Geteuid() == 0 {
		return true
	}
	b, err := os.ReadFile(c.ProcPath("self", "status"))
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<19) != 0
		}
	}
	return false
}

// pidNS identifies a process's pid namespace (the ns/pid link's target).
func (c Config) pidNS(pid string) string {
	ns, _ := os.Readlink(c.ProcPath(pid, "ns", "pid"))
	return ns
}

// senders is a probe's cache of what it read about signal senders, by the
// id the kernel gave (a thread id in host mode, a process id in ptrace
// mode). One goroutine uses it.
type senders struct {
	cfg   Config
	m     map[int]*senderInfo
	tgids map[int]tgidAt // host mode: the thread group of each signalled task
	buf   [4096]byte
}

// tgidAt is a task's thread group as read at readAt (unix ns), while the
// task had comm.
type tgidAt struct {
	tgid   int
	comm   string
	readAt int64
}

func newSenders(cfg Config) *senders {
	return &senders{cfg: cfg, m: map[int]*senderInfo{}, tgids: map[int]tgidAt{}}
}

// targetTgid is the thread group (the process) of task tid, which a signal
// was sent to and which the tracepoint names with comm. It is read from
// /proc/TID/status once per senderTTL, and reused only while the task
// still has that comm: a shell that reaps its children gets a SIGCHLD for
// each, dozens a second on a busy host, and the open, read and close each
// was a quarter of what host mode cost there.
func (ss *senders) targetTgid(tid int, comm string) (int, bool) {
	now := time.Now().UnixNano()
	if t, ok := ss.tgids[tid]; ok && now-t.readAt < senderTTL && t.comm == comm {
		return t.tgid, true
	}
	g, err := ss.cfg.statusInt(tid, "Tgid")
	if err != nil {
		delete(ss.tgids, tid)
		return 0, false
	}
	if len(ss.tgids) >= maxSenders {
		clear(ss.tgids)
	}
	ss.tgids[tid] = tgidAt{tgid: g, comm: comm, readAt: now}
	return g, true
}

// lookup reads, or recalls, what /proc says about sender id; nil when the
// sender has already exited.
func (ss *senders) lookup(id int) *senderInfo {
	now := time.Now().UnixNano()
	if si := ss.m[id]; si != nil && now-si.readAt < senderTTL {
		return si
	}
	tgid, err := ss.cfg.statusInt(id, "Tgid")
	if err != nil {
		return nil
	}
	st, err := ss.cfg.readStat(tgid)
	if err != nil {
		return nil
	}
	si := &senderInfo{tgid: tgid, ppid: st.ppid, tty: ttyName(st.tty), readAt: now}
	if st.ppid > 0 {
		si.parentComm, _ = ss.cfg.readComm(st.ppid)
	}
	if b, err := readProcInto(ss.cfg.ProcPath(strconv.Itoa(tgid), "cgroup"), ss.buf[:]); err == nil {
		si.cgroup = cgroupPath(b)
		si.unit = cgroupUnit(si.cgroup)
	}
	if len(ss.m) >= maxSenders {
		clear(ss.m)
	}
	ss.m[id] = si
	return si
}
