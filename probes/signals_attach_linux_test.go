package probes

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/probes/ptrace"
	"github.com/stakeout/stakeout/schema"
	"golang.org/x/sys/unix"
)

// attachEnv makes a re-executed test binary a standalone host-mode run (no
// flags) that attaches to the pid given, as a from the signals pane does,
// prints "attached" and runs until it is killed.
const attachEnv = "STAKEOUT_TEST_ATTACH"

func init() {
	pid := os.Getenv(attachEnv)
	// A waker of such a run never gets here: package ptrace's init, run
	// first, holds it.
	if pid == "" || os.Getenv(watchdogEnv) != "" {
		return // not asked, or its watchdog: that file's init runs it
	}
	n, _ := strconv.Atoi(pid)
	p := &signalsProbe{cfg: DefaultConfig()}
	go p.Run(context.Background(), func(event.Event) {})
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		err := p.Attach(context.Background(), n)
		if err == nil {
			break
		}
		if time.Now().After(deadline) || !strings.Contains(err.Error(), "not running") {
			fmt.Fprintln(os.Stderr, "attach:", err)
			os.Exit(1)
		}
	}
	fmt.Println("attached")
	select {}
}

// hostProbe runs the probe with no flags, host-wide, in this process, once
// its tracefs instance records.
func hostProbe(t *testing.T) (*signalsProbe, *recorder) {
	t.Helper()
	return hostProbeWith(t, DefaultConfig())
}

// hostProbeWith is hostProbe with cfg (--signals host with --pid, say).
func hostProbeWith(t *testing.T, cfg Config) (*signalsProbe, *recorder) {
	t.Helper()
	testenv.NeedRoot(t, "tracefs and ptrace")
	cfg.Interval = 50 * time.Millisecond
	if err := (&signalsProbe{cfg: cfg}).Check(); err != nil {
		t.Skipf("no host-wide mode here: %v", err)
	}
	p, r := startProbe(t, cfg)
	enable := filepath.Join(cfg.tracefsRoot(), "instances", cfg.instanceName(os.Getpid()), "events", "signal", "signal_generate", "enable")
	testenv.Eventually(t, 5*time.Second, "the tracefs instance records", func() bool {
		b, _ := os.ReadFile(enable)
		return strings.TrimSpace(string(b)) == "1"
	})
	return p, r
}

// signalsTo lists the signals named sig to pid, by source ("tracefs" for
// the send, "ptrace" for the delivery to an attached process).
func signalsTo(evs []event.Event, pid int, sig string) map[string][]*schema.Signal {
	out := map[string][]*schema.Signal{}
	for _, s := range signalsOf(evs, sig) {
		if s.PID == pid {
			out[s.Source] = append(out[s.Source], s)
		}
	}
	return out
}

func traceStates(evs []event.Event, pid int) []string {
	var out []string
	for _, ev := range evs {
		if tr, ok := event.As[schema.Trace](ev); ok && tr.PID == pid {
			out = append(out, tr.State)
		}
	}
	return out
}

// With no flags the probe follows the whole host through tracefs: a
// signal to any process is seen when it is sent, with its sender, and no
// process is traced.
func TestSignalsHostByDefault(t *testing.T) {
	_, r := hostProbe(t)
	tg := startTarget(t, "count")
	unix.Kill(tg.pid, unix.SIGUSR1)
	tg.expect(t, "USR1 1")
	evs := r.waitFor(t, "the SIGUSR1", func(evs []event.Event) bool { return len(signalsTo(evs, tg.pid, "SIGUSR1")["tracefs"]) == 1 })
	if s := signalsTo(evs, tg.pid, "SIGUSR1")["tracefs"][0]; s.SenderPID != os.Getpid() || s.Result != "delivered" || s.Duplicate() {
		t.Errorf("signal %+v", s)
	}
	untraced(t, tg.pid)
}

// a in the pane while the probe follows the host: the process is traced
// and keeps running, each signal to it is recorded sent (tracefs) and
// delivered (ptrace, marked a duplicate); d detaches it, and it handles
// its next signal untraced. Both are trace events.
func TestSignalsAttachFromPaneInHostMode(t *testing.T) {
	p, r := hostProbe(t)
	tg := startTarget(t, "count")
	ctx := context.Background()
	if err := p.Detach(ctx, tg.pid); err == nil || err.Error() != "stakeout is not tracing any process with ptrace" {
		t.Errorf("detach before any attach: %v", err)
	}
	if err := p.Attach(ctx, tg.pid); err != nil {
		t.Fatalf("attach: %v", err)
	}
	if st, tp := procState(t, tg.pid); tp == 0 || st == 't' || st == 'T' {
		t.Fatalf("after attach: state %c, TracerPid %d: want traced and running", st, tp)
	}
	if err := p.Attach(ctx, tg.pid); err == nil || err.Error() != fmt.Sprintf("pid %d is already traced", tg.pid) {
		t.Errorf("second attach: %v", err)
	}
	if err := p.Attach(ctx, os.Getpid()); err == nil || !strings.Contains(err.Error(), "is stakeout itself") {
		t.Errorf("attach to stakeout: %v", err)
	}
	unix.Kill(tg.pid, unix.SIGHUP)
	tg.expect(t, "HUP 1")
	evs := r.waitFor(t, "the SIGHUP sent and delivered", func(evs []event.Event) bool {
		by := signalsTo(evs, tg.pid, "SIGHUP")
		return len(by["tracefs"]) == 1 && len(by[schema.SourcePtrace]) == 1
	})
	if d := signalsTo(evs, tg.pid, "SIGHUP")[schema.SourcePtrace][0]; !d.Duplicate() || d.SenderPID != os.Getpid() ||
		d.SenderUID == nil || *d.SenderUID != 0 || d.Code != "SI_USER" {
		t.Errorf("delivery %+v", d)
	}
	if err := p.Detach(ctx, tg.pid); err != nil {
		t.Fatalf("detach: %v", err)
	}
	untraced(t, tg.pid)
	if err := p.Detach(ctx, tg.pid); err == nil || err.Error() != fmt.Sprintf("pid %d is not traced by stakeout", tg.pid) {
		t.Errorf("second detach: %v", err)
	}
	unix.Kill(tg.pid, unix.SIGHUP)
	tg.expect(t, "HUP 2")
	evs = r.waitFor(t, "the second SIGHUP sent", func(evs []event.Event) bool { return len(signalsTo(evs, tg.pid, "SIGHUP")["tracefs"]) == 2 })
	if n := len(signalsTo(evs, tg.pid, "SIGHUP")[schema.SourcePtrace]); n != 1 {
		t.Errorf("%d deliveries recorded, want 1 (the second came after detach)", n)
	}
	if got := strings.Join(traceStates(evs, tg.pid), " "); got != "attached detached" {
		t.Errorf("trace events %q, want attached detached:\n%s", got, dump(evs))
	}
	// The tracer's waker is stakeout's own: its stops are no signal to record.
	for _, s := range signalsOf(evs, "SIGSTOP") {
		if int64(s.PID) == p.wakerPID.Load() {
			t.Errorf("the waker's stop was recorded: %+v", s)
		}
	}
	// Attached again, then the probe stops (q): Run returns only once the
	// tracer has detached, and the process runs on.
	if err := p.Attach(ctx, tg.pid); err != nil {
		t.Fatalf("attach again: %v", err)
	}
	r.stop(t)
	untraced(t, tg.pid)
	if got := strings.Join(traceStates(r.events(), tg.pid), " "); got != "attached detached attached detached" {
		t.Errorf("trace events %q after the probe stopped", got)
	}
	unix.Kill(tg.pid, unix.SIGHUP)
	tg.expect(t, "HUP 3")
}

// With --signals host, --pid only says whose signals to record: those
// processes are not traced (README), and a from the pane attaches the one
// process asked for, not them as well. A --pid that is gone does not stop
// the tracer an attach starts.
func TestSignalsAttachFromPaneInHostModeTracesOnlyIt(t *testing.T) {
	watched, asked := startTarget(t, "count"), startTarget(t, "count")
	cfg := DefaultConfig()
	cfg.Signals.Mode = SignalsHost
	cfg.Signals.PIDs = []int{watched.pid, asked.pid, 1 << 30}
	p, r := hostProbeWith(t, cfg)
	if err := p.Attach(context.Background(), asked.pid); err != nil {
		t.Fatalf("attach: %v", err)
	}
	if _, tp := procState(t, asked.pid); tp == 0 {
		t.Fatalf("pid %d not traced after attach", asked.pid)
	}
	if st, tp := procState(t, watched.pid); tp != 0 || st == 't' {
		t.Errorf("--pid %d, watched host-wide: state %c, TracerPid %d after an attach to another: want untraced", watched.pid, st, tp)
	}
	r.stop(t)
	untraced(t, asked.pid)
	evs := r.events()
	if got := traceStates(evs, watched.pid); len(got) != 0 {
		t.Errorf("trace events for the --pid not attached: %q", got)
	}
	if got := traceStates(evs, 1<<30); len(got) != 0 {
		t.Errorf("trace events for the --pid that is gone: %q", got)
	}
}

// a on a shell follows the children it starts from then on; d on the
// shell lets both go, and each is recorded detached.
func TestSignalsAttachFromPaneFollowsChildren(t *testing.T) {
	p, r := hostProbe(t)
	// The tracer runs first (on a target of its own), so the shell is not
	// a child of the tracer's thread, which would reap it.
	first := startTarget(t, "count")
	if err := p.Attach(context.Background(), first.pid); err != nil {
		t.Fatalf("attach: %v", err)
	}
	sh := exec.Command("/bin/sh", "-c", `read x; sleep 30 & echo $!; read y; kill $!; exit 0`)
	in, _ := sh.StdinPipe()
	out, _ := sh.StdoutPipe()
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Process.Kill(); sh.Wait() })
	ctx := context.Background()
	if err := p.Attach(ctx, sh.Process.Pid); err != nil {
		t.Fatalf("attach: %v", err)
	}
	in.Write([]byte("go\n"))
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(line))
	t.Cleanup(func() { unix.Kill(child, unix.SIGKILL) })
	testenv.Eventually(t, 3*time.Second, "the child traced", func() bool { _, tp := procState(t, child); return tp != 0 })
	if err := p.Detach(ctx, sh.Process.Pid); err != nil {
		t.Fatalf("detach: %v", err)
	}
	untraced(t, sh.Process.Pid)
	untraced(t, child)
	evs := r.events()
	if got := strings.Join(traceStates(evs, child), " "); got != "detached" {
		t.Errorf("child's trace events %q:\n%s", got, dump(evs))
	}
	in.Write([]byte("\n"))
	if err := sh.Wait(); err != nil {
		t.Errorf("the shell after detach: %v", err)
	}
}

// d on a process that is stopped (SIGSTOP) leaves it stopped, untraced,
// until its SIGCONT, as it would have been untraced.
func TestSignalsDetachFromPaneLeavesStoppedStopped(t *testing.T) {
	p, _ := hostProbe(t)
	tg := startTarget(t, "count")
	ctx := context.Background()
	if err := p.Attach(ctx, tg.pid); err != nil {
		t.Fatalf("attach: %v", err)
	}
	unix.Kill(tg.pid, unix.SIGSTOP)
	testenv.Eventually(t, 3*time.Second, "stopped", func() bool { st, _ := procState(t, tg.pid); return st == 't' || st == 'T' })
	if err := p.Detach(ctx, tg.pid); err != nil {
		t.Fatalf("detach: %v", err)
	}
	testenv.Eventually(t, 3*time.Second, "stopped and untraced", func() bool { st, tp := procState(t, tg.pid); return st == 'T' && tp == 0 })
	unix.Kill(tg.pid, unix.SIGHUP)
	tg.quiet(t, 200*time.Millisecond)
	unix.Kill(tg.pid, unix.SIGCONT)
	tg.expect(t, "HUP 1")
}

// kill -9 of a stakeout that attached from the pane: the kernel detaches,
// and the process runs on and handles its next signal.
func TestSignalsAttachFromPaneSurvivesKill9(t *testing.T) {
	testenv.NeedRoot(t, "tracefs and ptrace")
	if err := (&signalsProbe{cfg: DefaultConfig()}).Check(); err != nil {
		t.Skipf("no host-wide mode here: %v", err)
	}
	tg := startTarget(t, "count")
	tr := exec.Command(os.Args[0])
	tr.Env = append(os.Environ(), attachEnv+"="+strconv.Itoa(tg.pid))
	tr.Stderr = os.Stderr
	out, _ := tr.StdoutPipe()
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Process.Kill(); tr.Wait() })
	buf := make([]byte, 9)
	if _, err := out.Read(buf); err != nil || string(buf) != "attached\n" {
		t.Fatalf("stakeout: %q %v", buf, err)
	}
	if st, tp := procState(t, tg.pid); tp == 0 || st == 't' || st == 'T' {
		t.Fatalf("after attach: state %c, TracerPid %d", st, tp)
	}
	unix.Kill(tg.pid, unix.SIGUSR1)
	tg.expect(t, "USR1 1")
	tr.Process.Kill()
	tr.Wait()
	testenv.Eventually(t, 3*time.Second, "untraced and running", func() bool { st, tp := procState(t, tg.pid); return st != 't' && st != 'T' && tp == 0 })
	unix.Kill(tg.pid, unix.SIGHUP)
	tg.expect(t, "HUP 1")
}

// Asked while the probe is not running, or turned off: a reason, at once.
func TestSignalsAttachWhenNotRunning(t *testing.T) {
	p := &signalsProbe{cfg: DefaultConfig()}
	for _, err := range []error{p.Attach(context.Background(), 1), p.Detach(context.Background(), 1)} {
		if err == nil || err.Error() != "the signals probe is not running" {
			t.Errorf("not running: %v", err)
		}
	}
	if err := p.Attach(context.Background(), 0); err == nil || err.Error() != "pid 0: no such process" {
		t.Errorf("pid 0: %v", err)
	}
}

// The tracer is woken (by stopping its waker) to quit, to serve the pane's
// requests and to attach --proc matches. A wake-up that comes while it is
// awake is lost when it resumes the waker, so whatever it stands for must
// be looked at again after that: a quit (ctx ended) that came while woken
// ran, after it had looked at ctx, used to leave the tracer asleep for
// good (the probe never stopped, its tracees stayed traced). Here the quit
// comes from the emit of a failed attach request, served in woken.
func TestWokenLooksAgainAtAQuitThatCameMeanwhile(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := newTracer(DefaultConfig(), func(event.Event) { cancel() })
	err := ptrace.Run(func(th *ptrace.Thread) error {
		tr.th = th
		w, err := tr.startWaker()
		if err != nil {
			return fmt.Errorf("cannot start the waker: %w", err)
		}
		tr.waker = w
		defer w.Stop()
		w.Wake()
		tid, ws, err := th.Wait()
		if err != nil || tid != w.Pid() || !ws.Stopped() {
			return fmt.Errorf("first wait = %d %#x %v, want the waker stopped", tid, uint32(ws), err)
		}
		tr.reqs <- traceReq{pid: 1 << 30, attach: true, done: make(chan error, 1)}
		if done, err := tr.woken(ctx, ws, &tr.cur); done {
			return fmt.Errorf("woken returned before the quit: %v", err)
		}
		if ctx.Err() == nil {
			return errors.New("the failed attach emitted nothing: no quit to test")
		}
		// Only a failure waits: past a generous bound the waker is killed,
		// which ends the wait below with an exit instead of a stop.
		stop := time.AfterFunc(10*time.Second, func() { unix.Kill(w.Pid(), unix.SIGKILL) })
		defer stop.Stop()
		tid, ws, err = th.Wait()
		if err != nil || tid != w.Pid() || !ws.Stopped() {
			return fmt.Errorf("after the quit: wait = %d %#x %v, want the waker stopped again", tid, uint32(ws), err)
		}
		if done, err := tr.woken(ctx, ws, &tr.cur); !done || !errors.Is(err, context.Canceled) {
			return fmt.Errorf("woken after the quit = %v, %v, want done, context.Canceled", done, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
