package probes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/procfs"
	"github.com/stakeout/stakeout/schema"
)

// ReadProcess reads what the process inspector shows of one process from
// the /proc at procRoot: its command line, state, parent chain, ids,
// cgroup, start time, threads (each with its state, wait channel and
// kernel stack), open fds and their targets, resource limits and I/O
// counters. Everything is bounded by schema's MaxSnap caps, so a process
// with 10,000 threads or fds costs a bounded read and gives a bounded
// event. A part that cannot be read (a kernel stack without root, a
// process of another user's io) is named in Errors and the rest is still
// read; a process that is not there is an error.
//
// It reads with github.com/prometheus/procfs where that has the file. It
// does not for the listing of threads and fds (procfs reads a whole
// directory of any size, this reads the first entries only), a thread's
// kernel stack (procfs has no reader for it) and the limits (procfs keeps
// only the soft ones, and a core size limit's hard one says whether the
// service could raise it).
func ReadProcess(procRoot string, pid int) (*schema.ProcessSnapshot, error) {
	pfs, err := procfs.NewFS(procRoot)
	if err != nil {
		return nil, Unavailablef("cannot read %s: %v", procRoot, unwrapPathError(err))
	}
	p, err := pfs.Proc(pid)
	if err != nil {
		return nil, noProcess(pid, err)
	}
	st, err := p.Stat()
	if err != nil {
		return nil, noProcess(pid, err)
	}
	s := &schema.ProcessSnapshot{PID: pid, Comm: st.Comm, State: st.State, PPID: st.PPID,
		ThreadsTotal: st.NumThreads, Cmdline: []string{}, Threads: []schema.ThreadSnap{}, FDs: []schema.FDSnap{}}
	var errs snapErrors
	if start, err := st.StartTime(); err == nil {
		s.Started = time.Unix(0, int64(start*1e9)).UTC()
	} else {
		errs.add("start time", err)
	}
	if args, err := p.CmdLine(); err == nil {
		s.Cmdline = args
	} else {
		errs.add("cmdline", err)
	}
	if w, err := p.Wchan(); err == nil {
		s.Wchan = w
	} else {
		errs.add("wchan", err)
	}
	if ps, err := p.NewStatus(); err == nil {
		s.UID, s.EUID = int(ps.UIDs[0]), int(ps.UIDs[1])
	} else {
		errs.add("status", err)
	}
	if cgs, err := p.Cgroups(); err == nil {
		s.Cgroup = cgroupOf(cgs)
	} else {
		errs.add("cgroup", err)
	}
	if lim, err := readLimits(filepath.Join(procRoot, strconv.Itoa(pid), "limits")); err == nil {
		s.Limits = lim
	} else {
		errs.add("limits", err)
	}
	if io, err := p.IO(); err == nil {
		s.IO = &schema.ProcIO{RChar: io.RChar, WChar: io.WChar, SyscR: io.SyscR, SyscW: io.SyscW,
			ReadBytes: io.ReadBytes, WriteBytes: io.WriteBytes, CancelledWriteBytes: io.CancelledWriteBytes}
	} else {
		errs.add("io", err)
	}
	s.Parents = parentChain(pfs, st.PPID)
	readThreads(procRoot, p, s, &errs)
	readFDs(procRoot, p, s, &errs)
	s.Errors = errs.list
	s.Bound()
	return s, nil
}

// noProcess says a pid is not there, or why it could not be read.
func noProcess(pid int, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pid %d: no such process", pid)
	}
	return fmt.Errorf("pid %d: %v", pid, unwrapPathError(err))
}

// snapErrors collects what could not be read, once per part.
type snapErrors struct{ list []string }

func (e *snapErrors) add(part string, err error) {
	msg := part + ": " + unwrapPathError(err).Error()
	if !slices.Contains(e.list, msg) && len(e.list) < schema.MaxSnapErrors {
		e.list = append(e.list, msg)
	}
}

// cgroupOf is the cgroup v2 path, or on a v1-only host each hierarchy's
// line, joined with ";".
func cgroupOf(cgs []procfs.Cgroup) string {
	var v1 []string
	for _, c := range cgs {
		if c.HierarchyID == 0 {
			return c.Path
		}
		v1 = append(v1, strconv.Itoa(c.HierarchyID)+":"+strings.Join(c.Controllers, ",")+":"+c.Path)
	}
	return strings.Join(v1, ";")
}

// parentChain follows ppid up to pid 1 (or a parent that is gone), at
// most schema.MaxSnapParents steps; a loop (a pid reused while read)
// ends it.
func parentChain(pfs procfs.FS, ppid int) []schema.ProcRef {
	var out []schema.ProcRef
	seen := map[int]bool{}
	for ppid > 0 && len(out) < schema.MaxSnapParents && !seen[ppid] {
		seen[ppid] = true
		pp, err := pfs.Proc(ppid)
		if err != nil {
			break
		}
		st, err := pp.Stat()
		if err != nil {
			break
		}
		out = append(out, schema.ProcRef{PID: ppid, Comm: st.Comm})
		ppid = st.PPID
	}
	return out
}

// readThreads reads the state of up to MaxSnapThreadsScanned threads,
// counts them by state, and lists up to MaxSnapThreads with their wait
// channel and kernel stack: those in uninterruptible sleep first (what a
// hung process waits on), then the main thread, then the rest by tid.
func readThreads(procRoot string, p procfs.Proc, s *schema.ProcessSnapshot, errs *snapErrors) {
	dir := filepath.Join(procRoot, strconv.Itoa(p.PID), "task")
	names, err := readDirNames(dir, schema.MaxSnapThreadsScanned, make([]byte, 8192), nil)
	if err != nil {
		errs.add("threads", err)
		return
	}
	var ts []schema.ThreadSnap
	s.ThreadStates = map[string]int{}
	for _, n := range names {
		tid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		tp, err := p.Thread(tid)
		if err != nil {
			continue // it ended since the listing
		}
		st, err := tp.Stat()
		if err != nil {
			continue
		}
		s.ThreadStates[st.State]++
		ts = append(ts, schema.ThreadSnap{TID: tid, Comm: st.Comm, State: st.State})
	}
	if s.ThreadsTotal < len(ts) {
		s.ThreadsTotal = len(ts)
	}
	rank := func(t schema.ThreadSnap) int {
		switch {
		case t.State == "D":
			return 0
		case t.TID == p.PID:
			return 1
		}
		return 2
	}
	sort.SliceStable(ts, func(i, j int) bool {
		if ri, rj := rank(ts[i]), rank(ts[j]); ri != rj {
			return ri < rj
		}
		return ts[i].TID < ts[j].TID
	})
	if len(ts) > schema.MaxSnapThreads {
		ts, s.Truncated = ts[:schema.MaxSnapThreads], true
	}
	buf := make([]byte, 16<<10)
	for i := range ts {
		t := &ts[i]
		if tp, err := p.Thread(t.TID); err == nil {
			if w, err := tp.Wchan(); err == nil {
				t.Wchan = w
			}
		}
		b, err := readProcInto(filepath.Join(dir, strconv.Itoa(t.TID), "stack"), buf)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs.add("kernel stack", err)
			}
			continue
		}
		t.Stack = stackLines(b)
	}
	s.Threads = ts
}

// stackLines splits /proc/PID/task/TID/stack into frames, without the
// "[<0>] " address prefix the kernel prints (zeros unless kptr_restrict
// allows more).
func stackLines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() && len(out) < schema.MaxSnapStackLines {
		l := strings.TrimSpace(sc.Text())
		if i := strings.Index(l, "] "); strings.HasPrefix(l, "[<") && i > 0 {
			l = l[i+2:]
		}
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// readFDs counts the process's open fds and lists the lowest
// MaxSnapFDs with their targets.
func readFDs(procRoot string, p procfs.Proc, s *schema.ProcessSnapshot, errs *snapErrors) {
	dir := filepath.Join(procRoot, strconv.Itoa(p.PID), "fd")
	n, err := p.FileDescriptorsLen()
	if err != nil {
		errs.add("fds", err)
		return
	}
	s.FDsTotal = n
	names, err := readDirNames(dir, schema.MaxSnapFDs, make([]byte, 8192), nil)
	if err != nil {
		errs.add("fds", err)
		return
	}
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		target, err := os.Readlink(filepath.Join(dir, name))
		if err != nil {
			continue // closed since the listing
		}
		s.FDs = append(s.FDs, schema.FDSnap{FD: fd, Target: target})
	}
	sort.Slice(s.FDs, func(i, j int) bool { return s.FDs[i].FD < s.FDs[j].FD })
	if len(s.FDs) > s.FDsTotal {
		s.FDsTotal = len(s.FDs)
	}
	if s.FDsTotal > len(s.FDs) {
		s.Truncated = true
	}
}

// limitNames are prlimit(1)'s names for the rows of /proc/PID/limits.
var limitNames = map[string]string{
	"Max cpu time": "cpu", "Max file size": "fsize", "Max data size": "data",
	"Max stack size": "stack", "Max core file size": "core", "Max resident set": "rss",
	"Max processes": "nproc", "Max open files": "nofile", "Max locked memory": "memlock",
	"Max address space": "as", "Max file locks": "locks", "Max pending signals": "sigpending",
	"Max msgqueue size": "msgqueue", "Max nice priority": "nice", "Max realtime priority": "rtprio",
	"Max realtime timeout": "rttime",
}

// readLimits reads /proc/PID/limits, soft and hard, by the columns its
// header line names; "unlimited" is -1.
func readLimits(path string) (map[string]schema.Limit, error) {
	b, err := readProcInto(path, make([]byte, 4096))
	if err != nil {
		return nil, err
	}
	return parseLimits(b)
}

func parseLimits(b []byte) (map[string]schema.Limit, error) {
	lines := strings.Split(string(b), "\n")
	if len(lines) < 2 {
		return nil, errors.New("no limits")
	}
	h := lines[0]
	soft, hard, units := strings.Index(h, "Soft Limit"), strings.Index(h, "Hard Limit"), strings.Index(h, "Units")
	if soft <= 0 || hard <= soft || units <= hard {
		return nil, fmt.Errorf("unexpected header %q", h)
	}
	num := func(s string) (int64, bool) {
		s = strings.TrimSpace(s)
		if s == "unlimited" {
			return -1, true
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	out := map[string]schema.Limit{}
	for _, l := range lines[1:] {
		if len(l) <= hard {
			continue
		}
		name := strings.TrimSpace(l[:soft])
		key, ok := limitNames[name]
		if !ok {
			key = strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, "Max "), " ", "_"))
		}
		sv, ok1 := num(l[soft:hard])
		hv, ok2 := num(l[hard:min(units, len(l))])
		if !ok1 || !ok2 || key == "" {
			continue
		}
		unit := ""
		if len(l) > units {
			unit = strings.TrimSpace(l[units:])
		}
		out[key] = schema.Limit{Soft: sv, Hard: hv, Unit: unit}
	}
	return out, nil
}
