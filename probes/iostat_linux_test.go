package probes

import (
	"context"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/procfs/blockdevice"
	"github.com/spf13/pflag"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

const fixtures = "testdata/iostat"

func parseFile(t *testing.T, path string) diskSnapshot {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	snap, err := parseDiskstats(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return snap
}

func names(snap diskSnapshot) string {
	var n []string
	for _, c := range snap {
		n = append(n, c.Name)
	}
	return strings.Join(n, ",")
}

func TestParseDiskstatsLayouts(t *testing.T) {
	// 11 counters (2.6.25-4.17): the 4-counter partition line of older
	// kernels, a non-diskstats line and an out-of-range counter are skipped.
	old := parseFile(t, fixtures+"/k3.10/proc/diskstats")
	if got := names(old); got != "sda,cciss/c0d0" {
		t.Fatalf("k3.10 devices %q", got)
	}
	want := diskCounters{Major: 8, Name: "sda", ReadIOs: 33167, ReadSectors: 1124805, ReadTicks: 428735,
		WriteIOs: 28338, WriteSectors: 850432, WriteTicks: 3304811, IOTicks: 384521, TimeInQueue: 3733854}
	if old[0] != want {
		t.Errorf("k3.10 sda\n got %+v\nwant %+v", old[0], want)
	}

	// 15 counters (4.18+): discards; no flushes.
	k418 := parseFile(t, fixtures+"/k4.18/proc/diskstats")
	if got := names(k418); got != "sda,sda1,dm-0" {
		t.Fatalf("k4.18 devices %q", got)
	}
	if d := k418[2]; d.Major != 253 || d.WriteTicks != 29284 || d.TimeInQueue != 53016 || d.DiscardIOs != 4343 || d.FlushIOs != 0 {
		t.Errorf("k4.18 dm-0 %+v", d)
	}

	// 17 counters (5.5+): flushes.
	k55 := parseFile(t, fixtures+"/k5.5/proc/diskstats")
	if got := names(k55); got != "loop0,vda,zram0" {
		t.Fatalf("k5.5 devices %q", got)
	}
	if d := k55[1]; d.Major != 254 || d.ReadIOs != 81539 || d.DiscardIOs != 4286 || d.FlushIOs != 675 {
		t.Errorf("k5.5 vda %+v", d)
	}
}

func TestParseDiskstatsRejectsForeignFile(t *testing.T) {
	if _, err := parseDiskstats(strings.NewReader("MemTotal: 1 kB\nMemFree: 2 kB\n")); !errors.Is(err, errDiskstatsFormat) {
		t.Fatalf("want errDiskstatsFormat, got %v", err)
	}
	if snap, err := parseDiskstats(strings.NewReader("")); err != nil || len(snap) != 0 {
		t.Fatalf("empty file: %v %v", snap, err)
	}
}

func TestParseDiskstatsIsBounded(t *testing.T) {
	var b strings.Builder
	for i := 0; i < schema.MaxIODevices+100; i++ {
		b.WriteString("7 1 loop 0 0 0 0 0 0 0 0 0 0 0\n")
	}
	snap, err := parseDiskstats(strings.NewReader(b.String()))
	if err != nil || len(snap) != schema.MaxIODevices {
		t.Fatalf("kept %d devices, err %v", len(snap), err)
	}
}

// TestParseDiskstatsAgreesWithProcfs uses prometheus/procfs's blockdevice
// parser as an oracle on the fixtures it can read.
func TestParseDiskstatsAgreesWithProcfs(t *testing.T) {
	for _, tree := range []string{"k4.18", "k5.5", "host"} {
		root := filepath.Join(fixtures, tree)
		bfs, err := blockdevice.NewFS(filepath.Join(root, "proc"), filepath.Join(root, "proc"))
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := bfs.ProcDiskstats()
		if err != nil {
			t.Fatalf("%s: procfs: %v", tree, err)
		}
		ours := parseFile(t, filepath.Join(root, "proc", "diskstats"))
		if len(ours) != len(theirs) {
			t.Fatalf("%s: %d devices, procfs %d", tree, len(ours), len(theirs))
		}
		for i, o := range ours {
			p := theirs[i]
			mine := [...]uint64{uint64(o.Major), uint64(o.Minor), o.ReadIOs, o.ReadSectors, o.ReadTicks,
				o.WriteIOs, o.WriteSectors, o.WriteTicks, o.InFlight, o.IOTicks, o.TimeInQueue, o.DiscardIOs, o.FlushIOs}
			them := [...]uint64{uint64(p.MajorNumber), uint64(p.MinorNumber), p.ReadIOs, p.ReadSectors, p.ReadTicks,
				p.WriteIOs, p.WriteSectors, p.WriteTicks, p.IOsInProgress, p.IOsTotalTicks, p.WeightedIOTicks,
				p.DiscardIOs, p.FlushRequestsCompleted}
			if o.Name != p.DeviceName || mine != them {
				t.Errorf("%s line %d: ours %s %v, procfs %s %v", tree, i, o.Name, mine, p.DeviceName, them)
			}
		}
	}
	// Where a line is malformed, procfs fails the whole read; we skip the line.
	bfs, _ := blockdevice.NewFS(fixtures+"/k3.10/proc", fixtures+"/k3.10/proc")
	_, err := bfs.ProcDiskstats()
	t.Logf("procfs on k3.10 (one odd line): %v", err)
}

// fixtureSnapshot parses a diskstats file and marks partitions from the host
// fixture's sysfs.
func fixtureSnapshot(t *testing.T, path string) diskSnapshot {
	snap := parseFile(t, path)
	markPartitions(nil, snap, func(n string) bool { return isPartition(fixtures+"/host/sys", n) })
	return snap
}

func byDevice(devs []schema.DeviceIO) map[string]schema.DeviceIO {
	m := map[string]schema.DeviceIO{}
	for _, d := range devs {
		m[d.Device] = d
	}
	return m
}

func sameIO(t *testing.T, what string, got, want schema.DeviceIO) {
	t.Helper()
	g := [...]float64{got.RPerS, got.WPerS, got.RKBPerS, got.WKBPerS, got.RAwaitMs, got.WAwaitMs, got.AquSz, got.UtilPct}
	w := [...]float64{want.RPerS, want.WPerS, want.RKBPerS, want.WKBPerS, want.RAwaitMs, want.WAwaitMs, want.AquSz, want.UtilPct}
	for i := range g {
		if math.Abs(g[i]-w[i]) > 1e-9 {
			t.Errorf("%s %s:\n got %+v\nwant %+v", what, want.Device, got, want)
			return
		}
	}
	if got.Device != want.Device || got.Partition != want.Partition || got.InFlight != want.InFlight || got.Stalled != want.Stalled {
		t.Errorf("%s %s:\n got %+v\nwant %+v", what, want.Device, got, want)
	}
}

// Snapshot A is host/proc/diskstats, B is steps/b.diskstats, dt = 2 s.
// Worked by hand (Δ = B − A; sectors are 512 B, so kB = sectors / 2):
//
//	sda: Δreads 1400−1000 = 400 → r/s 400/2 = 200
//	     Δrsect 131200−80000 = 51200 → 25600 kB → rkB/s 12800
//	     Δrticks 5000−3000 = 2000 ms → r_await 2000/400 = 5 ms
//	     Δwrites 700−500 = 200 → w/s 100
//	     Δwsect 56384−40000 = 16384 → 8192 kB → wkB/s 4096
//	     Δwticks 46000−10000 = 36000 ms → w_await 36000/200 = 180 ms
//	     Δio_ticks 6900−5000 = 1900 ms of 2000 → %util 95
//	     Δtime_in_queue 51000−13000 = 38000 ms / 2000 ms → aqu-sz 19
//	     in_flight (B) 4; flushes completed, so not stalled
//	sda1 (partition): Δreads 350 → 175/s; Δrsect 44800 → rkB/s 11200;
//	     Δrticks 1750 → 5 ms; Δwrites 180 → 90/s; Δwsect 14336 → wkB/s 3584;
//	     Δwticks 32400 → 180 ms; Δio 1800 → 90 %; Δq 34150 → 17.075
//	sdb: Δreads 40 → 20/s; Δrsect 640 → rkB/s 160; Δrticks 12000 → 300 ms;
//	     Δwrites 160 → 80/s; Δwsect 40960 → wkB/s 10240; Δwticks 68000 → 425 ms;
//	     Δio 2000 → 100 %; Δq 80000 → 40; in_flight 12
//	nvme0n1: Δreads 20000 → 10000/s; Δrsect 1600000 → rkB/s 400000;
//	     Δrticks 6000 → 0.3 ms; no writes; Δio 2000 → 100 %; Δq 6000 → 3
//	nvme0n1p1 (partition): same deltas as nvme0n1 except Δio 2000, Δq 6000
//	loop0, sda2, dm-0: nothing changed → all zero
func TestIORatesHandWorked(t *testing.T) {
	a := fixtureSnapshot(t, fixtures+"/host/proc/diskstats")
	b := fixtureSnapshot(t, fixtures+"/steps/b.diskstats")
	got := ioRates(a, b, 2*time.Second)
	if len(got) != 8 {
		t.Fatalf("want all 8 devices, got %d", len(got))
	}
	want := []schema.DeviceIO{
		{Device: "loop0"},
		{Device: "sda", RPerS: 200, WPerS: 100, RKBPerS: 12800, WKBPerS: 4096, RAwaitMs: 5, WAwaitMs: 180, AquSz: 19, UtilPct: 95, InFlight: 4},
		{Device: "sda1", Partition: true, RPerS: 175, WPerS: 90, RKBPerS: 11200, WKBPerS: 3584, RAwaitMs: 5, WAwaitMs: 180, AquSz: 17.075, UtilPct: 90, InFlight: 4},
		{Device: "sda2", Partition: true},
		{Device: "sdb", RPerS: 20, WPerS: 80, RKBPerS: 160, WKBPerS: 10240, RAwaitMs: 300, WAwaitMs: 425, AquSz: 40, UtilPct: 100, InFlight: 12},
		{Device: "nvme0n1", RPerS: 10000, RKBPerS: 400000, RAwaitMs: 0.3, AquSz: 3, UtilPct: 100},
		{Device: "nvme0n1p1", Partition: true, RPerS: 10000, RKBPerS: 400000, RAwaitMs: 0.3, AquSz: 3, UtilPct: 100},
		{Device: "dm-0"},
	}
	for i := range want {
		sameIO(t, "A→B", got[i], want[i])
	}
	// sdb's combined await: (12000 + 68000) ms / (40 + 160) I/Os = 400 ms.
	if aw := got[4].AwaitMs(); math.Abs(aw-400) > 1e-9 {
		t.Errorf("sdb await %v, want 400", aw)
	}
}

func TestShownDevicesHidesPartitionsAndIdle(t *testing.T) {
	a := fixtureSnapshot(t, fixtures+"/host/proc/diskstats")
	b := fixtureSnapshot(t, fixtures+"/steps/b.diskstats")
	rates := ioRates(a, b, 2*time.Second)
	if got := devNames(shownDevices(rates, false)); got != "sda,sdb,nvme0n1" {
		t.Errorf("default shows %q", got)
	}
	if got := devNames(shownDevices(rates, true)); got != "loop0,sda,sda1,sda2,sdb,nvme0n1,nvme0n1p1,dm-0" {
		t.Errorf("--all-devices shows %q", got)
	}
	if got := shownDevices(ioRates(a, a, time.Second), false); got == nil || len(got) != 0 {
		t.Errorf("quiet interval must be an empty, non-nil list: %#v", got)
	}
}

func devNames(devs []schema.DeviceIO) string {
	var n []string
	for _, d := range devs {
		n = append(n, d.Device)
	}
	return strings.Join(n, ",")
}

func TestIORatesResetAppearDisappear(t *testing.T) {
	b := fixtureSnapshot(t, fixtures+"/steps/b.diskstats")
	c := fixtureSnapshot(t, fixtures+"/steps/c.diskstats")
	d := fixtureSnapshot(t, fixtures+"/steps/d.diskstats")
	// B→C: sda's counters went back (re-added) and sdc is new: neither has a
	// trustworthy delta. nvme0n1p1 vanished.
	bc := byDevice(ioRates(b, c, 2*time.Second))
	for _, gone := range []string{"sda", "sdc", "nvme0n1p1"} {
		if _, ok := bc[gone]; ok {
			t.Errorf("B→C reported %s: %+v", gone, bc[gone])
		}
	}
	sameIO(t, "B→C", bc["sdb"], schema.DeviceIO{Device: "sdb", RPerS: 20, WPerS: 80, RKBPerS: 160, WKBPerS: 10240,
		RAwaitMs: 300, WAwaitMs: 425, AquSz: 40, UtilPct: 50, InFlight: 12})
	// C→D: both have a baseline now.
	cd := byDevice(shownDevices(ioRates(c, d, 2*time.Second), false))
	sameIO(t, "C→D", cd["sda"], schema.DeviceIO{Device: "sda", RPerS: 50, RKBPerS: 200, RAwaitMs: 1, AquSz: 0.05, UtilPct: 5})
	sameIO(t, "C→D", cd["sdc"], schema.DeviceIO{Device: "sdc", RPerS: 5, RKBPerS: 200, RAwaitMs: 2, AquSz: 0.01, UtilPct: 0.5})
	sameIO(t, "C→D", cd["sdb"], schema.DeviceIO{Device: "sdb", UtilPct: 25})

	// Same name, new major:minor: a different device, no delta.
	moved := append(diskSnapshot(nil), d...)
	moved[1].Minor = 99
	if _, ok := byDevice(ioRates(c, moved, time.Second))["sda"]; ok {
		t.Error("sda with a new minor number got a rate")
	}
}

func TestIORatesStall(t *testing.T) {
	prev := diskSnapshot{{Major: 8, Name: "sdb", ReadIOs: 10, InFlight: 3, IOTicks: 100, TimeInQueue: 100}}
	cur := diskSnapshot{{Major: 8, Name: "sdb", ReadIOs: 10, InFlight: 3, IOTicks: 1100, TimeInQueue: 100}}
	got := shownDevices(ioRates(prev, cur, time.Second), false)
	if len(got) != 1 || !got[0].Stalled || got[0].InFlight != 3 || got[0].UtilPct != 100 || got[0].AwaitMs() != 0 {
		t.Fatalf("stall: %+v", got)
	}
	cur[0].FlushIOs = 1 // a flush completed: not a stall
	if got := ioRates(prev, cur, time.Second); got[0].Stalled {
		t.Fatalf("a completion is not a stall: %+v", got)
	}
	// In flight now but not at the start: it may have been issued a moment ago.
	prev[0].InFlight = 0
	cur[0].FlushIOs = 0
	if got := ioRates(prev, cur, time.Second); got[0].Stalled {
		t.Fatalf("stalled without I/O in flight at the start: %+v", got)
	}
}

func TestIsPartition(t *testing.T) {
	sys := fixtures + "/host/sys"
	for name, want := range map[string]bool{"sda": false, "sda1": true, "nvme0n1p1": true, "dm-0": false} {
		if got := isPartition(sys, name); got != want {
			t.Errorf("class/block: isPartition(%s) = %v", name, got)
		}
	}
	// Only /sys/block (no class/block): sysstat's rule. "/" in a name is "!" in sysfs.
	only := t.TempDir()
	for _, d := range []string{"block/sda", "block/cciss!c0d0"} {
		if err := os.MkdirAll(filepath.Join(only, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]bool{"sda": false, "sda1": true, "cciss/c0d0": false, "cciss/c0d0p1": true} {
		if got := isPartition(only, name); got != want {
			t.Errorf("sys/block: isPartition(%s) = %v", name, got)
		}
	}
	// No sysfs at all: show everything rather than hide disks.
	if isPartition(filepath.Join(only, "absent"), "sda1") {
		t.Error("without sysfs nothing should be called a partition")
	}
}

func TestCheck(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Procfs, cfg.Sysfs = fixtures+"/host/proc", fixtures+"/host/sys"
	if err := newIOStat(cfg).Check(); err != nil {
		t.Fatalf("fixture tree: %v", err)
	}
	dir := t.TempDir()
	cfg.Procfs = dir
	path := filepath.Join(dir, "diskstats")
	unavailable := func(wantPrefix string) {
		t.Helper()
		err := newIOStat(cfg).Check()
		var u *Unavailable
		if !errors.As(err, &u) || !strings.HasPrefix(u.Reason, wantPrefix) || StatusOf(err).Status != event.StatusUnavailable {
			t.Errorf("Check() = %v, want unavailable starting %q", err, wantPrefix)
		}
		t.Logf("reason: %v", err)
	}
	unavailable("no " + path + ": ")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	unavailable("cannot use " + path + ": ")
	os.Remove(path)
	if err := os.WriteFile(path, []byte("MemTotal: 1 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unavailable("cannot use " + path + ": unrecognised diskstats format")
}

func TestRunWithoutDiskstatsFails(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Procfs = t.TempDir()
	err := newIOStat(cfg).Run(context.Background(), func(event.Event) {})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Run = %v, want a wrapped ErrNotExist", err)
	}
}

func TestAllDevicesFlag(t *testing.T) {
	spec, ok := Lookup("iostat")
	if !ok || spec.Flags == nil {
		t.Fatal("iostat not registered with flags")
	}
	cfg := DefaultConfig()
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	spec.Flags(fs, &cfg)
	if err := fs.Parse([]string{"--all-devices"}); err != nil || !cfg.IOStat.AllDevices {
		t.Fatalf("--all-devices: %v, AllDevices=%v", err, cfg.IOStat.AllDevices)
	}
}
