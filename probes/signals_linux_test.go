package probes

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/sigtarget"
	"github.com/stakeout/stakeout/schema"
	"golang.org/x/sys/unix"
)

// tracerEnv makes a re-executed test binary a standalone tracer of one pid,
// so a test can kill -9 "stakeout" without killing itself.
const tracerEnv = "STAKEOUT_TEST_TRACER"

// checkEnv makes a re-executed test binary print what Check says about a pid.
const checkEnv = "STAKEOUT_TEST_CHECK"

// spawnEnv makes a re-executed test binary start N short-lived processes
// ("PATH N": PATH 0.01, one after another), sending each SIGWINCH 3 ms
// after it started, and print "PID START_UNIX_NS SENT" for each. They are
// its children, not the test's: a tracer's stops of the test's own
// children would be taken by the test's Wait (any thread of the parent may
// reap them).
const spawnEnv = "STAKEOUT_TEST_SPAWN"

// hostEnv makes a re-executed test binary a standalone --signals host run
// with its sysfs at the directory given, until it is killed.
const hostEnv = "STAKEOUT_TEST_HOST"

func init() {
	if os.Getenv(watchdogEnv) != "" {
		return // a host-mode run's watchdog: the package's own init runs it
	}
	sigtarget.MaybeRun()
	if spec := os.Getenv(spawnEnv); spec != "" {
		path, count, _ := strings.Cut(spec, " ")
		n, _ := strconv.Atoi(count)
		for i := 0; i < n; i++ {
			cmd := exec.Command(path, "0.01")
			if err := cmd.Start(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			at := time.Now()
			time.Sleep(3 * time.Millisecond)
			sent := unix.Kill(cmd.Process.Pid, unix.SIGWINCH) == nil
			if err := cmd.Wait(); err != nil {
				fmt.Fprintln(os.Stderr, "short-lived process:", err)
				os.Exit(1)
			}
			fmt.Println(cmd.Process.Pid, at.UnixNano(), sent)
		}
		os.Exit(0)
	}
	if dir := os.Getenv(hostEnv); dir != "" {
		cfg := DefaultConfig()
		cfg.Sysfs = dir
		cfg.Signals.Mode = SignalsHost
		err := (&signalsProbe{cfg: cfg}).Run(context.Background(), func(event.Event) {})
		fmt.Fprintln(os.Stderr, "host mode ended:", err)
		os.Exit(1)
	}
	if pid := os.Getenv(checkEnv); pid != "" {
		n, _ := strconv.Atoi(pid)
		cfg := DefaultConfig()
		cfg.Signals.PIDs = []int{n}
		fmt.Println((&signalsProbe{cfg: cfg}).Check())
		os.Exit(0)
	}
	// The tracer's waker inherits tracerEnv, but never gets here: package
	// ptrace, imported by this one, keeps it in its own init.
	if pid := os.Getenv(tracerEnv); pid != "" {
		n, _ := strconv.Atoi(pid)
		cfg := DefaultConfig()
		cfg.Signals.PIDs = []int{n}
		p := &signalsProbe{cfg: cfg}
		attached := make(chan struct{})
		var once sync.Once
		go p.Run(context.Background(), func(ev event.Event) {
			if tr, ok := event.As[schema.Trace](ev); ok && tr.State == schema.TraceAttached {
				once.Do(func() { close(attached) })
			}
		})
		<-attached
		fmt.Println("attached")
		select {}
	}
}

// sigTarget is a running sigtarget process and its output, line by line.
type sigTarget struct {
	cmd   *exec.Cmd
	pid   int
	lines chan string
}

func startTarget(t *testing.T, mode string) *sigTarget {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = sigtarget.Environ(mode)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tg := &sigTarget{cmd: cmd, pid: cmd.Process.Pid, lines: make(chan string, 4096)}
	t.Cleanup(func() {
		unix.Kill(tg.pid, unix.SIGKILL)
		cmd.Wait() // may say ECHILD: a tracer in this process can reap its own child
	})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			tg.lines <- sc.Text()
		}
		close(tg.lines)
	}()
	if mode == "count" {
		tg.expect(t, "ready")
	}
	return tg
}

func (tg *sigTarget) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case l := <-tg.lines:
		if l != want {
			t.Fatalf("target said %q, want %q", l, want)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("target did not say %q", want)
	}
}

// quiet checks that the target says nothing for d.
func (tg *sigTarget) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case l := <-tg.lines:
		t.Fatalf("target said %q, want nothing", l)
	case <-time.After(d):
	}
}

// recorder runs the probe in this process and keeps its events.
type recorder struct {
	mu     sync.Mutex
	evs    []event.Event
	cancel context.CancelFunc
	done   chan error
}

func traceSignals(t *testing.T, cfg schema.SignalsConfig) *recorder {
	t.Helper()
	c := DefaultConfig()
	c.Interval = 50 * time.Millisecond
	c.Signals = cfg
	return traceWith(t, c)
}

// traceWith is traceSignals with a whole Config (another --sysfs, say).
func traceWith(t *testing.T, c Config) *recorder {
	t.Helper()
	_, r := startProbe(t, c)
	return r
}

// startProbe runs the probe in this process and returns it with the
// recorder of its events.
func startProbe(t *testing.T, c Config) (*signalsProbe, *recorder) {
	t.Helper()
	p := &signalsProbe{cfg: c}
	if err := p.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &recorder{cancel: cancel, done: make(chan error, 1)}
	go func() {
		r.done <- p.Run(ctx, func(ev event.Event) { r.mu.Lock(); r.evs = append(r.evs, ev); r.mu.Unlock() })
	}()
	t.Cleanup(func() { r.stop(t) })
	return p, r
}

func (r *recorder) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		t.Fatal("probe did not stop")
	}
}

func (r *recorder) events() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event.Event(nil), r.evs...)
}

// waitFor polls the events until ok says yes.
func (r *recorder) waitFor(t *testing.T, what string, ok func([]event.Event) bool) []event.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if evs := r.events(); ok(evs) {
			return evs
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; events: %s", what, dump(r.events()))
	return nil
}

func dump(evs []event.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		j, _ := ev.MarshalJSON()
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

func signalsOf(evs []event.Event, name string) []*schema.Signal {
	var out []*schema.Signal
	for _, ev := range evs {
		if s, ok := event.As[schema.Signal](ev); ok && s.Signal == name {
			out = append(out, s)
		}
	}
	return out
}

func attached(evs []event.Event) bool {
	for _, ev := range evs {
		if tr, ok := event.As[schema.Trace](ev); ok && tr.State == schema.TraceAttached {
			return true
		}
	}
	return false
}

// procState is the state letter of /proc/PID/stat and TracerPid; every
// thread of pid is checked, and the first traced or 't' one is returned.
func procState(t *testing.T, pid int) (state byte, tracer int) {
	t.Helper()
	cfg := DefaultConfig()
	tids, err := cfg.taskIDs(pid)
	if err != nil {
		t.Fatalf("pid %d: %v", pid, err)
	}
	for _, tid := range tids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
		if err != nil {
			continue
		}
		s := string(b)
		st := s[strings.LastIndexByte(s, ')')+2]
		tp, _ := cfg.statusInt(tid, "TracerPid")
		if tid == pid || st == 't' || tp != 0 {
			state, tracer = st, tp
			if st == 't' || tp != 0 {
				return
			}
		}
	}
	return
}

func untraced(t *testing.T, pid int) {
	t.Helper()
	if st, tp := procState(t, pid); st == 't' || tp != 0 {
		t.Fatalf("pid %d after detach: state %c, TracerPid %d", pid, st, tp)
	}
}
