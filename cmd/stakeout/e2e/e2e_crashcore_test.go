//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/internal/testenv"
)

// crasher builds a C program that sleeps, then writes through a NULL
// pointer (x86 page-fault error 6), under the given name.
func crasher(t *testing.T, names ...string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed: nothing to build the crashing program with")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "crash.c")
	os.WriteFile(src, []byte("#include <unistd.h>\nint main(void) { sleep(2); volatile int *p = 0; *p = 1; return 0; }\n"), 0o644)
	for _, n := range names {
		if out, err := exec.Command(gcc, "-O0", "-o", filepath.Join(dir, n), src).CombinedOutput(); err != nil {
			t.Skipf("gcc cannot build here: %v %s", err, out)
		}
	}
	const knob = "/proc/sys/debug/exception-trace"
	if old, err := os.ReadFile(knob); err == nil && strings.TrimSpace(string(old)) != "1" {
		os.WriteFile(knob, []byte("1"), 0o644)
		t.Cleanup(func() { os.WriteFile(knob, old, 0o644) })
	}
	return dir
}

// TestSegfaultSaysItsCoreWasLostToALimitOfZero: a real program, started
// under `ulimit -c 0` and watched by name, writes through NULL. One
// kernel.segfault finding names it, decodes error 6, and says no core was
// dumped because its core size limit was 0; and there is indeed no core in
// its working directory. A second program started with no limit, in the
// same session, is said to have likely dumped core, and its core is there.
func TestSegfaultSaysItsCoreWasLostToALimitOfZero(t *testing.T) {
	share(t, crashes, afterOthers)
	testenv.NeedRoot(t, "to read /dev/kmsg")
	if b, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); strings.TrimSpace(string(b)) != "core" {
		t.Skipf("core_pattern is %q here; this test expects the kernel's default, core", strings.TrimSpace(string(b)))
	}
	bins := crasher(t, "crashy-hdsk", "crashy-hdskc")
	for attempt := 1; ; attempt++ {
		lostDir, keptDir := t.TempDir(), t.TempDir()
		start := func(dir, name, limit string) *exec.Cmd {
			c := exec.Command("sh", "-c", "ulimit -c "+limit+"; exec "+filepath.Join(bins, name))
			c.Dir = dir
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			return c
		}
		var lost, kept *exec.Cmd
		fs := kernelSnapshot(t, func() {
			lost = start(lostDir, "crashy-hdsk", "0")
			kept = start(keptDir, "crashy-hdskc", "unlimited")
		}, "--probes", "kmsg,coredump", "--proc", "crashy-hdsk", "--proc", "crashy-hdskc",
			"--kmsg-backlog", "0s", "--duration", "5s")
		lost.Wait()
		kept.Wait()
		byPID := map[int][]snapFinding{}
		for _, f := range fs {
			if f.Finding == "kernel.segfault" {
				pid, _ := f.Data["pid"].(float64)
				byPID[int(pid)] = append(byPID[int(pid)], f)
			}
		}
		l, k := byPID[lost.Process.Pid], byPID[kept.Process.Pid]
		if (len(l) == 0 || len(k) == 0) && attempt < 3 {
			// The kernel rate-limits these lines host-wide (10 per 5 s).
			t.Logf("attempt %d: the kernel logged no segfault line for one of them; again", attempt)
			continue
		}
		if len(l) != 1 {
			t.Fatalf("%d kernel.segfault findings for pid %d, want 1: %+v", len(l), lost.Process.Pid, fs)
		}
		f := l[0]
		t.Logf("%s", f.Summary)
		for key, want := range map[string]any{"comm": "crashy-hdsk", "error": "6", "access": "write", "mode": "user",
			"page": "unmapped", "error_decoded": "user-mode write to an unmapped page", "core_dump": "lost",
			"core_reason": "its core size limit (ulimit -c) was 0", "core_limit_soft": float64(0), "core_pattern": "core"} {
			if f.Data[key] != want {
				t.Errorf("data %s = %v, want %v", key, f.Data[key], want)
			}
		}
		pid := strconv.Itoa(lost.Process.Pid)
		if want := "crashy-hdsk (pid " + pid + ") segfaulted at 0 in crashy-hdsk (error 6: user-mode write to an unmapped page); " +
			"no core dump: its core size limit (ulimit -c) was 0"; !strings.HasPrefix(f.Summary, want) {
			t.Errorf("summary %q\nwant %q", f.Summary, want)
		}
		if _, err := os.Stat(filepath.Join(lostDir, "core")); err == nil {
			t.Error("a core was written after all")
		}
		if len(k) != 1 || k[0].Data["core_dump"] != "likely" || k[0].Data["core_limit_soft"] != float64(-1) {
			t.Errorf("the unlimited one: %+v", k)
		} else {
			t.Logf("%s", k[0].Summary)
		}
		deadline := time.Now().Add(5 * time.Second)
		for _, err := os.Stat(filepath.Join(keptDir, "core")); err != nil; _, err = os.Stat(filepath.Join(keptDir, "core")) {
			if time.Now().After(deadline) {
				t.Errorf("said likely, but no core in %s: %v", keptDir, err)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		return
	}
}
