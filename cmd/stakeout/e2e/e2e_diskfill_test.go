//go:build linux

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stakeout/stakeout/internal/testenv"
)

type diskFinding struct {
	Finding  string `json:"finding"`
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Data     struct {
		Mount         string   `json:"mount"`
		Device        string   `json:"device"`
		AvailBytes    float64  `json:"avail_bytes"`
		RateBytesPerS float64  `json:"rate_bytes_per_s"`
		EtaS          *float64 `json:"eta_s"`
		Writers       []struct {
			PID   int    `json:"pid"`
			Comm  string `json:"comm"`
			Files []struct {
				Path string `json:"path"`
			} `json:"files"`
		} `json:"writers"`
		PID       int    `json:"pid"`
		Path      string `json:"path"`
		SizeBytes int64  `json:"size_bytes"`
	} `json:"data"`
}

// diskSnapshot runs `stakeout snapshot` on the diskfill probe for mnt and
// returns its findings about mnt.
func diskSnapshot(t *testing.T, mnt string, d time.Duration) []diskFinding {
	t.Helper()
	file := filepath.Join(t.TempDir(), "disk.stk")
	out, err := exec.Command(binPath, "snapshot", "--duration", d.String(), "--format", "json",
		"--probes", "diskfill", "--mount", mnt, "-o", file).Output()
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	var doc struct {
		Findings []diskFinding `json:"findings"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var mine []diskFinding
	for _, f := range doc.Findings {
		if f.Data.Mount == mnt {
			mine = append(mine, f)
		}
	}
	return mine
}

// appender writes 256 KiB to path eight times a second (2 MiB/s) from this
// process until stopped or until it has written max bytes, so the test never
// fills its filesystem.
type appender struct {
	f       *os.File
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	written int64
	began   time.Time
	ended   time.Time
}

func startAppender(t *testing.T, path string, max int64) *appender {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	a := &appender{f: f, stop: make(chan struct{}), began: time.Now()}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		chunk := make([]byte, 256<<10)
		tick := time.NewTicker(125 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-a.stop:
				return
			case <-tick.C:
			}
			a.mu.Lock()
			if a.written+int64(len(chunk)) > max {
				a.mu.Unlock()
				return
			}
			if _, err := f.Write(chunk); err != nil {
				a.mu.Unlock()
				return
			}
			a.written += int64(len(chunk))
			a.ended = time.Now()
			a.mu.Unlock()
		}
	}()
	t.Cleanup(func() { a.halt(); f.Close() })
	return a
}

func (a *appender) halt() {
	select {
	case <-a.stop:
	default:
		close(a.stop)
	}
	a.wg.Wait()
}

// rate is the true average write rate, bytes/s.
func (a *appender) rate() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return float64(a.written) / a.ended.Sub(a.began).Seconds()
}

// TestDiskFillingReportsRateEtaAndWriter: 2 MiB/s appended to big.log on a
// 64 MiB ext4 must give disk.filling within a 10 s snapshot, with the rate
// within 20% of the truth, eta_s within 25% of free space ÷ true rate, and
// this process and big.log among the writers.
func TestDiskFillingReportsRateEtaAndWriter(t *testing.T) {
	share(t, timing)
	mnt, _ := testenv.LoopFS(t, 64, 5)
	big := filepath.Join(mnt, "big.log")
	a := startAppender(t, big, 40<<20) // stops itself well before the ~55 MiB free is gone
	time.Sleep(time.Second)
	got := diskSnapshot(t, mnt, 10*time.Second)
	a.halt()
	truth := a.rate()
	var last *diskFinding
	for i := range got {
		if got[i].Finding == "disk.filling" {
			last = &got[i]
		}
	}
	if last == nil {
		t.Fatalf("no disk.filling for %s; findings: %+v", mnt, got)
	}
	d := last.Data
	t.Logf("true rate %.0f B/s, reported %.0f B/s; eta_s %v, avail/true rate %.1f s; %s: %s",
		truth, d.RateBytesPerS, fmtEta(d.EtaS), d.AvailBytes/truth, last.Severity, last.Summary)
	if !within(d.RateBytesPerS, truth, 0.20) {
		t.Errorf("rate_bytes_per_s %.0f, true rate %.0f: off by more than 20%%", d.RateBytesPerS, truth)
	}
	if want := d.AvailBytes / truth; d.EtaS == nil || !within(*d.EtaS, want, 0.25) {
		t.Errorf("eta_s %v, free/rate %.1f s: off by more than 25%%", d.EtaS, want)
	}
	found := false
	for _, w := range d.Writers {
		if w.PID != os.Getpid() {
			continue
		}
		for _, f := range w.Files {
			found = found || f.Path == big
		}
	}
	if !found {
		t.Errorf("pid %d writing %s not among the writers: %+v", os.Getpid(), big, d.Writers)
	}
}

func fmtEta(p *float64) any {
	if p == nil {
		return "null"
	}
	return *p
}

// TestDiskDeletedOpen: 10 MiB written, unlinked and kept open is reported
// with this pid and the old path.
func TestDiskDeletedOpen(t *testing.T) {
	share(t)
	mnt, _ := testenv.LoopFS(t, 64, 5)
	path := filepath.Join(mnt, "held.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 10<<20)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	got := diskSnapshot(t, mnt, 3*time.Second)
	for _, g := range got {
		if g.Finding == "disk.deleted_open" && g.Data.PID == os.Getpid() && g.Data.Path == path &&
			g.Data.SizeBytes == 10<<20 {
			t.Logf("%s: %s", g.Severity, g.Summary)
			return
		}
	}
	t.Errorf("no disk.deleted_open for pid %d %s: %+v", os.Getpid(), path, got)
}

// TestDiskBurstDoesNotAlarm: 16 MiB written at once, then nothing, gives no
// disk.filling.
func TestDiskBurstDoesNotAlarm(t *testing.T) {
	share(t)
	mnt, _ := testenv.LoopFS(t, 64, 5)
	go func() {
		time.Sleep(2 * time.Second)
		os.WriteFile(filepath.Join(mnt, "burst"), make([]byte, 16<<20), 0o644)
	}()
	for _, g := range diskSnapshot(t, mnt, 12*time.Second) {
		if g.Finding == "disk.filling" && !strings.HasPrefix(g.Severity, "info") {
			t.Errorf("false alarm: %s %s", g.Severity, g.Summary)
		}
	}
}

// TestDiskMountFlagErrors: a --mount on nothing, or on a filesystem that
// cannot fill, fails in one line before anything runs.
func TestDiskMountFlagErrors(t *testing.T) {
	share(t)
	oneLineError(t, run(t, nil, "snapshot", "--duration", "1s", "--probes", "diskfill", "--no-record",
		"--mount", "/nonexistent/x"), exitUsage, "--mount /nonexistent/x: no such file")
	oneLineError(t, run(t, nil, "snapshot", "--duration", "1s", "--probes", "diskfill", "--no-record",
		"--mount", "/proc/self"), exitUsage, "cannot fill")
}

// TestDiskWriterOnlyWhereItsFilesGrow: two loop-mounted ext4 filesystems;
// this process appends 2 MiB/s to a file on the first while it holds a
// log open for writing on the second (as a daemon holds its log). Every
// sample of the second lists no writer with this pid, nor does any finding
// about it, while the first lists it with the file it grows.
func TestDiskWriterOnlyWhereItsFilesGrow(t *testing.T) {
	share(t)
	busy, _ := testenv.LoopFS(t, 64, 5)
	quiet, _ := testenv.LoopFS(t, 64, 5)
	logf, err := os.OpenFile(filepath.Join(quiet, "daemon.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	logf.WriteString("started\n")
	big := filepath.Join(busy, "big.log")
	a := startAppender(t, big, 40<<20)
	time.Sleep(time.Second)
	file := filepath.Join(t.TempDir(), "two.stk")
	out, err := exec.Command(binPath, "snapshot", "--duration", "6s", "--format", "json", "--probes", "diskfill",
		"--mount", busy, "--mount", quiet, "-o", file).Output()
	a.halt()
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	var doc struct {
		Findings []diskFinding `json:"findings"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	me := os.Getpid()
	for _, f := range doc.Findings {
		for _, w := range f.Data.Writers {
			if f.Data.Mount == quiet && w.PID == me {
				t.Errorf("%s about %s names pid %d, which writes only to %s: %s", f.Finding, quiet, me, busy, f.Summary)
			}
		}
	}
	evs, err := exec.Command(binPath, "events", file, "--kind", "disk_usage").Output()
	if err != nil {
		t.Fatal(err)
	}
	samples, onBusy := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(string(evs)), "\n") {
		var ev struct {
			Time        string `json:"time"`
			Filesystems []struct {
				Mount   string `json:"mount"`
				Writers []struct {
					PID            int     `json:"pid"`
					WriteBytesPerS float64 `json:"write_bytes_per_s"`
					Files          []struct {
						Path string `json:"path"`
					} `json:"files"`
				} `json:"writers"`
			} `json:"filesystems"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		samples++
		for _, fs := range ev.Filesystems {
			for _, w := range fs.Writers {
				if w.PID != me {
					continue
				}
				switch fs.Mount {
				case quiet:
					t.Errorf("%s: %s lists pid %d at %.0f B/s; it only holds a log open there", ev.Time, quiet, me, w.WriteBytesPerS)
				case busy:
					if len(w.Files) > 0 && w.Files[0].Path == big {
						onBusy++
					}
				}
			}
		}
	}
	if onBusy == 0 {
		t.Errorf("in %d samples, %s never lists pid %d growing %s", samples, busy, me, big)
	}
	t.Logf("%d samples; pid %d listed on %s in %d of them", samples, me, busy, onBusy)
}
