//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
	"golang.org/x/sys/unix"

	"github.com/stakeout/stakeout/internal/hostile"
	"github.com/stakeout/stakeout/internal/sigtarget"
	"github.com/stakeout/stakeout/internal/testenv"
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
	share(t)
	testenv.NeedRoot(t, "ptrace")
	pid, send := hostileProcs(t)
	cmd := exec.Command(binPath, "snapshot", "--duration", "2500ms", "--probes", "signals", "--pid", strconv.Itoa(pid),
		"--burst-window", "1s", "--no-record", "--format", "text")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "the target is traced", func() bool { n, _ := traced(pid); return n != 0 })
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

// onPTY is stakeout running on a pseudo-terminal, with everything it
// wrote to it.
type onPTY struct {
	cmd    *exec.Cmd
	master *os.File
	mu     sync.Mutex
	out    bytes.Buffer
}

func startOnPTY(t *testing.T, cols, rows int, args ...string) *onPTY {
	t.Helper()
	return startOnPTYWith(t, nil, cols, rows, args...)
}

// startOnPTYWith is startOnPTY with env added to stakeout's environment
// (the tests run in parallel, so none may set the test process's own).
func startOnPTYWith(t *testing.T, env []string, cols, rows int, args ...string) *onPTY {
	t.Helper()
	master, slave := openPTY(t, cols, rows)
	p := &onPTY{master: master, cmd: exec.Command(binPath, args...)}
	p.cmd.Env = append(append(os.Environ(), "TERM=xterm-256color"), env...)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = slave, slave, slave
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
		master.Close()
	})
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := master.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return p
}

func (p *onPTY) written() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitShown waits up to 5 s for s to be on the screen.
func (p *onPTY) waitShown(s string) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if strings.Contains(ansi.Strip(p.written()), s) {
			return
		}
	}
}

// quit presses q and waits for stakeout to exit.
func (p *onPTY) quit(t *testing.T) {
	t.Helper()
	p.master.Write([]byte("q"))
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("stakeout: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("q did not quit")
	}
}

// TestHostileProcessNameInLiveTUI runs the live TUI on a real pseudo-
// terminal, tracing the hostile-named process while the hostile-named
// sender signals it. The bytes stakeout writes to the terminal hold the
// names escaped, never raw.
func TestHostileProcessNameInLiveTUI(t *testing.T) {
	share(t)
	testenv.NeedRoot(t, "ptrace")
	pid, send := hostileProcs(t)
	p := startOnPTY(t, 160, 40, "--no-record", "--probes", "signals", "--pid", strconv.Itoa(pid), "--burst-window", "1s")
	testenv.Eventually(t, 5*time.Second, "the target is traced", func() bool { n, _ := traced(pid); return n != 0 })
	send()
	p.waitShown(escapedTarget)
	p.waitShown(escapedSender)
	p.quit(t)
	out := p.written()
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

// TestHostileFileInReplayTUI: `stakeout replay` of the hostile recording on
// a real pseudo-terminal, every pane zoomed in turn. The host line, the
// panes, the findings strip and the note show the strings escaped; none of
// their bytes reaches the terminal raw.
func TestHostileFileInReplayTUI(t *testing.T) {
	share(t)
	file := filepath.Join(t.TempDir(), "hostile.stk")
	if err := hostile.Write(file); err != nil {
		t.Fatal(err)
	}
	p := startOnPTY(t, 200, 50, "replay", file)
	p.waitShown(hostile.Escaped)
	p.master.Write([]byte("End")) // not a key: harmless typing
	for n := 1; n <= 8; n++ {
		p.master.Write([]byte(strconv.Itoa(n) + "\r"))
		time.Sleep(150 * time.Millisecond)
		p.master.Write([]byte("\r"))
	}
	p.master.Write([]byte("\x1b[F")) // End: the whole recording played
	time.Sleep(500 * time.Millisecond)
	p.quit(t)
	// stakeout sets its own window title, and clears it on quitting.
	out := strings.NewReplacer("\x1b]2;stakeout\a", "", "\x1b]2;\a", "").Replace(p.written())
	if !utf8.ValidString(out) {
		t.Error("invalid UTF-8 (a raw 0x9b C1 CSI?) reached the terminal")
	}
	for _, raw := range []string{"\x1b]0;pwn", "\u009b", "\u202e", "\x07"} {
		if i := strings.Index(out, raw); i >= 0 {
			t.Errorf("%q reached the terminal raw: %q", raw, out[max(0, i-60):min(len(out), i+20)])
		}
	}
	if n := strings.Count(ansi.Strip(out), hostile.Escaped); n < 3 {
		t.Errorf("the hostile strings showed escaped %d times:\n%s", n, ansi.Strip(out))
	}
}

// TestHostileDeletedFileHolder: a real process named with an escape
// sequence holds open a deleted file whose name has others; the diskfill
// probe finds it, and snapshot's text report names both, escaped.
func TestHostileDeletedFileHolder(t *testing.T) {
	share(t)
	mnt, _ := testenv.LoopFS(t, 64, 5)
	path := filepath.Join(mnt, "f\x1b[2J\x1b]0;pwn\x07.log")
	holder := copyExe(t, "/bin/sh", t.TempDir(), "d\x1b]0;pwn\x07")
	// The shell itself writes 4 MiB through fd 3 (so it is a top writer,
	// examined at once), deletes the file and keeps fd 3 open; its sleep
	// does not inherit it.
	cmd := exec.Command(holder, "-c", `exec 3>"$0"; i=0; while [ $i -lt 4096 ]; do printf '%1024s' >&3; i=$((i+1)); done; `+
		`rm "$0"; echo held; sleep 30 3>&-`, path)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "held\n" {
		t.Fatalf("holder said %q", line)
	}
	snap := exec.Command(binPath, "snapshot", "--duration", "3s", "--probes", "diskfill", "--mount", mnt,
		"--no-record", "--format", "text")
	var stdout, stderr bytes.Buffer
	snap.Stdout, snap.Stderr = &stdout, &stderr
	if err := snap.Run(); err != nil {
		t.Fatalf("snapshot: %v %s", err, stderr.String())
	}
	text := stdout.String()
	if raw := hostile.Raw(text); raw != "" {
		t.Errorf("%s reached stdout:\n%q", raw, text)
	}
	for _, want := range []string{"disk.deleted_open", `d\x1b]0;pwn\x07`, `f\x1b[2J\x1b]0;pwn\x07.log`} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %s:\n%s", want, text)
		}
	}
}
