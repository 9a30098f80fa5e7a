package probes

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/schema"
)

// replaceFile swaps in new content atomically, so the probe never reads
// half a file.
func replaceFile(t *testing.T, path, from string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestRunOnChangingFixtureTree runs the probe on a copy of the host fixture
// and rewrites diskstats between ticks (A, then B, C, D). The probe's clock
// steps exactly 2 s per read, so every rate is the hand-worked value however
// fast the ticker runs; the test waits for events, never for time.
func TestRunOnChangingFixtureTree(t *testing.T) {
	root := testenv.CopyTree(t, fixtures+"/host")
	cfg := DefaultConfig()
	cfg.Procfs, cfg.Sysfs, cfg.Interval = filepath.Join(root, "proc"), filepath.Join(root, "sys"), 5*time.Millisecond
	p := newIOStat(cfg)
	clock := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	p.now = func() time.Time { clock = clock.Add(2 * time.Second); return clock } // Run's goroutine only

	evs := make(chan event.Event, 1<<14)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- p.Run(ctx, func(ev event.Event) {
			select { // non-blocking, like the engine's emit
			case evs <- ev:
			default:
			}
		})
	}()
	guard := time.After(30 * time.Second) // failure guard only, not a timing assertion
	next := func() *schema.IOSample {
		t.Helper()
		select {
		case ev := <-evs:
			s, ok := event.As[schema.IOSample](ev)
			if !ok || ev.Probe != "iostat" || ev.Kind != schema.KindIO || ev.Time.IsZero() {
				t.Fatalf("unexpected event %+v", ev)
			}
			if s.IntervalS != 2 {
				t.Fatalf("interval %v, want the clock's 2 s", s.IntervalS)
			}
			return s
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		case <-guard:
			t.Fatal("no event from the probe")
		}
		return nil
	}
	// until returns the first sample satisfying ok. Earlier ones read the
	// same file twice, so at most they show a stall: I/O in flight (sdb has
	// 12 in B and C) with nothing completing.
	until := func(ok func(map[string]schema.DeviceIO) bool) map[string]schema.DeviceIO {
		t.Helper()
		for {
			s := next()
			m := byDevice(s.Devices)
			if ok(m) {
				return m
			}
			for _, d := range s.Devices {
				if !d.Stalled || d.RPerS != 0 || d.WPerS != 0 || d.UtilPct != 0 {
					t.Fatalf("unexpected device in an unchanged interval: %+v", d)
				}
			}
		}
	}

	if s := next(); s.Devices == nil || len(s.Devices) != 0 {
		t.Fatalf("A→A must be an empty list, got %#v", s.Devices)
	}
	diskstats := filepath.Join(root, "proc", "diskstats")
	replaceFile(t, diskstats, fixtures+"/steps/b.diskstats")
	ab := until(func(m map[string]schema.DeviceIO) bool { return len(m) > 0 })
	if len(ab) != 3 {
		t.Fatalf("A→B shows %v, want sda, sdb, nvme0n1", ab)
	}
	sameIO(t, "run A→B", ab["sda"], schema.DeviceIO{Device: "sda", RPerS: 200, WPerS: 100, RKBPerS: 12800, WKBPerS: 4096,
		RAwaitMs: 5, WAwaitMs: 180, AquSz: 19, UtilPct: 95, InFlight: 4})
	sameIO(t, "run A→B", ab["nvme0n1"], schema.DeviceIO{Device: "nvme0n1", RPerS: 10000, RKBPerS: 400000, RAwaitMs: 0.3, AquSz: 3, UtilPct: 100})

	replaceFile(t, diskstats, fixtures+"/steps/c.diskstats")
	bc := until(func(m map[string]schema.DeviceIO) bool { return m["sdb"].WPerS > 0 })
	if len(bc) != 1 {
		t.Fatalf("B→C: reset sda and new sdc must be left out, got %v", bc)
	}
	replaceFile(t, diskstats, fixtures+"/steps/d.diskstats")
	cd := until(func(m map[string]schema.DeviceIO) bool { return m["sda"].RPerS > 0 })
	sameIO(t, "run C→D", cd["sda"], schema.DeviceIO{Device: "sda", RPerS: 50, RKBPerS: 200, RAwaitMs: 1, AquSz: 0.05, UtilPct: 5})
	sameIO(t, "run C→D", cd["sdc"], schema.DeviceIO{Device: "sdc", RPerS: 5, RKBPerS: 200, RAwaitMs: 2, AquSz: 0.01, UtilPct: 0.5})

	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run after cancel = %v", err)
		}
	case <-guard:
		t.Fatal("Run did not return after cancel")
	}
}

// TestRunGivesUpWhenDiskstatsGoes: one failed read is skipped, but a file
// that stays gone ends Run with the cause wrapped.
func TestRunGivesUpWhenDiskstatsGoes(t *testing.T) {
	root := testenv.CopyTree(t, fixtures+"/host")
	cfg := DefaultConfig()
	cfg.Procfs, cfg.Sysfs, cfg.Interval = filepath.Join(root, "proc"), filepath.Join(root, "sys"), time.Millisecond
	p := newIOStat(cfg)
	first := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- p.Run(context.Background(), func(event.Event) {
			select {
			case first <- struct{}{}:
			default:
			}
		})
	}()
	<-first
	if err := os.Remove(filepath.Join(root, "proc", "diskstats")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Run = %v, want a wrapped ErrNotExist", err)
		}
	case <-time.After(30 * time.Second): // failure guard only
		t.Fatal("Run kept going without diskstats")
	}
}

// TestRunLive watches this host's real diskstats while dd writes with
// O_DIRECT, and expects some device to show writes. No timing is asserted.
func TestRunLive(t *testing.T) {
	if testing.Short() {
		t.Skip("live test")
	}
	if _, err := exec.LookPath("dd"); err != nil {
		t.Skip("dd not installed")
	}
	cfg := DefaultConfig()
	cfg.Interval = 200 * time.Millisecond
	p := newIOStat(cfg)
	if err := p.Check(); err != nil {
		t.Skipf("iostat unavailable here: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	evs := make(chan event.Event, 1024)
	done := make(chan error, 1)
	go func() {
		done <- p.Run(ctx, func(ev event.Event) {
			select {
			case evs <- ev:
			default:
			}
		})
	}()
	out := filepath.Join(t.TempDir(), "dd.out")
	time.Sleep(300 * time.Millisecond) // let the baseline be read before writing
	if b, err := exec.Command("dd", "if=/dev/zero", "of="+out, "bs=1M", "count=20", "oflag=direct").CombinedOutput(); err != nil {
		t.Skipf("dd with O_DIRECT failed here (tmpfs?): %v %s", err, b)
	}
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v", err)
	}
	close(evs)
	var seen []string
	for ev := range evs {
		s, _ := event.As[schema.IOSample](ev)
		for _, d := range s.Devices {
			if d.WPerS > 0 {
				seen = append(seen, d.Device)
			}
		}
	}
	if len(seen) == 0 {
		t.Fatal("no device showed w/s > 0 while dd wrote 20 MiB with O_DIRECT")
	}
	t.Logf("devices with writes: %v", seen)
}
