//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stakeout/stakeout/internal/sigtarget"
	"github.com/stakeout/stakeout/internal/testenv"
)

// A copy of this test binary run with STAKEOUT_SIGTARGET set is the target.
func init() { sigtarget.MaybeRun() }

type sigTarget struct {
	pid   int
	lines *bufio.Scanner
}

// startSigTarget runs a target that counts the HUPs it handles.
func startSigTarget(t *testing.T) *sigTarget {
	t.Helper()
	testenv.NeedRoot(t, "ptrace")
	cmd := exec.Command(os.Args[0])
	cmd.Env = sigtarget.Environ("count")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	tg := &sigTarget{pid: cmd.Process.Pid, lines: bufio.NewScanner(out)}
	tg.expect(t, "ready")
	return tg
}

func (tg *sigTarget) expect(t *testing.T, want string) {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		if tg.lines.Scan() {
			got <- tg.lines.Text()
		}
		close(got)
	}()
	select {
	case l := <-got:
		if l != want {
			t.Fatalf("target said %q, want %q", l, want)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("target did not say %q", want)
	}
}

// traced reports any thread of pid in state 't' or with a tracer, and
// whether the process is stopped.
func traced(pid int) (tracedBy int, state byte) {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, e := range ents {
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, e.Name()))
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, e.Name()))
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) {
			if state = stat[i+2]; state == 't' {
				return -1, state
			}
		}
		for _, l := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(l, "TracerPid:"); ok {
				if n, _ := strconv.Atoi(strings.TrimSpace(v)); n != 0 {
					return n, state
				}
			}
		}
	}
	return 0, state
}

// The end-to-end test: two SIGHUPs 3 ms apart to a process that
// counts them. `stakeout snapshot --pid` reports signal.burst with count 2
// and the sender's pid; the target counted 2 and runs on, untraced.
func TestSignalsBurstEndToEnd(t *testing.T) {
	share(t)
	tg := startSigTarget(t)
	snap := exec.Command(binPath, "snapshot", "--duration", "1500ms", "--probes", "signals", "--burst-window", "1s",
		"--pid", strconv.Itoa(tg.pid), "--format", "json", "--no-record")
	var out, errb bytes.Buffer
	snap.Stdout, snap.Stderr = &out, &errb
	if err := snap.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "stakeout attached", func() bool { n, _ := traced(tg.pid); return n != 0 })
	// Three ms apart on a quiet machine; later if the target is slow to
	// handle the first (see SendPair), which the wide window absorbs.
	ack := func() error { tg.expect(t, "HUP 1"); return nil }
	gap, err := sigtarget.SendPair(tg.pid, syscall.SIGHUP, 3*time.Millisecond, ack)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the two SIGHUPs went %v apart", gap)
	tg.expect(t, "HUP 2")
	if err := snap.Wait(); err != nil {
		t.Fatalf("snapshot: %v %s", err, errb.String())
	}
	var doc struct {
		Findings []struct {
			Finding string `json:"finding"`
			Data    struct {
				PID     int `json:"pid"`
				Count   int `json:"count"`
				Senders []struct {
					PID int `json:"pid"`
				} `json:"senders"`
			} `json:"data"`
		} `json:"findings"`
		Summary map[string]json.RawMessage `json:"summary"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var bursts int
	for _, f := range doc.Findings {
		if f.Finding == "signal.burst" {
			bursts++
			if f.Data.PID != tg.pid || f.Data.Count != 2 || len(f.Data.Senders) != 1 || f.Data.Senders[0].PID != os.Getpid() {
				t.Errorf("burst %+v", f.Data)
			}
		}
	}
	if bursts != 1 {
		t.Errorf("%d signal.burst findings:\n%s", bursts, out.String())
	}
	var sum struct {
		Processes []struct {
			PID     int            `json:"pid"`
			Signals map[string]int `json:"signals"`
		} `json:"processes"`
	}
	json.Unmarshal(doc.Summary["signals"], &sum)
	if len(sum.Processes) != 1 || sum.Processes[0].PID != tg.pid || sum.Processes[0].Signals["SIGHUP"] != 2 {
		t.Errorf("summary %s", doc.Summary["signals"])
	}
	if n, st := traced(tg.pid); n != 0 || st == 'T' {
		t.Errorf("after snapshot: tracer %d, state %c", n, st)
	}
	syscall.Kill(tg.pid, syscall.SIGHUP)
	tg.expect(t, "HUP 3")
}

// SIGINT, SIGTERM or SIGHUP to stakeout: it detaches from every thread
// before it exits, and the target handles its next signal.
func TestSignalsDetachOnQuitSignals(t *testing.T) {
	share(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			tg := startSigTarget(t)
			snap := exec.Command(binPath, "snapshot", "--duration", "60s", "--probes", "signals",
				"--pid", strconv.Itoa(tg.pid), "--no-record")
			if err := snap.Start(); err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, 5*time.Second, "stakeout attached", func() bool { n, _ := traced(tg.pid); return n != 0 })
			snap.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- snap.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("stakeout exited with %v", err)
				}
			case <-time.After(10 * time.Second):
				snap.Process.Kill()
				t.Fatal("stakeout did not exit")
			}
			if n, st := traced(tg.pid); n != 0 || st == 't' {
				t.Fatalf("after %v: tracer %d, state %c", sig, n, st)
			}
			syscall.Kill(tg.pid, syscall.SIGHUP)
			tg.expect(t, "HUP 1")
		})
	}
}

// kill -9 of stakeout mid-trace: no PTRACE_O_EXITKILL, so the kernel
// detaches and the target runs on and handles its next signal.
func TestSignalsSurviveKill9(t *testing.T) {
	share(t)
	tg := startSigTarget(t)
	snap := exec.Command(binPath, "snapshot", "--duration", "60s", "--probes", "signals",
		"--pid", strconv.Itoa(tg.pid), "--no-record")
	if err := snap.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "stakeout attached", func() bool { n, _ := traced(tg.pid); return n != 0 })
	syscall.Kill(tg.pid, syscall.SIGHUP)
	tg.expect(t, "HUP 1")
	snap.Process.Kill()
	snap.Wait()
	testenv.Eventually(t, 5*time.Second, "the kernel detached", func() bool { n, st := traced(tg.pid); return n == 0 && st != 't' })
	syscall.Kill(tg.pid, syscall.SIGHUP)
	tg.expect(t, "HUP 2")
}

// hostInstanceReady waits until the stakeout with that pid has its tracefs
// instance enabled at /sys/kernel/tracing (which it mounts if need be).
func hostInstanceReady(t *testing.T, pid int) {
	t.Helper()
	testenv.Eventually(t, 5*time.Second, fmt.Sprintf("stakeout %d's tracefs instance", pid), func() bool {
		m, _ := filepath.Glob(fmt.Sprintf("/sys/kernel/tracing/instances/stakeout-%d-*", pid))
		if len(m) != 1 {
			return false
		}
		b, _ := os.ReadFile(filepath.Join(m[0], "events", "signal", "signal_generate", "enable"))
		return strings.TrimSpace(string(b)) == "1"
	})
}

type hostDoc struct {
	Findings []struct {
		Finding string `json:"finding"`
		Summary string `json:"summary"`
		Data    struct {
			PID     int    `json:"pid"`
			Signal  string `json:"signal"`
			Count   int    `json:"count"`
			Senders []struct {
				PID        int    `json:"pid"`
				Comm       string `json:"comm"`
				PPID       int    `json:"ppid"`
				ParentComm string `json:"parent_comm"`
				Cgroup     string `json:"cgroup"`
				Count      int    `json:"count"`
			} `json:"senders"`
		} `json:"data"`
	} `json:"findings"`
	Summary struct {
		Signals struct {
			Processes []struct {
				PID     int            `json:"pid"`
				Signals map[string]int `json:"signals"`
			} `json:"processes"`
		} `json:"signals"`
	} `json:"summary"`
}

// Issue 12's end-to-end test. A Go program preempts itself (tens of SIGURG
// a second) while a shell sends it two SIGHUPs. Two stakeouts watch the
// host at once: the default one reports exactly the SIGHUP burst for the
// processes of this test, naming the shell and its parent, and records no
// SIGURG and nothing sent to stakeout itself; the one given
// --signals-include SIGURG shows the SIGURGs were there to be left out.
func TestSignalsHostModeBurstNotPreemption(t *testing.T) {
	share(t)
	testenv.NeedRoot(t, "tracefs")
	cmd := exec.Command(os.Args[0])
	cmd.Env = sigtarget.Environ("preempt")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	tg := &sigTarget{pid: cmd.Process.Pid, lines: bufio.NewScanner(out)}
	tg.expect(t, "ready")

	snap := func(extra ...string) (*exec.Cmd, *bytes.Buffer) {
		args := append([]string{"snapshot", "--duration", "4s", "--probes", "signals", "--signals", "host",
			"--format", "json", "--no-record"}, extra...)
		c := exec.Command(binPath, args...)
		var o bytes.Buffer
		c.Stdout, c.Stderr = &o, os.Stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		return c, &o
	}
	plain, plainOut := snap()
	withURG, urgOut := snap("--signals-include", "SIGURG")
	hostInstanceReady(t, plain.Process.Pid)
	hostInstanceReady(t, withURG.Process.Pid)

	sh := exec.Command("/bin/sh", "-c", `kill -HUP "$1"; kill -HUP "$1"; sleep 3`, "sh", strconv.Itoa(tg.pid))
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Process.Kill(); sh.Wait() })
	tg.expect(t, "HUP 1") // the second may be merged into the first: both were generated
	cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", sh.Process.Pid))
	shCgroup := ""
	for _, l := range strings.Split(string(cg), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			shCgroup = p
		}
	}
	for _, c := range []*exec.Cmd{plain, withURG} {
		if err := c.Wait(); err != nil {
			t.Fatalf("snapshot %d: %v", c.Process.Pid, err)
		}
	}
	var doc, urgDoc hostDoc
	if err := json.Unmarshal(plainOut.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, plainOut)
	}
	if err := json.Unmarshal(urgOut.Bytes(), &urgDoc); err != nil {
		t.Fatalf("%v\n%s", err, urgOut)
	}

	ours := map[int]bool{tg.pid: true, plain.Process.Pid: true, withURG.Process.Pid: true, sh.Process.Pid: true}
	bursts := 0
	for _, f := range doc.Findings {
		if f.Data.Signal == "SIGURG" {
			t.Errorf("a SIGURG finding: %s", f.Summary)
		}
		if !ours[f.Data.PID] {
			t.Logf("another process on this shared host: %s: %s", f.Finding, f.Summary)
			continue
		}
		if f.Finding != "signal.burst" || f.Data.PID != tg.pid || f.Data.Signal != "SIGHUP" {
			t.Errorf("unexpected finding %s: %s", f.Finding, f.Summary)
			continue
		}
		bursts++
		d := f.Data
		if d.Count != 2 || len(d.Senders) != 1 || d.Senders[0].PID != sh.Process.Pid || d.Senders[0].Comm != "sh" ||
			d.Senders[0].PPID != os.Getpid() || d.Senders[0].ParentComm == "" || d.Senders[0].Cgroup != shCgroup {
			t.Errorf("burst %+v", d)
		}
		want := fmt.Sprintf("from %d (sh; parent %d (", sh.Process.Pid, os.Getpid())
		if !strings.Contains(f.Summary, want) {
			t.Errorf("summary %q does not say %q", f.Summary, want)
		}
		t.Logf("%s", f.Summary)
	}
	if bursts != 1 {
		t.Errorf("%d SIGHUP bursts for the target, want 1:\n%s", bursts, plainOut)
	}
	// Each leaves out its own signals; the other stakeout's (a SIGCHLD
	// when its watchdog ends) are ordinary traffic to it.
	for _, p := range doc.Summary.Signals.Processes {
		if p.Signals["SIGURG"] != 0 || p.PID == plain.Process.Pid {
			t.Errorf("recorded without --signals-include: pid %d %v", p.PID, p.Signals)
		}
	}
	for _, p := range urgDoc.Summary.Signals.Processes {
		if p.PID == withURG.Process.Pid {
			t.Errorf("stakeout recorded its own signals: pid %d %v", p.PID, p.Signals)
		}
	}
	urgs := 0
	for _, p := range urgDoc.Summary.Signals.Processes {
		if p.PID == tg.pid {
			urgs = p.Signals["SIGURG"]
		}
	}
	if urgs == 0 {
		t.Errorf("--signals-include SIGURG saw no SIGURG to the Go program: the test proves nothing\n%s", urgOut)
	}
	for _, f := range urgDoc.Findings {
		if f.Data.Signal == "SIGURG" {
			t.Errorf("with --signals-include SIGURG, a SIGURG finding: %s", f.Summary)
		}
	}
	t.Logf("--signals-include SIGURG recorded %d SIGURG to the Go program in 4 s", urgs)
	for _, c := range []*exec.Cmd{plain, withURG} {
		if m, _ := filepath.Glob(fmt.Sprintf("/sys/kernel/tracing/instances/stakeout-%d-*", c.Process.Pid)); len(m) != 0 {
			t.Errorf("instance left behind: %v", m)
		}
	}
}
