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
	"testing"
	"time"

	"github.com/stakeout/stakeout/internal/hostile"
	"github.com/stakeout/stakeout/internal/sigtarget"
	"github.com/stakeout/stakeout/internal/testenv"
)

// TestDELInProcessNamesLive: a real process whose comm holds DEL (0x7f),
// signalled twice by another whose comm holds DEL and a C1 control, is
// traced by snapshot, which records it. snapshot's JSON report, and
// `events` and `report --format json` of the recording, show the names with
// \u007f and \u0085 and write no DEL or C1 to the terminal.
func TestDELInProcessNamesLive(t *testing.T) {
	share(t)
	testenv.NeedRoot(t, "ptrace")
	dir := t.TempDir()
	target := exec.Command(copyExe(t, os.Args[0], dir, "del\x7ftgt"))
	target.Env = sigtarget.Environ("count")
	out, _ := target.StdoutPipe()
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Process.Kill(); target.Wait() })
	tg := &sigTarget{pid: target.Process.Pid, lines: bufio.NewScanner(out)}
	tg.expect(t, "ready")
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", tg.pid)); strings.TrimSpace(string(comm)) != "del\x7ftgt" {
		t.Fatalf("target comm %q", comm)
	}
	sender := copyExe(t, "/bin/sh", dir, "snd\x7f\u0085")
	file := filepath.Join(dir, "del.stk")
	snap := exec.Command(binPath, "snapshot", "--duration", "2500ms", "--probes", "signals", "--pid", strconv.Itoa(tg.pid),
		"--burst-window", "1s", "--format", "json", "-o", file)
	var stdout, stderr bytes.Buffer
	snap.Stdout, snap.Stderr = &stdout, &stderr
	if err := snap.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "the target is traced", func() bool { n, _ := traced(tg.pid); return n != 0 })
	p := strconv.Itoa(tg.pid)
	if out, err := exec.Command(sender, "-c", "kill -HUP "+p).CombinedOutput(); err != nil {
		t.Fatalf("sender: %v %s", err, out)
	}
	tg.expect(t, "HUP 1")
	if out, err := exec.Command(sender, "-c", "kill -HUP "+p+"; sleep 0.5").CombinedOutput(); err != nil {
		t.Fatalf("sender: %v %s", err, out)
	}
	tg.expect(t, "HUP 2")
	if err := snap.Wait(); err != nil {
		t.Fatalf("snapshot: %v %s", err, stderr.String())
	}
	outputs := map[string]string{"snapshot --format json": stdout.String()}
	for _, args := range [][]string{{"events", file}, {"report", file, "--format", "json"}} {
		r := run(t, nil, args...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", args[0], r.code, r.stderr)
		}
		outputs[args[0]+" "+strings.Join(args[2:], " ")] = r.stdout
	}
	for name, out := range outputs {
		if raw := hostile.Raw(out); raw != "" {
			t.Errorf("%s: %s reached stdout", name, raw)
		}
		if !strings.Contains(out, `del\u007ftgt`) {
			t.Errorf("%s: the target's name is not there escaped:\n%s", name, out)
		}
		if !strings.Contains(out, `snd\u007f\u0085`) {
			t.Errorf("%s: the sender's name is not there escaped:\n%s", name, out)
		}
	}
}
