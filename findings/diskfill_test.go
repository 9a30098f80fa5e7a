package findings

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/probes"
)

func eta(s float64) *float64 { return &s }

// diskScript is one sample per second of one filesystem, built by fs(i).
func diskScript(n int, fs func(i int) probes.Filesystem) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = event.New(t0.Add(time.Duration(i)*time.Second), "diskfill",
			&probes.DiskUsage{IntervalS: 1, Filesystems: []probes.Filesystem{fs(i)}})
	}
	return evs
}

func binlog(availMiB uint64, tr probes.Trend) probes.Filesystem {
	return probes.Filesystem{Mount: "/srv/binlog", Device: "/dev/sdb1", FSType: "xfs",
		SizeBytes: 100 << 30, AvailBytes: availMiB << 20, InodesTotal: 1000, InodesFree: 900, Bytes: tr,
		Writers: []probes.DiskWriter{{PID: 4242, Comm: "mysqld", WriteBytesPerS: 50e6,
			Files: []probes.GrowingFD{{Path: "/srv/binlog/mysql-bin.000042", SizeBytes: 1 << 30, GrowthBytesPerS: 50e6}}}}}
}

func diskFindings(t *testing.T, evs []event.Event) []*event.Finding {
	t.Helper()
	var out []*event.Finding
	for _, ev := range Run([]Detector{NewDiskFill()}, evs) {
		f, _ := event.AsFinding(ev)
		out = append(out, f)
	}
	return out
}

func TestDiskFillingCriticalFiresFastWithWriters(t *testing.T) {
	// 20 GiB free at 50 MB/s: full in ~7 min, so critical after ~53 s at most… an eighth of 430 s.
	evs := diskScript(90, func(i int) probes.Filesystem {
		return binlog(20<<10, probes.Trend{RatePerS: 50e6, EtaS: eta(429.5), WindowS: 60})
	})
	got := diskFindings(t, evs)
	if len(got) != 1 || got[0].Finding != FindingDiskFilling || got[0].Severity != event.Critical {
		t.Fatalf("got %+v", got)
	}
	d := got[0].Data.(DiskFillingData)
	if d.Mount != "/srv/binlog" || d.RateBytesPerS != 50e6 || *d.EtaS != 429.5 || d.Writers[0].PID != 4242 {
		t.Errorf("data %+v", d)
	}
	want := "/srv/binlog: 20.0 GiB of 100.0 GiB available, filling at 47.7 MiB/s, full in 7m; top writer mysqld[4242] → /srv/binlog/mysql-bin.000042"
	if got[0].Summary != want {
		t.Errorf("summary %q", got[0].Summary)
	}
	b, _ := json.Marshal(got[0].Data)
	for _, k := range []string{`"rate_bytes_per_s":`, `"eta_s":429.5`, `"writers":[{"pid":4242,"comm":"mysqld","write_bytes_per_s":`,
		`"files":[{"path":"/srv/binlog/mysql-bin.000042","size_bytes":1073741824,"growth_bytes_per_s":`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON lacks %s: %s", k, b)
		}
	}
}

func TestDiskFillingWarnWaitsThenTurnsCritical(t *testing.T) {
	evs := diskScript(200, func(i int) probes.Filesystem {
		if i < 100 {
			return binlog(50<<10, probes.Trend{RatePerS: 5e6, EtaS: eta(3 * 3600), WindowS: 600})
		}
		return binlog(1<<10, probes.Trend{RatePerS: 5e6, EtaS: eta(200), WindowS: 600})
	})
	got := diskFindings(t, evs)
	if len(got) != 2 || got[0].Severity != event.Warn || got[1].Severity != event.Critical {
		t.Fatalf("got %+v", got)
	}
	// Warn after a minute (the cap), critical an eighth of 200 s later.
	if fired := Run([]Detector{NewDiskFill()}, evs); !fired[0].Time.Equal(t0.Add(60*time.Second)) ||
		!fired[1].Time.Equal(t0.Add(125*time.Second)) {
		t.Errorf("fired at %v and %v", fired[0].Time, fired[1].Time)
	}
}

func TestDiskFillingIgnoresSlowFillsFlickerAndStaleSamples(t *testing.T) {
	evs := diskScript(300, func(i int) probes.Filesystem {
		switch {
		case i < 100: // full in two days: nothing to say
			return binlog(50<<10, probes.Trend{RatePerS: 1e5, EtaS: eta(48 * 3600), WindowS: 600})
		case i < 200: // a burst's estimate that comes and goes
			if i%10 == 0 {
				return binlog(50<<10, probes.Trend{RatePerS: 1e8, EtaS: eta(500), WindowS: 10})
			}
			return binlog(50<<10, probes.Trend{})
		default: // stale: old numbers
			f := binlog(500, probes.Trend{})
			f.Stale = true
			return f
		}
	})
	if got := diskFindings(t, evs); len(got) != 0 {
		t.Errorf("got %+v", got)
	}
}

func TestDiskNearlyFullIsCriticalWithoutARate(t *testing.T) {
	evs := diskScript(3, func(int) probes.Filesystem { return binlog(500, probes.Trend{}) }) // 0.5% left
	got := diskFindings(t, evs)
	if len(got) != 1 || got[0].Severity != event.Critical || got[0].Data.(DiskFillingData).EtaS != nil {
		t.Fatalf("got %+v", got)
	}
	if b, _ := json.Marshal(got[0].Data); !strings.Contains(string(b), `"eta_s":null`) {
		t.Errorf("json %s", b)
	}
}

func TestDiskInodesFilling(t *testing.T) {
	evs := diskScript(30, func(int) probes.Filesystem {
		f := binlog(50<<10, probes.Trend{})
		f.InodesFree = 600
		f.Inodes = probes.Trend{RatePerS: 5, EtaS: eta(120), WindowS: 10}
		return f
	})
	got := diskFindings(t, evs)
	if len(got) != 1 || got[0].Finding != FindingDiskInodesFilling || got[0].Severity != event.Critical {
		t.Fatalf("got %+v", got)
	}
	if d := got[0].Data.(DiskInodesFillingData); d.InodesFree != 600 || d.RateInodesPerS != 5 || *d.EtaS != 120 {
		t.Errorf("data %+v", d)
	}
}

func TestDiskDeletedOpenOncePerFile(t *testing.T) {
	held := probes.DeletedOpen{PID: 77, Comm: "java", Path: "/srv/binlog/app.log", SizeBytes: 2 << 30}
	small := probes.DeletedOpen{PID: 78, Comm: "sh\x1b[2J", Path: "/srv/binlog/tmp", SizeBytes: 2 << 20}
	evs := diskScript(100, func(i int) probes.Filesystem {
		f := binlog(50<<10, probes.Trend{})
		if i < 10 || i > 60 { // gone for 50 s in between: a new episode
			f.DeletedOpen = []probes.DeletedOpen{held, small}
		}
		return f
	})
	got := diskFindings(t, evs)
	if len(got) != 4 || got[0].Severity != event.Warn || got[1].Severity != event.Info {
		t.Fatalf("got %+v", got)
	}
	if d := got[0].Data.(DiskDeletedOpenData); d != (DiskDeletedOpenData{Mount: "/srv/binlog", PID: 77, Comm: "java",
		Path: "/srv/binlog/app.log", SizeBytes: 2 << 30}) {
		t.Errorf("data %+v", d)
	}
	if strings.Contains(got[1].Summary, "\x1b") {
		t.Errorf("unsanitized summary %q", got[1].Summary)
	}
}
