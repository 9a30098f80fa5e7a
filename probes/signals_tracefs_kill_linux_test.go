package probes

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stakeout/stakeout/internal/testenv"
)

// These tests give host mode a --sysfs of their own (a temporary directory
// with kernel/tracing in it), so the mounts they make and undo never touch
// /sys/kernel/tracing. tracefs itself is one filesystem however often it is
// mounted, so the instances are real ones.

// tracefsDir makes SYSFS/kernel/tracing. Its cleanup unmounts whatever is
// still mounted there and removes the directories one by one: a RemoveAll
// of a mounted tracefs would remove instances.
func tracefsDir(t *testing.T) (sysfs, root string) {
	t.Helper()
	sysfs, err := os.MkdirTemp("", "stakeout-h-sig-")
	if err != nil {
		t.Fatal(err)
	}
	root = filepath.Join(sysfs, "kernel", "tracing")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 8 && mountedAt(root) != ""; i++ {
			unix.Unmount(root, unix.MNT_DETACH)
		}
		os.Remove(root)
		os.Remove(filepath.Dir(root))
		os.Remove(sysfs)
	})
	return sysfs, root
}

// mountedAt is "FSTYPE SOURCE" of the top mount at dir, "" for none.
func mountedAt(dir string) string {
	fs, src := DefaultConfig().topMount(dir)
	if fs == "" {
		return ""
	}
	return fs + " " + src
}

// startHostRun starts a copy of this test binary running --signals host
// with its sysfs at sysfs, standing for a stakeout that will be kill -9'd.
func startHostRun(t *testing.T, sysfs string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), hostEnv+"="+sysfs)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// instanceOf waits for the enabled instance of the run with that pid.
func instanceOf(t *testing.T, root string, pid int) string {
	t.Helper()
	var inst string
	testenv.Eventually(t, 3*time.Second, "the run's tracefs instance", func() bool {
		m, _ := filepath.Glob(filepath.Join(root, "instances", "stakeout-"+strconv.Itoa(pid)+"-*"))
		if len(m) != 1 {
			return false
		}
		inst = m[0]
		return readTrim(filepath.Join(inst, "events", "signal", "signal_generate", "enable")) == "1"
	})
	return inst
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	var out []int
	for _, p := range DefaultConfig().pids() {
		if st, err := DefaultConfig().readStat(p); err == nil && st.ppid == pid {
			out = append(out, p)
		}
	}
	return out
}

// gone: no such process, or a zombie nobody has reaped yet.
func gone(pid int) bool {
	st, err := DefaultConfig().readStat(pid)
	return err != nil || st.state == 'Z'
}

func hostAvailable(t *testing.T, sysfs string) {
	t.Helper()
	testenv.NeedRoot(t, "tracefs")
	cfg := DefaultConfig()
	cfg.Sysfs = sysfs
	cfg.Signals.Mode = SignalsHost
	if err := (&signalsProbe{cfg: cfg}).Check(); err != nil {
		t.Skipf("no tracefs here: %v", err)
	}
}

// othersLive lists the instances under root of stakeouts that are running
// and not this test's: every mount of tracefs shows the same instances, so a
// host-mode stakeout of another test binary (go test runs packages side by
// side) or of a person on this machine shows up in the test's mount too.
func othersLive(root string) []string {
	m, _ := filepath.Glob(filepath.Join(root, "instances", "stakeout-*"))
	var out []string
	for _, p := range m {
		f := strings.Split(filepath.Base(p), "-")
		pid, err := strconv.Atoi(f[1])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if unix.Kill(pid, 0) == nil {
			out = append(out, p)
		}
	}
	return out
}

// kill -9 of stakeout alone: its watchdog disables and removes the
// instance at once, and unmounts the tracefs stakeout mounted, but not one
// that was there before.
func TestHostModeKill9WatchdogCleansUp(t *testing.T) {
	for _, premounted := range []bool{false, true} {
		t.Run("premounted="+strconv.FormatBool(premounted), func(t *testing.T) {
			sysfs, root := tracefsDir(t)
			hostAvailable(t, sysfs)
			before := ""
			if premounted {
				if err := unix.Mount("nodev", root, "tracefs", 0, ""); err != nil {
					t.Skipf("cannot mount tracefs: %v", err)
				}
				before = "tracefs nodev"
			}
			run := startHostRun(t, sysfs)
			inst := instanceOf(t, root, run.Process.Pid)
			want := "tracefs " + tracefsSource
			if premounted {
				want = before
			}
			if got := mountedAt(root); got != want {
				t.Fatalf("while running, the mount at %s is %q, want %q", root, got, want)
			}
			var wd []int
			testenv.Eventually(t, 3*time.Second, "the watchdog", func() bool { wd = childrenOf(run.Process.Pid); return len(wd) == 1 })

			run.Process.Kill()
			run.Wait()
			testenv.Eventually(t, 3*time.Second, "the watchdog's clean-up", func() bool {
				_, err := os.Stat(inst)
				// Another stakeout's instance (a test of another package
				// running at the same time: every mount of tracefs shows the
				// same instances) rightly keeps stakeout's mount.
				return os.IsNotExist(err) && gone(wd[0]) && (mountedAt(root) == before || len(othersLive(root)) > 0)
			})
		})
	}
}

// kill -9 of stakeout and its watchdog (a whole cgroup killed): the
// instance stays enabled, and stakeout's mount stays. The next host-mode run
// removes the instance as it starts and unmounts stakeout's mount as it
// ends; a mount that was there before stakeout stays.
func TestHostModeKill9WithWatchdogNextRunCleansUp(t *testing.T) {
	for _, premounted := range []bool{false, true} {
		t.Run("premounted="+strconv.FormatBool(premounted), func(t *testing.T) {
			sysfs, root := tracefsDir(t)
			hostAvailable(t, sysfs)
			before := ""
			if premounted {
				if err := unix.Mount("nodev", root, "tracefs", 0, ""); err != nil {
					t.Skipf("cannot mount tracefs: %v", err)
				}
				before = "tracefs nodev"
			}
			run := startHostRun(t, sysfs)
			inst := instanceOf(t, root, run.Process.Pid)
			var wd []int
			testenv.Eventually(t, 3*time.Second, "the watchdog", func() bool { wd = childrenOf(run.Process.Pid); return len(wd) == 1 })
			unix.Kill(wd[0], unix.SIGKILL)
			testenv.Eventually(t, 3*time.Second, "the watchdog's death", func() bool { return gone(wd[0]) })
			run.Process.Kill()
			run.Wait()

			// What a kill -9 of both leaves.
			time.Sleep(100 * time.Millisecond)
			if readTrim(filepath.Join(inst, "events", "signal", "signal_generate", "enable")) != "1" ||
				readTrim(filepath.Join(inst, "tracing_on")) != "1" {
				t.Fatalf("the dead run's instance %s is not there enabled", inst)
			}
			if !premounted && mountedAt(root) != "tracefs "+tracefsSource {
				t.Fatalf("stakeout's mount is not left: %q", mountedAt(root))
			}

			// The next run.
			c := DefaultConfig()
			c.Sysfs = sysfs
			c.Signals.Mode = SignalsHost
			next := traceWith(t, c)
			instanceOf(t, root, os.Getpid())
			if _, err := os.Stat(inst); !os.IsNotExist(err) {
				t.Errorf("the next run left the dead run's instance %s (%v)", inst, err)
			}
			next.stop(t)
			others := othersLive(root)
			if m, _ := filepath.Glob(filepath.Join(root, "instances", "stakeout-*")); premounted && len(m) != len(others) {
				t.Errorf("instances left: %v (of other running stakeouts: %v)", m, others)
			}
			if got := mountedAt(root); got != before && len(others) == 0 {
				t.Errorf("after the next run the mount at %s is %q, want %q", root, got, before)
			}
		})
	}
}
