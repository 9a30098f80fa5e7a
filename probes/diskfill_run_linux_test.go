package probes

import (
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// collect runs p until n events arrived or the deadline passed.
func collect(t *testing.T, p Probe, n int, within time.Duration) []event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var mu sync.Mutex
	var evs []event.Event
	done := make(chan error, 1)
	go func() {
		done <- p.Run(ctx, func(ev event.Event) {
			mu.Lock()
			defer mu.Unlock()
			if evs = append(evs, ev); len(evs) == n {
				cancel()
			}
		})
	}()
	<-done
	mu.Lock()
	defer mu.Unlock()
	return evs
}

// TestDiskFillHungStatfsIsStaleNotStuck: statfs on one filesystem never
// returns (a dead NFS server); the probe still samples every interval, marks
// it stale, and starts no second statfs for it while the first hangs.
func TestDiskFillHungStatfsIsStaleNotStuck(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Procfs = "testdata/diskfill/proc"
	cfg.Interval = 40 * time.Millisecond
	cfg.DiskFill.Mounts = []string{"/mnt/nfs", "/var/lib/mysql"}
	p := newDiskFill(cfg)
	p.stat = func(string) error { return nil } // the paths are the fixture's, not this host's
	hang := make(chan struct{})
	defer close(hang)
	var mu sync.Mutex
	calls := map[string]int{}
	used := uint64(0)
	p.statfs = func(path string) statfsResult {
		mu.Lock()
		calls[path]++
		n := calls[path]
		used += 1 << 20
		u := used
		mu.Unlock()
		if path == "/mnt/nfs" && n > 1 {
			<-hang
		}
		return statfsResult{size: 1 << 30, free: 1<<30 - u, avail: 1<<30 - u - 1<<20, inodes: 1000, inodesFree: 900}
	}
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	evs := collect(t, p, 8, 5*time.Second)
	if len(evs) != 8 {
		t.Fatalf("got %d samples", len(evs))
	}
	last, _ := event.As[schema.DiskUsage](evs[len(evs)-1])
	if len(last.Filesystems) != 2 {
		t.Fatalf("filesystems: %+v", last.Filesystems)
	}
	nfs, db := last.Filesystems[0], last.Filesystems[1]
	if nfs.Mount != "/mnt/nfs" || !nfs.Stale || nfs.FSType != "nfs4" || nfs.SizeBytes != 1<<30 {
		t.Errorf("nfs: %+v", nfs)
	}
	if db.Mount != "/var/lib/mysql" || db.Stale || db.Device != "/dev/sdb1" || db.InodesUsed != 100 {
		t.Errorf("db: %+v", db)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls["/mnt/nfs"] != 2 {
		t.Errorf("statfs on the hung mount called %d times, want 2 (one outstanding at most)", calls["/mnt/nfs"])
	}
}

// TestProcScannerFindsWriterAndDeletedFile runs the scanner on the real
// /proc against this test process: a file it appends to, and a deleted one
// it keeps open.
func TestProcScannerFindsWriterAndDeletedFile(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gone, err := os.Create(filepath.Join(dir, "gone.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer gone.Close()
	if _, err := gone.Write(make([]byte, 3<<20)); err != nil {
		t.Fatal(err)
	}
	os.Remove(gone.Name())

	p := newDiskFill(Config{Procfs: "/proc", DiskFill: schema.DiskFillConfig{Mounts: []string{dir}}})
	ws, err := p.mounts()
	if err != nil {
		t.Fatal(err)
	}
	idx := fsIndex{byMnt: map[int]int{}, skip: func(int) bool { return false }}
	for _, id := range ws[0].ids {
		idx.byMnt[id] = 0
	}
	s := newProcScanner("/proc")
	chunk := make([]byte, 1<<20)
	var writers [][]schema.DiskWriter
	var deleted [][]schema.DeletedOpen
	for i := range 4 { // the first look only sets the baseline
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
		writers, deleted = s.sample(float64(i), idx, 1, false)
	}
	me := os.Getpid()
	var found *schema.DiskWriter
	for i, w := range writers[0] {
		if w.PID == me {
			found = &writers[0][i]
		}
	}
	if found == nil || found.WriteBytesPerS < 0.5*(1<<20) || len(found.Files) == 0 ||
		found.Files[0].Path != f.Name() || found.Files[0].GrowthBytesPerS != 1<<20 {
		t.Fatalf("writers: %+v", writers[0])
	}
	ok := false
	for _, d := range deleted[0] {
		ok = ok || (d.PID == me && d.Path == gone.Name() && d.SizeBytes == 3<<20)
	}
	if !ok {
		t.Errorf("deleted: %+v", deleted[0])
	}
}

// TestProcScannerFindsTmpfsWriter: tmpfs writes never reach write_bytes,
// so the writer is found by wchar.
func TestProcScannerFindsTmpfsWriter(t *testing.T) {
	const shm = "/dev/shm"
	p := newDiskFill(Config{Procfs: "/proc", DiskFill: schema.DiskFillConfig{Mounts: []string{shm}}})
	ws, err := p.mounts()
	if err != nil || ws[0].FSType != "tmpfs" {
		t.Skipf("%s is not a tmpfs here: %v", shm, err)
	}
	f, err := os.CreateTemp(shm, "stakeout-test-")
	if err != nil {
		t.Skip(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	idx := fsIndex{byMnt: map[int]int{}, skip: func(int) bool { return false }}
	for _, id := range ws[0].ids {
		idx.byMnt[id] = 0
	}
	s := newProcScanner("/proc")
	var writers [][]schema.DiskWriter
	for i := range 4 {
		f.Write(make([]byte, 4<<20))
		writers, _ = s.sample(float64(i), idx, 1, false)
	}
	for _, w := range writers[0] {
		if w.PID == os.Getpid() && len(w.Files) > 0 && w.Files[0].Path == f.Name() {
			return
		}
	}
	t.Errorf("tmpfs writer not found: %+v", writers[0])
}

// TestProcScannerScansRarelyUntilAFilesystemFills: after the warm-up, a
// quiet host gets a writer scan once every DiskQuietEvery (30 s); a writer that starts in
// between is not looked for until then. That pass sees its file for the
// first time, so the next sample looks at that process's files again (and
// only theirs: no full pass) to learn how fast they grow; its findings are
// then reported again between scans. Once the sample says a filesystem
// fills, every sample scans.
func TestProcScannerScansRarelyUntilAFilesystemFills(t *testing.T) {
	dir := t.TempDir()
	p := newDiskFill(Config{Procfs: "/proc", DiskFill: schema.DiskFillConfig{Mounts: []string{dir}}})
	ws, err := p.mounts()
	if err != nil {
		t.Fatal(err)
	}
	idx := fsIndex{byMnt: map[int]int{}, skip: func(int) bool { return false }}
	for _, id := range ws[0].ids {
		idx.byMnt[id] = 0
	}
	s := newProcScanner("/proc")
	me := os.Getpid()
	mine := func(ws []schema.DiskWriter) *schema.DiskWriter {
		for i := range ws {
			if ws[i].PID == me {
				return &ws[i]
			}
		}
		return nil
	}
	q := int(schema.DiskQuietEvery)
	for i := range int(schema.DiskWarmup) { // warm-up: a pass every sample, nothing written yet
		s.sample(float64(i), idx, 1, false)
	}
	f, err := os.Create(filepath.Join(dir, "big.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for i := 10; i < 9+q; i++ { // quiet: no pass until t = 9+q
		f.Write(chunk)
		if w, _ := s.sample(float64(i), idx, 1, false); mine(w[0]) != nil {
			t.Fatalf("t=%d: found the writer without a pass: %+v", i, w[0])
		}
		if s.lastPass != 9 {
			t.Fatalf("t=%d: a pass at %v while quiet", i, s.lastPass)
		}
	}
	f.Write(chunk)
	w, _ := s.sample(float64(9+q), idx, 1, false) // the quiet pass: a rate, a first look at the file
	if got := mine(w[0]); got != nil || !slices.Contains(s.followUp, me) {
		t.Fatalf("t=%d: the first look can't know the file grows, yet %+v; follow-up %v", 9+q, got, s.followUp)
	}
	f.Write(chunk)
	w, _ = s.sample(float64(10+q), idx, 1, false) // the second look, not a pass
	got := mine(w[0])
	if s.lastPass != float64(9+q) || got == nil || got.WriteBytesPerS != 1<<20 || len(got.Files) == 0 || got.Files[0].Path != f.Name() {
		t.Fatalf("t=%d: no second look at the new writer (last pass %v): %+v", 10+q, s.lastPass, w[0])
	}
	if w, _ := s.sample(float64(11+q), idx, 1, false); mine(w[0]) == nil || s.lastPass != float64(9+q) {
		t.Fatalf("t=%d: the writer is not reported again (last pass %v): %+v", 11+q, s.lastPass, w[0])
	}
	f.Write(chunk)
	w, _ = s.sample(float64(12+q), idx, 1, true) // filling: a pass at once
	got = mine(w[0])
	if s.lastPass != float64(12+q) || got == nil || len(got.Files) == 0 || got.Files[0].Path != f.Name() {
		t.Fatalf("t=%d, filling: no pass or no growing file (last pass %v): %+v", 12+q, s.lastPass, w[0])
	}
	t.Logf("growth %.0f B/s over the 2 s since the second look", got.Files[0].GrowthBytesPerS)
}

// TestMountPointsOfNamesWhatTheProbeReports: on this host, the mount the
// probe reports for a directory's filesystem is among MountPointsOf a file
// in it, so the engine recognises a finding about the recording's own
// filesystem.
func TestMountPointsOfNamesWhatTheProbeReports(t *testing.T) {
	for _, dir := range []string{t.TempDir(), "/dev/shm", "/"} {
		p := newDiskFill(Config{Procfs: "/proc", DiskFill: schema.DiskFillConfig{Mounts: []string{dir}}})
		ws, err := p.mounts()
		if err != nil {
			t.Logf("%s: %v", dir, err) // e.g. no /dev/shm here
			continue
		}
		got, err := MountPointsOf("/proc", filepath.Join(dir, "x.stk"))
		if err != nil || !slices.Contains(got, ws[0].Point) {
			t.Errorf("%s: probe reports %s, MountPointsOf says %q (%v)", dir, ws[0].Point, got, err)
		}
	}
}

// TestWriterFilesSplitsAProcessByFilesystem looks at this process's fds on
// two real filesystems (the temp dir's and /dev/shm), as the scanner does
// for a top writer. A file held open for writing that does not grow makes
// no writer, however much the process writes elsewhere; a process whose
// files grow on both is listed on each at the rate of its own files there.
func TestWriterFilesSplitsAProcessByFilesystem(t *testing.T) {
	dirs := []string{t.TempDir(), "/dev/shm"}
	p := newDiskFill(Config{Procfs: "/proc", DiskFill: schema.DiskFillConfig{Mounts: dirs}})
	ws, err := p.mounts()
	if err != nil || len(ws) != 2 {
		t.Skipf("need %v on two filesystems: %v %v", dirs, ws, err)
	}
	idx := fsIndex{byMnt: map[int]int{}, skip: func(int) bool { return false }}
	for i, w := range ws {
		for _, id := range w.ids {
			idx.byMnt[id] = i
		}
	}
	var files [2]*os.File
	for i, d := range dirs {
		f, err := os.CreateTemp(d, "stakeout-split-")
		if err != nil {
			t.Skip(err)
		}
		t.Cleanup(func() { f.Close(); os.Remove(f.Name()) })
		files[i] = f
	}
	me := os.Getpid()
	s := newProcScanner("/proc")
	look := func(at float64) map[int]heldWriter {
		seen := map[fdKey]fileSeen{}
		got := s.writerFiles(me, at, idx, 2, seen)
		s.files = seen
		return got
	}
	if got := look(0); len(got) != 0 || !s.firstLook {
		t.Fatalf("first look: writers %+v, firstLook %v; want none and a second look asked for", got, s.firstLook)
	}
	// Only the first filesystem's file grows: 3 MiB over 2 s.
	files[0].Write(make([]byte, 3<<20))
	got := look(2)
	if _, ok := got[1]; ok {
		t.Errorf("listed on %s, where its open file did not grow: %+v", ws[1].Point, got[1].w)
	}
	if w, ok := got[0]; !ok || w.w.WriteBytesPerS != 1.5*(1<<20) || len(w.w.Files) != 1 || w.w.Files[0].Path != files[0].Name() {
		t.Errorf("on %s: %+v, want 1.5 MiB/s into %s", ws[0].Point, got[0].w, files[0].Name())
	}
	// Both grow, at different rates: each filesystem gets its own.
	files[0].Write(make([]byte, 1<<20))
	files[1].Write(make([]byte, 4<<20))
	got = look(3)
	for i, want := range []float64{1 << 20, 4 << 20} {
		if w := got[i].w; w.PID != me || w.WriteBytesPerS != want || len(w.Files) != 1 || w.Files[0].Path != files[i].Name() {
			t.Errorf("on %s: %+v, want %.0f B/s into %s", ws[i].Point, w, want, files[i].Name())
		}
	}
}

// TestDiskFillStatfsInlineOnlyWhereItCannotHang: statfs on a filesystem
// that answers from memory (xfs, ext4, tmpfs) runs on the probe's own
// goroutine, which spares a goroutine, a channel hand-off and a deadline
// timer per filesystem each second; on any other (nfs4, overlay) it still
// runs in a goroutine of its own, so a dead server cannot stall the probe.
func TestDiskFillStatfsInlineOnlyWhereItCannotHang(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Procfs = "testdata/diskfill/proc"
	p := newDiskFill(cfg)
	ws, err := p.mounts()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	inline := map[string]bool{}
	p.statfs = func(path string) statfsResult {
		// Run by startStatfs itself, the stack has no closure of it: a
		// goroutine it started runs startStatfs.func1.
		in := !strings.Contains(string(debug.Stack()), "startStatfs.func")
		mu.Lock()
		inline[path] = in
		mu.Unlock()
		return statfsResult{size: 1 << 30, free: 1 << 29, avail: 1 << 29, inodes: 10, inodesFree: 5}
	}
	states := map[string]*fsState{}
	p.startStatfs(ws, states)
	out, _, stale := collectStatfs(ws, states, 5*time.Second, 0)
	if len(out) != len(ws) {
		t.Fatalf("%d of %d filesystems answered", len(out), len(ws))
	}
	for i := range stale {
		if stale[i] {
			t.Errorf("%s: stale", out[i].Mount)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, w := range ws {
		want := w.FSType == "ext4" || w.FSType == "xfs" || w.FSType == "tmpfs"
		if w.FSType != "ext4" && w.FSType != "xfs" && w.FSType != "tmpfs" && w.FSType != "nfs4" && w.FSType != "overlay" {
			t.Fatalf("fixture has %s (%s): say here whether it is inline", w.Point, w.FSType)
		}
		if inline[w.Point] != want {
			t.Errorf("%s (%s): statfs inline %v, want %v", w.Point, w.FSType, inline[w.Point], want)
		}
	}
}
