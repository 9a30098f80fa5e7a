package probes

import (
	"math"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

func fixtureMounts(t *testing.T) []mountEntry {
	t.Helper()
	f, err := os.Open("testdata/diskfill/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ms, err := parseMountinfo(f, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestParseMountinfo(t *testing.T) {
	ms := fixtureMounts(t)
	if len(ms) != 13 {
		t.Fatalf("want 13 mounts (the garbage line skipped), got %d", len(ms))
	}
	want := mountEntry{ID: 34, Dev: "8:33", Root: "/data", Point: "/mnt/with space", FSType: "ext4", Source: "/dev/sdc1"}
	if ms[10] != want {
		t.Errorf("escaped mount: %+v", ms[10])
	}
	if !ms[8].ReadOnly || ms[8].FSType != "squashfs" {
		t.Errorf("squashfs: %+v", ms[8])
	}
}

func TestSelectMountsSkipsPseudoAndFoldsBindMounts(t *testing.T) {
	ws, err := selectMounts(fixtureMounts(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ws {
		got = append(got, w.Point+" "+w.FSType)
	}
	want := []string{"/ ext4", "/dev/shm tmpfs", "/var/lib/mysql xfs", "/mnt/nfs nfs4",
		"/data ext4", "/var/lib/docker/overlay2/abc/merged overlay"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if !reflect.DeepEqual(ws[2].ids, []int{30, 31}) || !reflect.DeepEqual(ws[4].ids, []int{34, 36}) {
		t.Errorf("bind mount ids: %v %v", ws[2].ids, ws[4].ids)
	}
}

func TestSelectMountsByPath(t *testing.T) {
	ms := fixtureMounts(t)
	ws, err := selectMounts(ms, []string{"/srv/binlog/mysql-bin.000042", "/var/lib/mysql", "/etc/passwd"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 || ws[0].Point != "/srv/binlog" || ws[1].Point != "/" ||
		!reflect.DeepEqual(ws[0].ids, []int{30, 31}) {
		t.Errorf("got %+v", ws)
	}
	for _, p := range []string{"/snap/core/1/bin", "/proc/1"} {
		if _, err := selectMounts(ms, []string{p}); err == nil || !strings.Contains(err.Error(), "cannot fill") {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestParseProcFiles(t *testing.T) {
	io := "rchar: 323934931\nwchar: 323929600\nsyscr: 632687\nsyscw: 632675\nread_bytes: 0\nwrite_bytes: 323932160\ncancelled_write_bytes: 0\n"
	if wc, wb, err := parseProcIO([]byte(io)); err != nil || wb != 323932160 || wc != 323929600 {
		t.Errorf("io: %d %d %v", wc, wb, err)
	}
	if _, _, err := parseProcIO([]byte("rchar: 1\nwchar: 2\n")); err == nil {
		t.Error("io without write_bytes parsed")
	}
	fi, err := parseFDInfo([]byte("pos:\t1048576\nflags:\t02102001\nmnt_id:\t31\nino:\t12\n"))
	if err != nil || fi.MntID != 31 || !fi.writable() {
		t.Errorf("fdinfo: %+v %v", fi, err)
	}
	fi, _ = parseFDInfo([]byte("pos:\t0\nflags:\t0100000\nmnt_id:\t23\n"))
	if fi.writable() {
		t.Error("O_RDONLY|O_LARGEFILE is writable?")
	}
	for link, want := range map[string]string{"/var/log/app.log (deleted)": "/var/log/app.log", "socket:[123]": "", "/tmp/x": ""} {
		got, ok := deletedPath(link)
		if ok != (want != "") || (ok && got != want) {
			t.Errorf("deletedPath(%q) = %q %v", link, got, ok)
		}
	}
}

// feed runs a trend over (t, used) points with plenty of space left.
func feed(tr *schema.FillTrend, from, to, step float64, used func(t float64) float64) schema.Trend {
	var last schema.Trend
	for t := from; t <= to+1e-9; t += step {
		last = tr.Add(t, used(t), 1e12)
	}
	return last
}

func TestTrendSteadyFillIsCaughtWithinSeconds(t *testing.T) {
	tr := schema.NewFillTrend()
	rate := 2.0 * (1 << 20)
	// Writes land in 256 KiB chunks eight times a second, so the curve is a staircase.
	got := feed(tr, 0, 6, 1, func(t float64) float64 { return 1e9 + math.Floor(t*8)*rate/8 })
	if !got.Filling() || math.Abs(got.RatePerS-rate) > 0.02*rate || got.WindowS != 10 {
		t.Fatalf("after 6 s: %+v", got)
	}
	if want := 1e12 / rate; math.Abs(*got.EtaS-want) > 0.02*want {
		t.Errorf("eta %v, want %v", *got.EtaS, want)
	}
	got = feed(tr, 7, 700, 1, func(t float64) float64 { return 1e9 + t*rate })
	if got.WindowS != 600 || math.Abs(got.RatePerS-rate) > 0.01*rate {
		t.Errorf("after 700 s: %+v", got)
	}
}

func TestTrendBurstThatStopsNeverAlarms(t *testing.T) {
	tr := schema.NewFillTrend()
	for ts := 0.0; ts <= 900; ts++ {
		used := 1e9
		if ts >= 30 {
			used += 16 << 20 // 16 MiB at once, then nothing
		}
		if got := tr.Add(ts, used, 48<<20); got.Filling() || got.RatePerS != 0 {
			t.Fatalf("t=%v: %+v", ts, got)
		}
	}
}

func TestTrendLongBurstStopsCounting(t *testing.T) {
	tr := schema.NewFillTrend()
	// An apt run: 20 MB/s for 30 s, then quiet.
	used := func(t float64) float64 { return 1e9 + 20e6*min(max(t-100, 0), 30) }
	got := feed(tr, 0, 125, 1, used)
	if !got.Filling() {
		t.Fatalf("during the burst: %+v", got)
	}
	got = feed(tr, 126, 145, 1, used)
	if got.Filling() {
		t.Errorf("15 s after the burst: %+v", got)
	}
}

func TestTrendSlowBurstyFillUsesTheLongWindow(t *testing.T) {
	tr := schema.NewFillTrend()
	// A checkpoint of 30 MB every 40 s: no minute is steady, ten minutes are.
	got := feed(tr, 0, 800, 1, func(t float64) float64 { return 1e9 + 30e6*math.Floor(t/40) })
	if !got.Filling() || got.WindowS != 600 || math.Abs(got.RatePerS-0.75e6) > 0.1*0.75e6 {
		t.Errorf("got %+v", got)
	}
}

func TestTrendShrinkingHasNoEta(t *testing.T) {
	tr := schema.NewFillTrend()
	if got := feed(tr, 0, 100, 1, func(t float64) float64 { return 1e9 - t*1e6 }); got.Filling() {
		t.Errorf("got %+v", got)
	}
}

// Two filesystems stacked on one mount point: only the top one is visible
// (and statfs on the path answers for it), so only it is watched.
func TestSelectMountsSkipsOvermountedFilesystems(t *testing.T) {
	ms := []mountEntry{
		{ID: 24, Dev: "0:22", Root: "/", Point: "/dev/shm", FSType: "tmpfs", Source: "tmpfs"},
		{ID: 25, Dev: "8:1", Root: "/", Point: "/", FSType: "ext4", Source: "/dev/sda1"},
		{ID: 29, Dev: "0:26", Root: "/", Point: "/dev/shm", FSType: "tmpfs", Source: "tmpfs"},
	}
	ws, err := selectMounts(ms, nil)
	if err != nil {
		t.Fatal(err)
	}
	var shm []string
	for _, w := range ws {
		if w.Point == "/dev/shm" {
			shm = append(shm, w.Dev)
		}
	}
	if len(ws) != 2 || len(shm) != 1 || shm[0] != "0:26" {
		t.Fatalf("watched %+v; want / and the top /dev/shm (0:26) only", ws)
	}
}

// TestMountPointsOf names every mount of the filesystem holding a path, so
// a finding reported under any of them is recognised.
func TestMountPointsOf(t *testing.T) {
	for path, want := range map[string][]string{
		"/srv/binlog/stk/x.stk": {"/var/lib/mysql", "/srv/binlog"},
		"/data/x.stk":           {"/mnt/with space", "/data"},
		"/home/me/x.stk":        {"/"},
	} {
		got, err := MountPointsOf("testdata/diskfill/proc", path)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %q, %v; want %q", path, got, err, want)
		}
	}
	if _, err := MountPointsOf("testdata/nowhere", "/x.stk"); err == nil {
		t.Error("no mountinfo: no error")
	}
}

// TestFilesystemFillingDecidesTheScanCadence: the writer scan runs every
// sample only for a filesystem full within 6 h, by bytes or inodes, or with
// under 1% left.
func TestFilesystemFillingDecidesTheScanCadence(t *testing.T) {
	eta := func(s float64) *float64 { return &s }
	base := schema.Filesystem{SizeBytes: 1000, AvailBytes: 500, InodesTotal: 100, InodesFree: 50}
	for name, c := range map[string]struct {
		mod  func(*schema.Filesystem)
		want bool
	}{
		"quiet":                 {func(*schema.Filesystem) {}, false},
		"slow fill (7 h)":       {func(f *schema.Filesystem) { f.Bytes.EtaS = eta(7 * 3600) }, false},
		"full in 5 h":           {func(f *schema.Filesystem) { f.Bytes.EtaS = eta(5 * 3600) }, true},
		"inodes in 1 min":       {func(f *schema.Filesystem) { f.Inodes.EtaS = eta(60) }, true},
		"under 1% left":         {func(f *schema.Filesystem) { f.AvailBytes = 9 }, true},
		"no inodes left":        {func(f *schema.Filesystem) { f.InodesFree = 0 }, true},
		"btrfs, no inode limit": {func(f *schema.Filesystem) { f.InodesTotal, f.InodesFree = 0, 0 }, false},
	} {
		f := base
		c.mod(&f)
		if got := f.Filling(); got != c.want {
			t.Errorf("%s: filling() = %v", name, got)
		}
	}
}

// TestTrendETAStaysFinite: a fill next to zero (1e-300 units a second)
// gives a time-to-full that is bounded, not +Inf, which JSON cannot hold.
func TestTrendETAStaysFinite(t *testing.T) {
	tr := schema.NewFillTrend()
	var got schema.Trend
	for ts := 0.0; ts <= 12; ts++ {
		got = tr.Add(ts, ts*1e-300, 1e19)
	}
	if !got.Filling() || !(got.RatePerS > 0) {
		t.Fatalf("no fill seen: %+v", got)
	}
	if eta := *got.EtaS; math.IsInf(eta, 0) || math.IsNaN(eta) || eta > event.MaxNumber {
		t.Errorf("eta %v", eta)
	}
}
