package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stakeout/stakeout/internal/sigtarget"
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
	if os.Geteuid() != 0 {
		t.Skip("needs root (ptrace)")
	}
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

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting until %s", what)
}

// The end-to-end test: two SIGHUPs 3 ms apart to a process that
// counts them. `stakeout snapshot --pid` reports signal.burst with count 2
// and the sender's pid; the target counted 2 and runs on, untraced.
func TestSignalsBurstEndToEnd(t *testing.T) {
	tg := startSigTarget(t)
	snap := exec.Command(binPath, "snapshot", "--duration", "1500ms", "--probes", "signals", "--burst-window", "1s",
		"--pid", strconv.Itoa(tg.pid), "--format", "json", "--no-record")
	var out, errb bytes.Buffer
	snap.Stdout, snap.Stderr = &out, &errb
	if err := snap.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "stakeout attached", func() bool { n, _ := traced(tg.pid); return n != 0 })
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
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			tg := startSigTarget(t)
			snap := exec.Command(binPath, "snapshot", "--duration", "60s", "--probes", "signals",
				"--pid", strconv.Itoa(tg.pid), "--no-record")
			if err := snap.Start(); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "stakeout attached", func() bool { n, _ := traced(tg.pid); return n != 0 })
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
	tg := startSigTarget(t)
	snap := exec.Command(binPath, "snapshot", "--duration", "60s", "--probes", "signals",
		"--pid", strconv.Itoa(tg.pid), "--no-record")
	if err := snap.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "stakeout attached", func() bool { n, _ := traced(tg.pid); return n != 0 })
	syscall.Kill(tg.pid, syscall.SIGHUP)
	tg.expect(t, "HUP 1")
	snap.Process.Kill()
	snap.Wait()
	waitUntil(t, "the kernel detached", func() bool { n, st := traced(tg.pid); return n == 0 && st != 't' })
	syscall.Kill(tg.pid, syscall.SIGHUP)
	tg.expect(t, "HUP 2")
}
