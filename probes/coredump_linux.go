package probes

// The coredump probe says, before anything crashes, whether a crash would
// leave a core dump: where core_pattern sends it, whether that program
// exists, and the core size limit of the watched processes.

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

const coredumpName = schema.ProbeCoredump

var coredumpSpec = Spec{
	Name:     coredumpName,
	Help:     "whether a crash would leave a core dump: core_pattern, its pipe target, core size limits (--pid/--proc, or every process)",
	New:      func(cfg Config) Probe { return newCoredump(cfg) },
	Validate: validatePIDs,
}

const (
	coreMaxProcs    = 4096 // processes whose limits are read in one pass
	coreMaxListed   = 32   // processes with a zero limit listed in the event
	coreAllProcsGap = 5 * time.Second
)

type coredumpProbe struct {
	cfg    Config
	now    func() time.Time
	exists func(path string) bool // in the host's root
	// The sysctls read every interval, kept open by Run (see procFile),
	// and a buffer for the per-process files of the 5 s scan.
	sysctls map[string]*procFile
	buf     [4096]byte
	// kthreads remembers, for the pids listed at the last scan, whether
	// each is a kernel thread, so a scan reads stat only for new pids. A
	// pid that vanished and was reused between two scans 5 s apart (the
	// kernel cycles through pid_max before reusing one) is the only miss.
	kthreads map[int]bool
}

func newCoredump(cfg Config) *coredumpProbe {
	p := &coredumpProbe{cfg: cfg, now: time.Now}
	p.exists = p.inInitRoot
	return p
}

// inInitRoot checks path in init's root (/proc/1/root), since the kernel
// starts a core_pattern pipe helper in the initial namespaces: a container's
// own /usr/share/apport says nothing. Without access there, it checks ours.
func (p *coredumpProbe) inInitRoot(path string) bool { return existsInInitRoot(p.cfg, path) }

func (p *coredumpProbe) Check() error {
	path := p.cfg.ProcPath("sys", "kernel", "core_pattern")
	if _, err := os.ReadFile(path); err != nil {
		return Unavailablef("cannot read %s: %v", path, err)
	}
	// Watching only --pid processes of which none exists would show a
	// readiness of no process at all; say so, as the signals pane does.
	if sc := p.cfg.Signals; len(sc.PIDs) > 0 && len(sc.Procs) == 0 {
		var missing []string
		for _, pid := range sc.PIDs {
			if err := pidExists(p.cfg, pid); err != nil {
				missing = append(missing, "pid "+err.Error())
			}
		}
		if len(missing) == len(sc.PIDs) {
			return Unavailablef("%s", strings.Join(missing, "; "))
		}
	}
	return nil
}

// Run reads the settings every interval and the process limits every
// interval when watching given processes, every 5 s when reading them all.
// It emits only when something changed.
func (p *coredumpProbe) Run(ctx context.Context, emit Emit) error {
	defer func() {
		for _, f := range p.sysctls {
			f.close()
		}
	}()
	var last *schema.CoreReadiness
	var procsAt time.Time
	var procs coreProcs
	pl := newPoller(p.cfg)
	pl.atOnce = true // the settings at the start are the first sample; reading never fails
	return pl.run(ctx, func() error {
		watched := len(p.cfg.Signals.PIDs) > 0 || len(p.cfg.Signals.Procs) > 0
		if now := p.now(); watched || now.Sub(procsAt) >= coreAllProcsGap {
			procs, procsAt = p.readProcs(), now
		}
		cur := p.read(procs)
		if last == nil || !reflect.DeepEqual(*last, cur) {
			c := cur
			emit(event.New(p.now(), coredumpName, &c))
			last = &cur
		}
		return nil
	})
}

func (p *coredumpProbe) read(procs coreProcs) schema.CoreReadiness {
	r := schema.CoreReadiness{
		CorePattern:   p.sysctl("kernel", "core_pattern"),
		CorePipeLimit: schema.KAtoi(p.sysctl("kernel", "core_pipe_limit")),
		SuidDumpable:  schema.KAtoi(p.sysctl("fs", "suid_dumpable")),
		Watched:       procs.watched, Processes: procs.n, ZeroLimit: procs.zero, NoCore: procs.listed,
		Limits: procs.all,
	}
	if target, ok := schema.PipeTarget(r.CorePattern); ok {
		r.PipeTarget = target
		ex := p.exists(target)
		r.PipeTargetExists = &ex
	}
	r.SystemdCoredump = strings.Contains(r.CorePattern, "systemd-coredump") ||
		p.exists("/usr/lib/systemd/systemd-coredump") || p.exists("/lib/systemd/systemd-coredump")
	return r
}

func (p *coredumpProbe) sysctl(parts ...string) string {
	path := p.cfg.ProcPath(append([]string{"sys"}, parts...)...)
	f := p.sysctls[path]
	if f == nil {
		if p.sysctls == nil {
			p.sysctls = map[string]*procFile{}
		}
		f = newProcFile(path)
		p.sysctls[path] = f
	}
	b, _ := f.read()
	return strings.TrimRight(string(b), "\n")
}

type coreProcs struct {
	watched bool
	n, zero int
	listed  []schema.CoreLimit
	all     []schema.CoreLimit // when watched: every one read
}

// readProcs reads RLIMIT_CORE of the --pid/--proc processes, or of every
// process (up to coreMaxProcs) when none is given.
func (p *coredumpProbe) readProcs() coreProcs {
	sc := p.cfg.Signals
	cp := coreProcs{watched: len(sc.PIDs) > 0 || len(sc.Procs) > 0}
	var pids []int
	if cp.watched {
		pids = append(pids, sc.PIDs...)
	}
	if !cp.watched || len(sc.Procs) > 0 {
		ents, _ := readDirNames(p.cfg.Procfs, -1, p.buf[:], nil)
		seen := make(map[int]bool, len(p.kthreads))
		defer func() { p.kthreads = seen }()
		for _, e := range ents {
			pid, err := strconv.Atoi(e)
			if err != nil || len(pids) >= coreMaxProcs {
				continue
			}
			kt, known := p.kthreads[pid]
			if !known {
				kt = p.kernelThread(pid)
			}
			seen[pid] = kt
			if kt {
				continue // never dumps core
			}
			if !cp.watched || p.procNamed(pid, sc.Procs) {
				pids = append(pids, pid)
			}
		}
	}
	for _, pid := range pids {
		b, err := readProcInto(p.cfg.ProcPath(strconv.Itoa(pid), "limits"), p.buf[:])
		if err != nil {
			continue // gone, or a kernel thread
		}
		soft, hard, ok := parseCoreLimit(b)
		if !ok {
			continue
		}
		cp.n++
		comm := ""
		if soft == 0 && len(cp.listed) < coreMaxListed || cp.watched && len(cp.all) < coreMaxListed {
			comm, _ = p.cfg.readComm(pid)
		}
		if soft == 0 {
			cp.zero++
			if len(cp.listed) < coreMaxListed {
				cp.listed = append(cp.listed, schema.CoreLimit{PID: pid, Comm: comm, Soft: soft, Hard: hard})
			}
		}
		if cp.watched && len(cp.all) < coreMaxListed {
			cp.all = append(cp.all, schema.CoreLimit{PID: pid, Comm: comm, Soft: soft, Hard: hard})
		}
	}
	return cp
}

// pfKthread is PF_KTHREAD in the flags field of /proc/PID/stat.
const pfKthread = 0x00200000

// kernelThread says whether pid is a kernel thread (kworker, …), from the
// ninth field of /proc/PID/stat, counted after the comm's closing paren.
func (p *coredumpProbe) kernelThread(pid int) bool {
	b, err := readProcInto(p.cfg.ProcPath(strconv.Itoa(pid), "stat"), p.buf[:])
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 7 {
		return false
	}
	flags, err := strconv.ParseUint(f[6], 10, 64)
	return err == nil && flags&pfKthread != 0
}

// procNamed matches --proc as the signals probe does: comm or exe basename.
func (p *coredumpProbe) procNamed(pid int, names []string) bool {
	comm, _ := p.cfg.readComm(pid)
	exe := filepath.Base(p.cfg.exePath(pid))
	for _, n := range names {
		if n == comm || n == exe {
			return true
		}
	}
	return false
}

// parseCoreLimit finds "Max core file size  SOFT  HARD  bytes" in
// /proc/PID/limits; "unlimited" is -1.
func parseCoreLimit(b []byte) (soft, hard int64, ok bool) {
	for line := range bytes.Lines(b) {
		rest, found := bytes.CutPrefix(line, []byte("Max core file size"))
		if !found {
			continue
		}
		var f [2][]byte
		n := 0
		for tok := range bytes.FieldsSeq(rest) {
			if n == len(f) {
				break
			}
			f[n] = tok
			n++
		}
		if n < 2 {
			return 0, 0, false
		}
		lim := func(s []byte) (int64, bool) {
			if string(s) == "unlimited" {
				return -1, true
			}
			n, err := strconv.ParseInt(string(s), 10, 64)
			return n, err == nil
		}
		s, ok1 := lim(f[0])
		h, ok2 := lim(f[1])
		return s, h, ok1 && ok2
	}
	return 0, 0, false
}

func init() { register(coredumpSpec) }
