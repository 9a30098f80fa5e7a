package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"golang.org/x/sys/unix"

	"github.com/stakeout/stakeout/internal/hostile"
	"github.com/stakeout/stakeout/internal/sigtarget"
)

// Process names that attack the terminal. A comm holds 15 bytes; these
// fit. The target's retitles the window (OSC 0 … BEL); the sender's clears
// the screen and then sends a C1 CSI.
const (
	hostileTarget = "x\x1b]0;pwn\x07"
	hostileSender = "k\x1b[2J\u009b"
)

var (
	escapedTarget = `x\x1b]0;pwn\x07`
	escapedSender = `k\x1b[2J\x9b`
	// Bytes that mean the names reached the terminal raw.
	rawNames = []string{"\x1b]0;pwn", "k\x1b[2J", "\xc2\x9b"}
)

// hostileProcs starts a signal target whose comm is hostileTarget and
// returns its pid and a function that makes a process named hostileSender
// send it two SIGHUPs 200 ms apart (each handled before the next, so the
// kernel cannot merge them).
func hostileProcs(t *testing.T) (pid int, send func()) {
	t.Helper()
	dir := t.TempDir()
	target := exec.Command(copyExe(t, os.Args[0], dir, hostileTarget))
	target.Env = sigtarget.Environ("count")
	out, _ := target.StdoutPipe()
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Process.Kill(); target.Wait() })
	tg := &sigTarget{pid: target.Process.Pid, lines: bufio.NewScanner(out)}
	tg.expect(t, "ready")
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", tg.pid)); strings.TrimSpace(string(comm)) != hostileTarget {
		t.Fatalf("target comm %q", comm)
	}
	sender := copyExe(t, "/bin/sh", dir, hostileSender)
	return tg.pid, func() {
		p := strconv.Itoa(tg.pid)
		c := exec.Command(sender, "-c", "kill -HUP "+p)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("sender: %v %s", err, out)
		}
		tg.expect(t, "HUP 1")
		// The shell lives on a moment after the second, so its comm is read.
		c = exec.Command(sender, "-c", "kill -HUP "+p+"; sleep 0.5")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		tg.expect(t, "HUP 2")
		c.Wait()
	}
}

// TestHostileProcessNameInSnapshot: a real process named with an escape
// sequence, signalled by another, is traced live; snapshot's text report
// names both, escaped, and writes no control character.
func TestHostileProcessNameInSnapshot(t *testing.T) {
	needRoot(t)
	pid, send := hostileProcs(t)
	cmd := exec.Command(binPath, "snapshot", "--duration", "2500ms", "--probes", "signals", "--pid", strconv.Itoa(pid),
		"--burst-window", "1s", "--no-record", "--format", "text")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the target is traced", func() bool { n, _ := traced(pid); return n != 0 })
	send()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("snapshot: %v %s", err, stderr.String())
	}
	out := stdout.String()
	if raw := hostile.Raw(out); raw != "" {
		t.Errorf("%s reached stdout:\n%q", raw, out)
	}
	for _, want := range []string{"signal.burst", escapedTarget, escapedSender} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %s:\n%s", want, out)
		}
	}
}

// openPTY opens a pseudo-terminal pair of the given size.
func openPTY(t *testing.T, cols, rows int) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(rows), Col: uint16(cols)}); err != nil {
		t.Fatal(err)
	}
	return m, s
}

// TestHostileProcessNameInLiveTUI runs the live TUI on a real pseudo-
// terminal, tracing the hostile-named process while the hostile-named
// sender signals it. The bytes stakeout writes to the terminal hold the
// names escaped, never raw.
func TestHostileProcessNameInLiveTUI(t *testing.T) {
	needRoot(t)
	pid, send := hostileProcs(t)
	master, slave := openPTY(t, 160, 40)
	defer master.Close()
	cmd := exec.Command(binPath, "--no-record", "--probes", "signals", "--pid", strconv.Itoa(pid), "--burst-window", "1s")
	cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var mu sync.Mutex
	var screen bytes.Buffer
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	shown := func(s string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return strings.Contains(ansi.Strip(screen.String()), s)
		}
	}
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	waitUntil(t, "the target is traced", func() bool { n, _ := traced(pid); return n != 0 })
	send()
	for _, s := range []string{escapedTarget, escapedSender} {
		for deadline := time.Now().Add(5 * time.Second); !shown(s)() && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
	}
	master.Write([]byte("q"))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("stakeout: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("q did not quit")
	}
	mu.Lock()
	out := screen.String()
	mu.Unlock()
	for _, raw := range rawNames {
		if strings.Contains(out, raw) {
			t.Errorf("%q reached the terminal raw", raw)
		}
	}
	for _, s := range []string{escapedTarget, escapedSender} {
		if !strings.Contains(ansi.Strip(out), s) {
			t.Errorf("the screen never showed %s", s)
		}
	}
	if t.Failed() {
		t.Logf("screen:\n%s", ansi.Strip(out))
	}
}
