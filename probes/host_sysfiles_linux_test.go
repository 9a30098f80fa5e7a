package probes

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/procfs"
	"github.com/stakeout/stakeout/schema"
)

// sysFileNames are the system-wide files the host probe parses itself,
// relative to a proc root.
var sysFileNames = []string{"stat", "meminfo", "loadavg", "pressure/cpu", "pressure/io", "pressure/memory"}

// TestHostSysFilesAgreeWithProcfs: the host probe's own readers of
// /proc/stat, /proc/meminfo, /proc/loadavg and the pressure files give
// what prometheus/procfs, the library they replace on the per-second path,
// gives for the same bytes: this kernel's files (copied once, so both read
// the same instant) and the fixture trees.
func TestHostSysFilesAgreeWithProcfs(t *testing.T) {
	live := t.TempDir()
	for _, name := range sysFileNames {
		b, err := os.ReadFile(filepath.Join("/proc", name))
		if err != nil {
			if name == "stat" || name == "meminfo" {
				t.Fatal(err)
			}
			continue // no PSI on this kernel
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(live, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(live, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ name, root string }{{"this kernel", live}, {"vm", hostFixtures + "/vm/proc"},
		{"vm-t1", hostFixtures + "/vm-t1/proc"}, {"bare", hostFixtures + "/bare/proc"}} {
		t.Run(c.name, func(t *testing.T) { sysFilesAgree(t, c.root) })
	}
}

func sysFilesAgree(t *testing.T, root string) {
	fs, err := procfs.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			return nil
		}
		return b
	}
	want, err := fs.Stat()
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseSysStat(read("stat"))
	if err != nil {
		t.Fatal(err)
	}
	w := want.CPUTotal
	w.Guest, w.GuestNice = 0, 0 // inside user and nice; the probe does not take them
	if got.cpu != w || got.cpus != len(want.CPU) || got.ctxt != want.ContextSwitches ||
		got.processes != want.ProcessCreated || got.running != want.ProcessesRunning || got.blocked != want.ProcessesBlocked {
		t.Errorf("stat: %+v, procfs %+v (%d CPUs)", got, want.CPUTotal, len(want.CPU))
	}

	wm, err := fs.Meminfo()
	if err != nil {
		t.Fatal(err)
	}
	gm, err := parseMeminfo(read("meminfo"))
	if err != nil {
		t.Fatal(err)
	}
	if memOf(gm) != memOfProcfs(wm) {
		t.Errorf("meminfo: %+v, procfs %+v", memOf(gm), memOfProcfs(wm))
	}

	if wl, err := fs.LoadAvg(); err == nil {
		gl, err := parseLoadavg(read("loadavg"))
		if err != nil || gl != [3]float64{wl.Load1, wl.Load5, wl.Load15} {
			t.Errorf("loadavg: %v %v, procfs %+v", gl, err, wl)
		}
	}

	for _, res := range []string{"cpu", "io", "memory"} {
		wp, err := fs.PSIStatsForResource(res)
		if err != nil {
			if read("pressure/"+res) != nil {
				t.Errorf("pressure/%s: procfs: %v", res, err)
			}
			continue
		}
		gp, err := parsePSI(read("pressure/" + res))
		if err != nil {
			t.Fatalf("pressure/%s: %v", res, err)
		}
		same := func(had bool, l psiLine, pl *procfs.PSILine) bool {
			if pl == nil {
				return !had
			}
			return had && l == psiLine{avg10: pl.Avg10, avg60: pl.Avg60, avg300: pl.Avg300, total: pl.Total}
		}
		if !same(gp.hasSome, gp.some, wp.Some) || !same(gp.hasFull, gp.full, wp.Full) {
			t.Errorf("pressure/%s: %+v, procfs some %+v full %+v", res, gp, wp.Some, wp.Full)
		}
	}
}

// memOfProcfs is memOf as it was on procfs's Meminfo.
func memOfProcfs(m procfs.Meminfo) schema.HostMem {
	u := func(p *uint64) uint64 {
		if p == nil {
			return 0
		}
		return *p
	}
	return memOf(memInfo{total: u(m.MemTotalBytes), free: u(m.MemFreeBytes), available: u(m.MemAvailableBytes),
		hasAvailable: m.MemAvailableBytes != nil, buffers: u(m.BuffersBytes), cached: u(m.CachedBytes),
		sreclaimable: u(m.SReclaimableBytes), dirty: u(m.DirtyBytes), writeback: u(m.WritebackBytes),
		swapTotal: u(m.SwapTotalBytes), swapFree: u(m.SwapFreeBytes)})
}

// TestHostSysFilesParseWithoutAllocating: the six files are parsed each
// sample, so their parsers make no garbage.
func TestHostSysFilesParseWithoutAllocating(t *testing.T) {
	root := hostFixtures + "/vm/proc"
	files := map[string][]byte{}
	for _, name := range sysFileNames {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	for name, parse := range map[string]func(b []byte) error{
		"stat":     func(b []byte) error { _, err := parseSysStat(b); return err },
		"meminfo":  func(b []byte) error { _, err := parseMeminfo(b); return err },
		"loadavg":  func(b []byte) error { _, err := parseLoadavg(b); return err },
		"pressure": func(b []byte) error { _, err := parsePSI(b); return err },
	} {
		b := files[name]
		if name == "pressure" {
			b = files["pressure/memory"]
		}
		if err := parse(b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n := testing.AllocsPerRun(100, func() { parse(b) }); n != 0 {
			t.Errorf("%s: %v allocations a parse, want 0", name, n)
		}
	}
}
