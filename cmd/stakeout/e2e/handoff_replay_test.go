//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// startInDirOnPTY runs argv in dir on a pseudo-terminal, with the stakeout
// under test first on PATH.
func startInDirOnPTY(t *testing.T, dir string, argv ...string) *onPTY {
	t.Helper()
	master, slave := openPTY(t, 120, 40)
	p := &onPTY{master: master, cmd: exec.Command(argv[0], argv[1:]...)}
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), "TERM=xterm-256color", "PATH="+filepath.Dir(binPath)+":"+os.Getenv("PATH"))
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

// replayShows runs argv on a terminal in dir and says whether the replay
// of the handoff recording came up and quit cleanly on q.
func replayShows(t *testing.T, dir string, argv ...string) {
	t.Helper()
	p := startInDirOnPTY(t, dir, argv...)
	p.waitShown("web-3")
	p.quit(t)
	if screen := ansi.Strip(p.written()); !strings.Contains(screen, "web-3") || strings.Contains(screen, "stakeout:") {
		t.Errorf("%q did not replay the recording:\n%s", argv, screen)
	}
}

// TestHandoffReplayCommandRuns: for recordings named like a flag, or with
// a space and quotes, the replay command the handoff report prints is run
// as printed, by bash, on a terminal, and replays the file. Before, a file
// named -e.stk got `stakeout replay -e.stk`, which fails ("unknown
// shorthand flag: 'e'"). `stakeout replay -- -e.stk` works too.
func TestHandoffReplayCommandRuns(t *testing.T) {
	share(t)
	src, err := os.ReadFile(writeHandoffSession(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"-e.stk", `-it's "a" file.stk`, "--since"} {
		if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, window := range [][]string{nil, {"--since", "+20s"}} {
			h := exec.Command(binPath, append(append([]string{"handoff"}, window...), "--", name)...)
			h.Dir = dir
			out, err := h.Output()
			if err != nil {
				t.Fatalf("handoff -- %q: %v", name, err)
			}
			_, cmd, ok := strings.Cut(string(out), "## Replay\n\n    ")
			cmd, _, _ = strings.Cut(cmd, "\n")
			if !ok || !strings.HasPrefix(strings.TrimLeft(strings.TrimPrefix(cmd, "stakeout replay "), "'"), dir+"/") || (window != nil) != strings.Contains(cmd, " --since ") {
				t.Fatalf("%q: replay command %q", name, cmd)
			}
			replayShows(t, dir, "bash", "-c", cmd)
		}
	}
	replayShows(t, dir, binPath, "replay", "--", "-e.stk")
	if r := run(t, nil, "replay", "-e.stk"); !strings.Contains(r.stderr, "unknown shorthand flag") {
		t.Errorf("stakeout replay -e.stk: %+v (the reason for ./)", r)
	}
}
