//go:build linux

package e2e

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// streamProc is `stakeout stream` running as a subprocess, read as the
// local side of --ssh reads it.
type streamProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.ReadCloser
	stderr bytes.Buffer
	sr     *sessions.StreamReader
	evs    chan event.Event
	end    chan error // the stream's end: io.EOF when clean
	exited chan struct{}
}

func startStreamProc(t *testing.T, exe string, args ...string) *streamProc {
	t.Helper()
	p := &streamProc{cmd: exec.Command(exe, append([]string{"stream"}, args...)...),
		evs: make(chan event.Event, 4096), end: make(chan error, 1), exited: make(chan struct{})}
	p.cmd.Stderr = &p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if p.stdout, err = p.cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.stdin.Close()
		go func() {
			for range p.evs { // so the reader can finish, and Wait run
			}
		}()
		select {
		case <-p.exited:
		case <-time.After(20 * time.Second):
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	// Wait closes stdout: only once everything in it has been read.
	read := make(chan struct{})
	go func() { <-read; p.cmd.Wait(); close(p.exited) }()
	if p.sr, err = sessions.ReadStream(p.stdout); err != nil {
		close(read)
		t.Fatalf("ReadStream: %v (stderr %q)", err, p.stderr.String())
	}
	go func() {
		defer close(read)
		for {
			ev, err := p.sr.Next()
			if err != nil {
				p.end <- err
				close(p.evs)
				return
			}
			p.evs <- ev
		}
	}()
	return p
}

// until reads events until match says so, and fails after a generous wait.
func (p *streamProc) until(t *testing.T, what string, within time.Duration, match func(event.Event) bool) event.Event {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-p.evs:
			if !ok {
				t.Fatalf("the stream ended (%v) before %s; stderr %q", <-p.end, what, p.stderr.String())
			}
			if match(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s within %s", what, within)
		}
	}
}

// closeAndWait closes stdin, reads the stream to its end and waits for the
// process: both must end within a few seconds.
func (p *streamProc) closeAndWait(t *testing.T) (streamEnd error, code int) {
	t.Helper()
	p.stdin.Close()
	deadline := time.After(10 * time.Second)
	for streamEnd == nil {
		select {
		case _, ok := <-p.evs:
			if !ok {
				streamEnd = <-p.end
			}
		case <-deadline:
			t.Fatal("the stream did not end within 10 s of stdin closing")
		}
	}
	select {
	case <-p.exited:
	case <-deadline:
		t.Fatal("stakeout stream did not exit within 10 s of stdin closing")
	}
	return streamEnd, p.cmd.ProcessState.ExitCode()
}

func isKind(kind string) func(event.Event) bool {
	return func(ev event.Event) bool { return ev.Kind == kind }
}

// TestStreamCommand: `stakeout stream` with real probes writes a stream
// with this host's header whose events arrive as they happen; `ping 7` is
// answered with a pong for 7 within a second; when stdin closes it ends
// the stream cleanly and exits 0 within a few seconds, saying nothing.
func TestStreamCommand(t *testing.T) {
	share(t)
	testenv.NeedRoot(t, "the kmsg and host probes read root-only files")
	p := startStreamProc(t, binPath, "--probes", "iostat,kmsg,host", "--interval", "200ms")
	host, _ := os.ReadFile("/proc/sys/kernel/hostname")
	if h := p.sr.Header(); h.Hostname != strings.TrimSpace(string(host)) || h.Kernel == "" || !strings.Contains(strings.Join(h.Command, " "), "stream") {
		t.Fatalf("header %+v", h)
	}
	p.until(t, "an iostat sample", 20*time.Second, isKind(schema.KindIO))
	p.until(t, "a host sample", 20*time.Second, isKind(schema.KindHost))

	sent := time.Now()
	io.WriteString(p.stdin, "ping 7\n")
	pong := p.until(t, "a pong", 20*time.Second, isKind(schema.KindStreamPong))
	took := time.Since(sent)
	if pg, _ := event.As[schema.StreamPong](pong); pg.ID != 7 {
		t.Fatalf("pong %+v", pong)
	}
	t.Logf("pong after %s", took)
	if took > time.Second {
		t.Errorf("pong came %s after the ping, want within a second", took)
	}
	end, code := p.closeAndWait(t)
	if end != io.EOF || code != 0 || p.stderr.Len() != 0 {
		t.Fatalf("after stdin closed: stream end %v, exit %d, stderr %q", end, code, p.stderr.String())
	}
}

// TestStreamCommandClockSkew: --clock-skew 3s moves every event's time,
// the pong's included, 3 s ahead of this clock.
func TestStreamCommandClockSkew(t *testing.T) {
	share(t)
	procfs, sysfs := fixtureRoots(t)
	p := startStreamProc(t, binPath, "--probes", "iostat", "--interval", "100ms", "--procfs", procfs, "--sysfs", sysfs, "--clock-skew", "3s")
	for i := 0; i < 3; i++ {
		ev := p.until(t, "an iostat sample", 20*time.Second, isKind(schema.KindIO))
		if d := ev.Time.Sub(time.Now()); d < 2*time.Second || d > 3*time.Second+100*time.Millisecond {
			t.Errorf("a sample %s ahead of this clock, want 3 s less its age", d)
		}
	}
	io.WriteString(p.stdin, "ping 1\n")
	pong := p.until(t, "a pong", 20*time.Second, isKind(schema.KindStreamPong))
	if d := pong.Time.Sub(time.Now()); d < 2*time.Second || d > 3*time.Second+100*time.Millisecond {
		t.Errorf("the pong %s ahead of this clock, want about 3 s", d)
	}
	if end, code := p.closeAndWait(t); end != io.EOF || code != 0 {
		t.Fatalf("stream end %v, exit %d", end, code)
	}
}

// TestStreamCommandTracedTarget: a --pid target traced by the stream is
// running and untraced after stdin closes (the stream detaches it), and
// after the stream is killed with SIGKILL (the kernel detaches it when its
// tracer dies).
func TestStreamCommandTracedTarget(t *testing.T) {
	share(t)
	testenv.NeedRoot(t, "ptrace")
	target := exec.Command("sleep", "1000")
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Process.Kill(); target.Wait() })
	pid := target.Process.Pid
	attached := func(ev event.Event) bool {
		tr, ok := event.As[schema.Trace](ev)
		return ok && tr.PID == pid && tr.State == "attached"
	}
	free := func() bool {
		by, state := traced(pid)
		return by == 0 && state != 't' && state != 'T'
	}
	for _, how := range []string{"stdin closed", "SIGKILL"} {
		p := startStreamProc(t, binPath, "--probes", "signals", "--pid", strconv.Itoa(pid))
		p.until(t, "the target attached", 20*time.Second, attached)
		// TracerPid names the tracing thread.
		by, _ := traced(pid)
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(p.cmd.Process.Pid), "task", strconv.Itoa(by))); by <= 0 || err != nil {
			t.Fatalf("%s: target traced by %d, not a thread of the stream %d", how, by, p.cmd.Process.Pid)
		}
		if how == "SIGKILL" {
			p.cmd.Process.Signal(syscall.SIGKILL)
			if end, _ := p.closeAndWait(t); !errors.Is(end, io.ErrUnexpectedEOF) {
				t.Errorf("the stream of a killed stakeout ended with %v, want io.ErrUnexpectedEOF", end)
			}
		} else if end, code := p.closeAndWait(t); end != io.EOF || code != 0 {
			t.Fatalf("stream end %v, exit %d, stderr %q", end, code, p.stderr.String())
		}
		testenv.Eventually(t, 10*time.Second, how+": target running and untraced", free)
		by, state := traced(pid)
		t.Logf("%s: target TracerPid %d, state %c", how, by, state)
	}
}

// TestStreamCommandReaderGone: when the stream's reader goes away the
// stream stops and exits 0, silently.
func TestStreamCommandReaderGone(t *testing.T) {
	share(t)
	procfs, sysfs := fixtureRoots(t)
	p := startStreamProc(t, binPath, "--probes", "iostat", "--interval", "100ms", "--procfs", procfs, "--sysfs", sysfs)
	p.until(t, "an iostat sample", 20*time.Second, isKind(schema.KindIO))
	p.stdout.Close()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("stream still running 10 s after its reader went away")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 || p.stderr.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, p.stderr.String())
	}
}

// TestStreamCommandUnlinkSelf: --unlink-self removes the copied binary
// and the directory it was copied to; with anything else in the directory
// only the binary goes.
func TestStreamCommandUnlinkSelf(t *testing.T) {
	share(t)
	procfs, sysfs := fixtureRoots(t)
	base := t.TempDir()
	for _, other := range []bool{false, true} {
		dir, err := os.MkdirTemp(base, "stakeout-copy-")
		if err != nil {
			t.Fatal(err)
		}
		exe := copyExe(t, binPath, dir, "stakeout")
		if other {
			os.WriteFile(filepath.Join(dir, "keep"), []byte("x"), 0o600)
		}
		p := startStreamProc(t, exe, "--unlink-self", "--probes", "iostat", "--interval", "100ms", "--procfs", procfs, "--sysfs", sysfs)
		p.until(t, "an iostat sample", 20*time.Second, isKind(schema.KindIO))
		if _, err := os.Stat(exe); !os.IsNotExist(err) {
			t.Errorf("the copied binary is still there: %v", err)
		}
		_, err = os.Stat(dir)
		if other && err != nil {
			t.Errorf("a directory with another file in it was removed: %v", err)
		}
		if _, kerr := os.Stat(filepath.Join(dir, "keep")); other && kerr != nil {
			t.Errorf("the other file went: %v", kerr)
		}
		if !other && !os.IsNotExist(err) {
			t.Errorf("the emptied directory is still there: %v", err)
		}
		if end, code := p.closeAndWait(t); end != io.EOF || code != 0 || p.stderr.Len() != 0 {
			t.Fatalf("stream end %v, exit %d, stderr %q", end, code, p.stderr.String())
		}
	}
}

// TestStreamCommandRefusesTerminal: a stream is not for a terminal: one
// line, exit 2, as for bad flags, with nothing on stdout. Its --help says
// what it is for and hides the test flags.
func TestStreamCommandRefusesTerminal(t *testing.T) {
	share(t)
	master, slave := openPTY(t, 80, 24)
	defer master.Close()
	cmd := exec.Command(binPath, "stream", "--probes", "iostat")
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = slave, &errb
	err := cmd.Run()
	slave.Close()
	want := "stakeout: stream writes a binary event stream for another stakeout to read; run it through ssh or pipe it to a file\n"
	if cmd.ProcessState.ExitCode() != exitUsage || errb.String() != want {
		t.Fatalf("on a terminal: %v, stderr %q", err, errb.String())
	}
	oneLineError(t, run(t, nil, "stream", "--probes", "nope"), exitUsage, `unknown probe "nope"`)
	oneLineError(t, run(t, nil, "stream", "--interval", "1ms"), exitUsage, "--interval")
	help := run(t, nil, "stream", "--help")
	if !strings.Contains(help.stdout, "the other end of `stakeout --ssh`") || !strings.Contains(help.stdout, "--probes") ||
		strings.Contains(help.stdout, "clock-skew") || strings.Contains(help.stdout, "unlink-self") {
		t.Errorf("stream --help:\n%s", help.stdout)
	}
	if root := run(t, nil, "--help"); !strings.Contains(root.stdout, "stream") {
		t.Errorf("stakeout --help does not list stream")
	}
}
