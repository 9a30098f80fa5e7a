package probes

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/sigtarget"
	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/probes/ptrace"
	"github.com/stakeout/stakeout/schema"
	"golang.org/x/sys/unix"
)

// Two SIGHUPs 3 ms apart, as logrotate sent them: both reach the target
// (it counts them), both are recorded with their sender, and the target is
// left untraced and running.
func TestSignalsSeesSenderAndReinjects(t *testing.T) {
	testenv.NeedRoot(t, "ptrace")
	tg := startTarget(t, "count")
	r := traceSignals(t, schema.SignalsConfig{PIDs: []int{tg.pid}})
	r.waitFor(t, "attach", attached)
	ack := func() error { tg.expect(t, "HUP 1"); return nil }
	if _, err := sigtarget.SendPair(tg.pid, unix.SIGHUP, 3*time.Millisecond, ack); err != nil {
		t.Fatal(err)
	}
	tg.expect(t, "HUP 2")
	evs := r.waitFor(t, "two SIGHUPs", func(evs []event.Event) bool { return len(signalsOf(evs, "SIGHUP")) == 2 })
	self, _ := DefaultConfig().readComm(os.Getpid())
	for _, s := range signalsOf(evs, "SIGHUP") {
		if s.PID != tg.pid || s.Signo != 1 || s.Code != "SI_USER" || s.SenderPID != os.Getpid() ||
			s.SenderUID == nil || *s.SenderUID != 0 || s.SenderComm != self || s.Comm == "" {
			t.Errorf("signal event %+v", s)
		}
	}
	r.stop(t)
	untraced(t, tg.pid)
	unix.Kill(tg.pid, unix.SIGHUP)
	tg.expect(t, "HUP 3")
	var detached bool
	for _, ev := range r.events() {
		if tr, ok := event.As[schema.Trace](ev); ok && tr.State == schema.TraceDetached && tr.PID == tg.pid && tr.Threads > 0 {
			detached = true
		}
	}
	if !detached {
		t.Errorf("no detached event: %s", dump(r.events()))
	}
}

// A heartbeat of 1,000 SIGUSR1 at 1 kHz. A standard signal that is already
// pending is merged by the kernel, traced or not, so "all arrive" is tested
// the way a heartbeat works: each beat is sent on a 1 ms tick once the
// previous one was handled. Untraced, none would be lost; traced, the target
// must count all 1,000 and the probe must record all 1,000.
func TestSignalsHeartbeat1kHz(t *testing.T) {
	testenv.NeedRoot(t, "ptrace")
	tg := startTarget(t, "count")
	r := traceSignals(t, schema.SignalsConfig{PIDs: []int{tg.pid}})
	r.waitFor(t, "attach", attached)
	const n = 1000
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for i := 1; i <= n; i++ {
		<-tick.C
		unix.Kill(tg.pid, unix.SIGUSR1)
		select {
		case l := <-tg.lines:
			if l != "USR1 "+strconv.Itoa(i) {
				t.Fatalf("beat %d: target said %q", i, l)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("beat %d never arrived", i)
		}
	}
	took := time.Since(start)
	evs := r.waitFor(t, "1000 SIGUSR1 events", func(evs []event.Event) bool { return len(signalsOf(evs, "SIGUSR1")) >= n })
	if got := len(signalsOf(evs, "SIGUSR1")); got != n {
		t.Errorf("probe recorded %d SIGUSR1, want %d", got, n)
	}
	t.Logf("%d beats in %v (%.0f/s), all counted by the target", n, took.Round(time.Millisecond), n/took.Seconds())
}

// SIGSTOP while traced: the target stays stopped (signals wait, as
// untraced) until SIGCONT, and a target stopped at detach stays stopped.
func TestSignalsStopStaysStopped(t *testing.T) {
	testenv.NeedRoot(t, "ptrace")
	tg := startTarget(t, "count")
	r := traceSignals(t, schema.SignalsConfig{PIDs: []int{tg.pid}})
	r.waitFor(t, "attach", attached)
	unix.Kill(tg.pid, unix.SIGSTOP)
	testenv.Eventually(t, 3*time.Second, "stopped", func() bool { st, _ := procState(t, tg.pid); return st == 't' || st == 'T' })
	unix.Kill(tg.pid, unix.SIGHUP)
	tg.quiet(t, 300*time.Millisecond) // a stopped process handles nothing
	if st, _ := procState(t, tg.pid); st != 't' && st != 'T' {
		t.Fatalf("target ran while stopped: state %c", st)
	}
	unix.Kill(tg.pid, unix.SIGCONT)
	tg.expect(t, "HUP 1") // the pending HUP, after SIGCONT
	r.waitFor(t, "SIGSTOP and SIGCONT", func(evs []event.Event) bool {
		return len(signalsOf(evs, "SIGSTOP")) == 1 && len(signalsOf(evs, "SIGCONT")) == 1
	})

	// Stopped again, then stakeout quits: it must stay stopped, untraced.
	unix.Kill(tg.pid, unix.SIGSTOP)
	testenv.Eventually(t, 3*time.Second, "stopped again", func() bool { st, _ := procState(t, tg.pid); return st == 't' || st == 'T' })
	r.stop(t)
	testenv.Eventually(t, 3*time.Second, "stopped and untraced", func() bool { st, tp := procState(t, tg.pid); return st == 'T' && tp == 0 })
	unix.Kill(tg.pid, unix.SIGHUP)
	tg.quiet(t, 200*time.Millisecond)
	unix.Kill(tg.pid, unix.SIGCONT)
	tg.expect(t, "HUP 2")
}

// kill -9 of the tracer mid-heartbeat: the kernel detaches, the target runs
// on and still handles its next signal.
func TestSignalsSurvivesKill9OfTracer(t *testing.T) {
	testenv.NeedRoot(t, "ptrace")
	tg := startTarget(t, "count")
	tr := exec.Command(os.Args[0])
	tr.Env = append(os.Environ(), tracerEnv+"="+strconv.Itoa(tg.pid))
	out, _ := tr.StdoutPipe()
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 9)
	if _, err := out.Read(buf); err != nil || string(buf) != "attached\n" {
		t.Fatalf("tracer: %q %v", buf, err)
	}
	if _, tp := procState(t, tg.pid); tp == 0 {
		t.Fatalf("TracerPid 0, want a thread of %d", tr.Process.Pid)
	}
	// Beats in flight while the tracer dies.
	stop := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			unix.Kill(tg.pid, unix.SIGUSR1)
			time.Sleep(200 * time.Microsecond)
		}
	}()
	time.Sleep(50 * time.Millisecond)
	tr.Process.Kill()
	tr.Wait()
	close(stop)
	testenv.Eventually(t, 3*time.Second, "untraced", func() bool { st, tp := procState(t, tg.pid); return st != 't' && tp == 0 })
	for drained := false; !drained; {
		select {
		case l := <-tg.lines:
			if !strings.HasPrefix(l, "USR1") {
				t.Fatalf("target said %q", l)
			}
		case <-time.After(100 * time.Millisecond):
			drained = true
		}
	}
	unix.Kill(tg.pid, unix.SIGHUP)
	tg.expect(t, "HUP 1")
}

// A shell that forks and execs /bin/true, then exits 3: fork, exec, the
// child's exit, the SIGCHLD with its child and status, and the shell's exit.
func TestSignalsForkExecExit(t *testing.T) {
	testenv.NeedRoot(t, "ptrace")
	sh := exec.Command("/bin/sh", "-c", "read x; /bin/true; exit 3")
	in, _ := sh.StdinPipe()
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	defer sh.Wait()
	r := traceSignals(t, schema.SignalsConfig{PIDs: []int{sh.Process.Pid}})
	r.waitFor(t, "attach", attached)
	in.Write([]byte("go\n"))
	evs := r.waitFor(t, "the shell's exit", func(evs []event.Event) bool {
		for _, ev := range evs {
			if x, ok := event.As[schema.Exit](ev); ok && x.PID == sh.Process.Pid {
				return true
			}
		}
		return false
	})
	var fork *schema.Fork
	var exe *schema.Exec
	var exits []*schema.Exit
	for _, ev := range evs {
		if f, ok := event.As[schema.Fork](ev); ok {
			fork = f
		} else if x, ok := event.As[schema.Exec](ev); ok {
			exe = x
		} else if x, ok := event.As[schema.Exit](ev); ok {
			exits = append(exits, x)
		}
	}
	if fork == nil || fork.PID != sh.Process.Pid || fork.Comm != "sh" || fork.ChildPID == 0 {
		t.Fatalf("fork %+v\n%s", fork, dump(evs))
	}
	if exe == nil || exe.PID != fork.ChildPID || exe.OldComm != "sh" || exe.Comm != "true" || !strings.HasSuffix(exe.Filename, "/true") {
		t.Errorf("exec %+v", exe)
	}
	chld := signalsOf(evs, "SIGCHLD")
	if len(chld) != 1 || chld[0].ChildPID != fork.ChildPID || chld[0].Status != "exited 0" || chld[0].Code != "CLD_EXITED" {
		t.Errorf("SIGCHLD %+v", chld)
	}
	if len(exits) != 2 || exits[0].PID != fork.ChildPID || exits[0].Status != "exited 0" ||
		exits[1].Status != "exited 3" || exits[1].ExitCode == nil || *exits[1].ExitCode != 3 {
		t.Errorf("exits %s", dump(evs))
	}
}

// SIGKILL can't be seen at delivery; the exit says what killed the process.
func TestSignalsKilledBySIGKILL(t *testing.T) {
	testenv.NeedRoot(t, "ptrace")
	tg := startTarget(t, "count")
	r := traceSignals(t, schema.SignalsConfig{PIDs: []int{tg.pid}})
	r.waitFor(t, "attach", attached)
	unix.Kill(tg.pid, unix.SIGKILL)
	evs := r.waitFor(t, "exit", func(evs []event.Event) bool {
		for _, ev := range evs {
			if _, ok := event.As[schema.Exit](ev); ok {
				return true
			}
		}
		return false
	})
	for _, ev := range evs {
		if x, ok := event.As[schema.Exit](ev); ok && (x.Status != "killed by SIGKILL" || x.Signal != "SIGKILL" || x.PID != tg.pid) {
			t.Errorf("exit %+v", x)
		}
	}
}

func TestSignalsCheckReasons(t *testing.T) {
	// With no target, host-wide by default; where tracefs can't be had
	// (a --sysfs without kernel/tracing here), the old message, with why.
	cfg := DefaultConfig()
	cfg.Sysfs = t.TempDir()
	why := "no " + cfg.tracefsRoot() + " to mount tracefs on"
	if os.Geteuid() != 0 {
		why = "host-wide mode needs root to use tracefs"
	}
	p := &signalsProbe{cfg: cfg}
	if err := p.Check(); err == nil || err.Error() != "no target: give --pid PID or --proc NAME (host-wide mode is unavailable: "+why+")" {
		t.Errorf("no target, no tracefs: %v", err)
	}
	p.cfg.Signals.Mode = "ptrace"
	if err := p.Check(); err == nil || err.Error() != "no target: give --pid PID or --proc NAME" {
		t.Errorf("--signals ptrace, no target: %v", err)
	}
	p.cfg.Signals.Mode = SignalsOff
	if err := p.Check(); err == nil || err.Error() != "turned off (--signals off)" || StatusOf(err).Status != event.StatusUnavailable {
		t.Errorf("--signals off: %v", err)
	}
	p.cfg.Signals.PIDs = []int{os.Getpid()} // off even with a target
	if err := p.Check(); err == nil || err.Error() != "turned off (--signals off)" {
		t.Errorf("--signals off --pid: %v", err)
	}
	p.cfg.Signals.Mode = "loud"
	if err := p.Check(); err == nil || !strings.Contains(err.Error(), `--signals "loud": want host or off`) {
		t.Errorf("--signals loud: %v", err)
	}
	p = &signalsProbe{cfg: DefaultConfig()}
	testenv.NeedRoot(t, "ptrace")
	p.cfg.Signals.PIDs = []int{1 << 30}
	if err := p.Check(); err == nil || err.Error() != "pid 1073741824: no such process" {
		t.Errorf("missing pid: %v", err)
	}
	// Already traced by another tracer (a copy of this test binary).
	tg := startTarget(t, "count")
	tr := exec.Command(os.Args[0])
	tr.Env = append(os.Environ(), tracerEnv+"="+strconv.Itoa(tg.pid))
	out, _ := tr.StdoutPipe()
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { tr.Process.Signal(unix.SIGKILL); tr.Wait() }()
	buf := make([]byte, 9)
	out.Read(buf)
	comm, _ := DefaultConfig().readComm(tr.Process.Pid)
	want := "pid " + strconv.Itoa(tg.pid) + " is already traced by pid " + strconv.Itoa(tr.Process.Pid) + " (" + comm + ")"
	p.cfg.Signals.PIDs = []int{tg.pid}
	if err := p.Check(); err == nil || err.Error() != want {
		t.Errorf("already traced: %v, want %q", err, want)
	}
	err := ptrace.Run(func(th *ptrace.Thread) error {
		tr := newTracer(p.cfg, func(event.Event) {})
		tr.th = th
		return tr.attach(tg.pid)
	})
	if err == nil || err.Error() != want {
		t.Errorf("attach: %v", err)
	}
}

// --proc follows a name: a process that starts after stakeout is attached
// at the next poll.
func TestSignalsProcFollowsLaterProcesses(t *testing.T) {
	testenv.NeedRoot(t, "ptrace")
	link := t.TempDir() + "/sigproc-zz"
	if err := os.Symlink(os.Args[0], link); err != nil {
		t.Fatal(err)
	}
	r := traceSignals(t, schema.SignalsConfig{Procs: []string{"sigproc-zz"}})
	time.Sleep(60 * time.Millisecond)
	old := os.Args[0]
	os.Args[0] = link // startTarget runs os.Args[0]; the kernel names it after the link
	tg := startTarget(t, "count")
	os.Args[0] = old
	r.waitFor(t, "attach to the later process", attached)
	unix.Kill(tg.pid, unix.SIGUSR2)
	tg.expect(t, "USR2 1")
	evs := r.waitFor(t, "SIGUSR2", func(evs []event.Event) bool { return len(signalsOf(evs, "SIGUSR2")) == 1 })
	if s := signalsOf(evs, "SIGUSR2")[0]; s.PID != tg.pid || s.Comm != "sigproc-zz" {
		t.Errorf("signal %+v", s)
	}
}

// Not root and no CAP_SYS_PTRACE: a clear reason, from Check, before any
// ptrace call. The test binary is copied where nobody can run it.
func TestSignalsNoPermission(t *testing.T) {
	testenv.NeedRoot(t, "ptrace")
	dir, err := os.MkdirTemp("", "sigperm")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	bin := dir + "/probes.test"
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), checkEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("cannot run as nobody here: %v %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "no permission to trace: run as root or with CAP_SYS_PTRACE" {
		t.Errorf("Check as nobody: %q", got)
	}
}

// --signals host sees signals host-wide through tracefs, with the sender,
// without tracing anyone; it leaves tracefs as it found it.
func TestSignalsHostMode(t *testing.T) {
	testenv.NeedRoot(t, "tracefs")
	cfg := DefaultConfig()
	cfg.Signals.Mode = SignalsHost
	if err := (&signalsProbe{cfg: cfg}).Check(); err != nil {
		t.Skipf("no tracefs here: %v", err)
	}
	root := cfg.tracefsRoot()
	before := mountedAt(root)
	tg := startTarget(t, "count")
	r := traceSignals(t, schema.SignalsConfig{Mode: SignalsHost})
	time.Sleep(300 * time.Millisecond) // the instance is set up
	ack := func() error { tg.expect(t, "USR2 1"); return nil }
	sent, err := sigtarget.SendPair(tg.pid, unix.SIGUSR2, 3*time.Millisecond, ack)
	if err != nil {
		t.Fatal(err)
	}
	tg.expect(t, "USR2 2")
	evs := r.waitFor(t, "two SIGUSR2 to the target", func(evs []event.Event) bool {
		n := 0
		for _, s := range signalsOf(evs, "SIGUSR2") {
			if s.PID == tg.pid {
				n++
			}
		}
		return n == 2
	})
	var got []*schema.Signal
	for _, s := range signalsOf(evs, "SIGUSR2") {
		if s.PID == tg.pid {
			got = append(got, s)
		}
	}
	if got[0].SenderPID != os.Getpid() || got[0].Source != "tracefs" || got[0].Result != "delivered" || got[0].Code != "SI_USER" {
		t.Errorf("signal %+v", got[0])
	}
	var at []time.Time
	for _, ev := range evs {
		if s, ok := event.As[schema.Signal](ev); ok && s.PID == tg.pid {
			at = append(at, ev.Time)
		}
	}
	if gap := at[1].Sub(at[0]); gap < 2*time.Millisecond || gap > sent+20*time.Millisecond {
		t.Errorf("gap between the two sends recorded as %v, sent %v apart", gap, sent)
	}
	if _, tp := procState(t, tg.pid); tp != 0 {
		t.Errorf("host mode traced the target")
	}
	r.stop(t)
	if _, err := os.Stat(root + "/instances/" + cfg.instanceName(os.Getpid())); err == nil {
		t.Errorf("tracefs instance left behind")
	}
	// The mount is as it was, but for another stakeout's: a host-mode test
	// of another package (go test runs them side by side) mounts tracefs
	// as stakeout-tracefs and unmounts it when it ends.
	ours := "tracefs " + tracefsSource
	switch after := mountedAt(root); {
	case after == before:
	case after == ours && len(othersLive(root)) > 0: // another running stakeout mounted it
	case before == ours && after == "": // another stakeout's mount, gone with it
	default:
		t.Errorf("tracefs mount changed: %q before, %q after", before, after)
	}
}

func TestParseGenerate(t *testing.T) {
	s, ts, ok := parseGenerate("     log rotate-x-4410    [001] d..1.  4316.222271: signal_generate: sig=1 errno=0 code=0 comm=my gimli pid=812 grp=1 res=2")
	if !ok || ts != 4316.222271 || s.SenderPID != 4410 || s.SenderComm != "log rotate-x" || s.Comm != "my gimli" ||
		s.PID != 812 || s.Signal != "SIGHUP" || s.Code != "SI_USER" || s.Result != "already pending" {
		t.Errorf("%+v %v %v", s, ts, ok)
	}
	// The running task is the sender only when a process sent the signal:
	// not for a timer's SIGALRM (SI_KERNEL) that interrupted some task, nor
	// for SIGCHLD, generated in the exiting child.
	for line, sender := range map[string]int{
		"gimli-77 [000] d.h1. 5.0: signal_generate: sig=14 errno=0 code=128 comm=cron pid=600 grp=1 res=0":  0,
		"sh-4411 [000] d..1. 5.0: signal_generate: sig=17 errno=0 code=1 comm=bash pid=4400 grp=1 res=0":    0,
		"gimli-812 [000] d..1. 5.0: signal_generate: sig=23 errno=0 code=-6 comm=gimli pid=815 grp=0 res=0": 812,
		"sigq-9 [000] d..1. 5.0: signal_generate: sig=34 errno=0 code=-1 comm=gimli pid=812 grp=1 res=0":    9,
		"kill-4412 [000] d..1. 5.0: signal_generate: sig=15 errno=0 code=0 comm=gimli pid=812 grp=1 res=0":  4412,
	} {
		s, _, ok := parseGenerate(line)
		if !ok || s.SenderPID != sender || (sender == 0) != (s.SenderComm == "") {
			t.Errorf("%s: sender %d %q, want %d", line, s.SenderPID, s.SenderComm, sender)
		}
	}
	if _, _, ok := parseGenerate("bash-1 [000] d..1. 1.0: signal_deliver: sig=1 errno=0 code=0 sa_handler=0 sa_flags=0"); ok {
		t.Error("deliver line parsed as generate")
	}
}
