package probes

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/schema"
	"golang.org/x/sys/unix"
)

// deadPID finds a pid with no process, for a stale instance's name.
func deadPID(t *testing.T) int {
	for pid := 4194000; pid < 4194300; pid++ {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); os.IsNotExist(err) {
			return pid
		}
	}
	t.Skip("no free pid found")
	return 0
}

// TestHostModeClearsStaleInstancesAndBoundsItsBuffer: an instance left by a
// kill -9'd stakeout (its pid gone, or its pid reused by a process that
// started at another time) is disabled and removed, a live one is not, and
// stakeout's own instance gets a small per-CPU buffer.
func TestHostModeClearsStaleInstancesAndBoundsItsBuffer(t *testing.T) {
	testenv.NeedRoot(t, "tracefs")
	cfg := DefaultConfig()
	cfg.Signals.Mode = SignalsHost
	if err := (&signalsProbe{cfg: cfg}).Check(); err != nil {
		t.Skipf("no tracefs here: %v", err)
	}
	root := cfg.tracefsRoot()
	if _, err := os.Stat(filepath.Join(root, "events")); err != nil {
		if err := unix.Mount("nodev", root, "tracefs", 0, ""); err != nil {
			t.Skipf("cannot mount tracefs: %v", err)
		}
		defer unix.Unmount(root, 0)
	}
	stale := filepath.Join(root, "instances", "stakeout-"+strconv.Itoa(deadPID(t)))
	live := filepath.Join(root, "instances", "stakeout-1") // pid 1 always exists
	st1, err := cfg.readStat(1)
	if err != nil {
		t.Fatal(err)
	}
	reused := filepath.Join(root, "instances", "stakeout-1-"+strconv.FormatUint(st1.start+12345, 10))
	liveNew := filepath.Join(root, "instances", cfg.instanceName(1))
	for _, dir := range []string{stale, live, reused, liveNew} {
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Skipf("cannot make a tracefs instance: %v", err)
		}
		os.WriteFile(filepath.Join(dir, "events", "signal", "signal_generate", "enable"), []byte("1"), 0)
	}
	defer func() {
		for _, dir := range []string{stale, live, reused, liveNew} {
			removeInstance(dir)
		}
	}()

	r := traceSignals(t, schema.SignalsConfig{Mode: SignalsHost})
	own := filepath.Join(root, "instances", cfg.instanceName(os.Getpid()))
	deadline := time.Now().Add(5 * time.Second)
	for {
		// The kernel rounds up to whole pages: 256 reads back as 258.
		b, err := os.ReadFile(filepath.Join(own, "buffer_size_kb"))
		kb, _ := strconv.Atoi(strings.Fields(string(b) + " x")[0])
		if err == nil && kb >= instanceBufferKB && kb <= instanceBufferKB+16 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("own instance buffer_size_kb = %q (%v), want %d", b, err, instanceBufferKB)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.stop(t)
	for _, dir := range []string{stale, reused} {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("stale instance %s survived (%v)", dir, err)
		}
	}
	for _, dir := range []string{live, liveNew} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("a live stakeout's instance was removed: %v", err)
		}
	}
}

// TestHostModeWakesOnOneSignal: host mode waits for trace_pipe in the
// netpoller, with no polling tick, and a single kill sent while it is idle
// still arrives (a broken wake-up would leave it parked forever).
func TestHostModeWakesOnOneSignal(t *testing.T) {
	testenv.NeedRoot(t, "tracefs")
	c := DefaultConfig()
	c.Signals = schema.SignalsConfig{Mode: SignalsHost}
	p := &signalsProbe{cfg: c}
	if err := p.Check(); err != nil {
		t.Skipf("no tracefs here: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &recorder{cancel: cancel, done: make(chan error, 1)}
	go func() {
		r.done <- p.Run(ctx, func(ev event.Event) { r.mu.Lock(); r.evs = append(r.evs, ev); r.mu.Unlock() })
	}()
	t.Cleanup(func() { r.stop(t) })
	for deadline := time.Now().Add(5 * time.Second); !p.hostPolled.Load(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("host mode is not waiting for trace_pipe in the netpoller")
		}
	}
	// On kernels whose trace_pipe poll honours buffer_percent, the default
	// (50) would hold a lone signal back until the buffer is half full;
	// other signals on a busy host would hide that here, so check the
	// setting itself.
	bp := filepath.Join(c.tracefsRoot(), "instances", c.instanceName(os.Getpid()), "buffer_percent")
	if b, err := os.ReadFile(bp); err == nil && strings.TrimSpace(string(b)) != "0" {
		t.Fatalf("%s is %q: a lone signal would wait for the buffer to fill", bp, b)
	}
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Wait()
	time.Sleep(300 * time.Millisecond) // the reader has drained and parked
	if err := child.Process.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "the one SIGTERM", func(evs []event.Event) bool {
		for _, s := range signalsOf(evs, "SIGTERM") {
			if s.PID == child.Process.Pid && s.SenderPID == os.Getpid() {
				return true
			}
		}
		return false
	})
}
