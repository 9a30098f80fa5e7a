//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/internal/testenv"
)

type snapFinding struct {
	Finding string         `json:"finding"`
	Summary string         `json:"summary"`
	Data    map[string]any `json:"data"`
}

// kernelSnapshot runs `stakeout snapshot --format json` while act runs
// (started once the probes are up) and returns its findings.
func kernelSnapshot(t *testing.T, act func(), args ...string) []snapFinding {
	t.Helper()
	file := filepath.Join(t.TempDir(), "k.stk")
	cmd := exec.Command(binPath, append([]string{"snapshot", "--format", "json", "-o", file}, args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	act()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("snapshot: %v: %s", err, errb.String())
	}
	var doc struct {
		Findings []snapFinding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out.String()), &doc); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	return doc.Findings
}

// A line written to /dev/kmsg during the session is recorded as a kmsg
// event, and one that reads like a hung task becomes a finding.
func TestKernelLogLinesWrittenByTheTest(t *testing.T) {
	share(t, afterOthers)
	testenv.NeedRoot(t, "to read and write /dev/kmsg")
	pid := 900000 + os.Getpid()%99999
	line := fmt.Sprintf("<3>INFO: task stakeout-e2e:%d blocked for more than 120 seconds.\n", pid)
	fs := kernelSnapshot(t, func() {
		if err := os.WriteFile("/dev/kmsg", []byte(line), 0); err != nil {
			t.Fatal(err)
		}
	}, "--probes", "kmsg", "--kmsg-backlog", "0s", "--duration", "2s")
	found := false
	for _, f := range fs {
		if f.Finding == "kernel.hung_task" && f.Data["pid"] == float64(pid) && f.Data["comm"] == "stakeout-e2e" {
			found = true
		}
	}
	if !found {
		t.Errorf("no kernel.hung_task for pid %d in %+v", pid, fs)
	}
}

// A real NULL dereference, logged by the kernel with debug.exception-trace
// on, is reported as kernel.segfault with its comm and pid.
func TestKernelSegfaultOfARealProcess(t *testing.T) {
	share(t, crashes, afterOthers)
	testenv.NeedRoot(t, "to read /dev/kmsg and set debug.exception-trace")
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed: nothing to build the crashing program with")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "crashy.c")
	os.WriteFile(src, []byte("int main(void) { volatile int *p = 0; return *p; }\n"), 0o644)
	bin := filepath.Join(dir, "crashy")
	if out, err := exec.Command(gcc, "-O0", "-o", bin, src).CombinedOutput(); err != nil {
		t.Skipf("gcc cannot build here: %v %s", err, out)
	}
	const knob = "/proc/sys/debug/exception-trace"
	if old, err := os.ReadFile(knob); err == nil {
		os.WriteFile(knob, []byte("1"), 0o644)
		t.Cleanup(func() { os.WriteFile(knob, old, 0o644) })
	}
	var pid int
	fs := kernelSnapshot(t, func() {
		c := exec.Command(bin)
		c.Run()
		pid = c.Process.Pid
	}, "--probes", "kmsg", "--kmsg-backlog", "0s", "--duration", "2s")
	for _, f := range fs {
		if f.Finding == "kernel.segfault" && f.Data["pid"] == float64(pid) {
			if f.Data["comm"] != "crashy" || !strings.HasPrefix(f.Summary, "crashy (pid "+strconv.Itoa(pid)+") segfaulted at 0") {
				t.Errorf("finding %+v", f)
			}
			return
		}
	}
	t.Errorf("no kernel.segfault for pid %d in %+v", pid, fs)
}

// With core_pattern piping to a program that is not there, and a process
// started with `ulimit -c 0` watched with --pid, core.dumps_lost names both.
func TestCoreDumpsLostNamesTheMissingHelperAndTheProcess(t *testing.T) {
	share(t, crashes, afterOthers)
	testenv.NeedRoot(t, "to set core_pattern")
	const knob = "/proc/sys/kernel/core_pattern"
	old, err := os.ReadFile(knob)
	if err != nil {
		t.Skip(err)
	}
	if err := os.WriteFile(knob, []byte("|/nonexistent/apport %p"), 0o644); err != nil {
		t.Skipf("cannot set core_pattern: %v", err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(knob, old, 0o644); err != nil {
			t.Errorf("restoring core_pattern: %v", err)
		}
	})
	target := exec.Command("sh", "-c", "ulimit -c 0; exec sleep 30")
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { target.Process.Kill(); target.Wait() }()
	time.Sleep(200 * time.Millisecond) // past the exec
	pid := target.Process.Pid
	fs := kernelSnapshot(t, func() {}, "--probes", "coredump", "--pid", strconv.Itoa(pid), "--duration", "1500ms")
	var helper, limit bool
	for _, f := range fs {
		if f.Finding != "core.dumps_lost" {
			continue
		}
		r, _ := f.Data["reason"].(string)
		switch {
		case r == "core_pattern pipes to /nonexistent/apport, which does not exist on this host":
			helper = f.Data["core_pattern"] == "|/nonexistent/apport %p"
		case strings.HasPrefix(r, fmt.Sprintf("sleep (pid %d) has a core size limit of 0", pid)):
			pids, _ := f.Data["pids"].([]any)
			limit = len(pids) == 1 && pids[0] == float64(pid)
		}
	}
	if !helper || !limit {
		t.Errorf("helper %v, limit %v in %+v", helper, limit, fs)
	}
}

// In a network namespace of its own, an nftables rule that uses conntrack
// and a burst of UDP "connections" make the table's count rise; the probe,
// run inside the namespace, sees it, and the summary's ratio is count/max.
func TestConntrackCountRisesInANamespace(t *testing.T) {
	share(t, timing)
	testenv.NeedRoot(t, "to make a network namespace")
	for _, tool := range []string{"ip", "nft", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (nftables and iproute2 are needed for this test)", tool)
		}
	}
	ns := fmt.Sprintf("stk-ct-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot make a network namespace: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	inNS := func(args ...string) *exec.Cmd {
		return exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	}
	if out, err := inNS("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v %s", err, out)
	}
	nft := inNS("nft", "-f", "-")
	nft.Stdin = strings.NewReader("table inet stk {\n chain out {\n  type filter hook output priority 0;\n  ct state new accept\n }\n}\n")
	if out, err := nft.CombinedOutput(); err != nil {
		t.Skipf("nft cannot add a conntrack rule here: %v %s", err, out)
	}
	file := filepath.Join(t.TempDir(), "ct.stk")
	snap := inNS(binPath, "snapshot", "--probes", "conntrack", "--interval", "200ms", "--duration", "2500ms", "--format", "json", "-o", file)
	var out strings.Builder
	snap.Stdout = &out
	if err := snap.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	// Each datagram to a new port is a new, unreplied entry that lives 30 s.
	burst := "for p in $(seq 20000 20599); do echo x > /dev/udp/127.0.0.1/$p; done 2>/dev/null; true"
	if b, err := inNS("bash", "-c", burst).CombinedOutput(); err != nil {
		t.Fatalf("burst: %v %s", err, b)
	}
	if err := snap.Wait(); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Summary struct {
			Conntrack struct {
				Samples   int     `json:"samples"`
				Max       uint64  `json:"max"`
				PeakCount uint64  `json:"peak_count"`
				PeakRatio float64 `json:"peak_ratio"`
			} `json:"conntrack"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out.String()), &doc); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	ct := doc.Summary.Conntrack
	maxB, _ := inNS("cat", "/proc/sys/net/netfilter/nf_conntrack_max").Output()
	wantMax, _ := strconv.ParseUint(strings.TrimSpace(string(maxB)), 10, 64)
	if ct.Samples < 5 || ct.Max != wantMax || ct.PeakCount < 600 {
		t.Fatalf("summary %+v (max in the namespace %d)", ct, wantMax)
	}
	if want := math.Round(float64(ct.PeakCount)/float64(ct.Max)*100) / 100; ct.PeakRatio != want {
		t.Errorf("peak_ratio %v, want %d/%d = %v", ct.PeakRatio, ct.PeakCount, ct.Max, want)
	}
	// The first sample came before the burst: the count rose during the session.
	ev := run(t, nil, "events", file, "--kind", "conntrack")
	first := strings.SplitN(ev.stdout, "\n", 2)[0]
	var s0 struct{ Count uint64 }
	if json.Unmarshal([]byte(first), &s0); s0.Count >= 600 {
		t.Errorf("first sample already %d", s0.Count)
	}
}
