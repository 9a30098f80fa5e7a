package findings

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

func eta(s float64) *float64 { return &s }

// diskScript is one sample per second of one filesystem, built by fs(i).
func diskScript(n int, fs func(i int) schema.Filesystem) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = event.New(t0.Add(time.Duration(i)*time.Second), "diskfill",
			&schema.DiskUsage{IntervalS: 1, Filesystems: []schema.Filesystem{fs(i)}})
	}
	return evs
}

func binlog(availMiB uint64, tr schema.Trend) schema.Filesystem {
	return schema.Filesystem{Mount: "/srv/binlog", Device: "/dev/sdb1", FSType: "xfs",
		SizeBytes: 100 << 30, AvailBytes: availMiB << 20, InodesTotal: 1000, InodesFree: 900, Bytes: tr,
		Writers: []schema.DiskWriter{{PID: 4242, Comm: "mysqld", WriteBytesPerS: 50e6,
			Files: []schema.GrowingFD{{Path: "/srv/binlog/mysql-bin.000042", SizeBytes: 1 << 30, GrowthBytesPerS: 50e6}}}}}
}

func diskFindings(t *testing.T, evs []event.Event) []*event.Finding {
	t.Helper()
	var out []*event.Finding
	for _, ev := range Run([]Detector{NewDiskFill()}, evs) {
		f, _ := event.As[event.Finding](ev)
		out = append(out, f)
	}
	return out
}

func TestDiskFillingCriticalFiresFastWithWriters(t *testing.T) {
	// 20 GiB free at 50 MB/s: full in ~7 min, so critical after ~53 s at most… an eighth of 430 s.
	evs := diskScript(90, func(i int) schema.Filesystem {
		return binlog(20<<10, schema.Trend{RatePerS: 50e6, EtaS: eta(429.5), WindowS: 60})
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
	evs := diskScript(200, func(i int) schema.Filesystem {
		if i < 100 {
			return binlog(50<<10, schema.Trend{RatePerS: 5e6, EtaS: eta(3 * 3600), WindowS: 600})
		}
		return binlog(1<<10, schema.Trend{RatePerS: 5e6, EtaS: eta(200), WindowS: 600})
	})
	got := diskFindings(t, evs)
	// Raised as a warning after a minute (the cap); updated when the time
	// to full drops from 3 h to 200 s (material), still a warning until
	// critical has held for an eighth of 200 s; then the minute's refresh.
	sevs := []event.Severity{event.Warn, event.Warn, event.Critical, event.Critical}
	if len(got) != 4 || !slices.Equal(states(got...), []string{"raise", "update", "update", "update"}) {
		t.Fatalf("got %v", states(got...))
	}
	for i, f := range got {
		if f.Severity != sevs[i] || f.Key != "disk.filling /srv/binlog" {
			t.Errorf("%d: %v %q", i, f.Severity, f.Key)
		}
	}
	fired := Run([]Detector{NewDiskFill()}, evs)
	for i, s := range []time.Duration{60, 100, 125, 185} {
		if !fired[i].Time.Equal(t0.Add(s * time.Second)) {
			t.Errorf("%d at %v, want +%ds", i, fired[i].Time, s)
		}
	}
	if got[2].Count != 66 || !got[2].Since.Equal(t0.Add(time.Minute)) {
		t.Errorf("critical update: count %d since %v", got[2].Count, got[2].Since)
	}
}

func TestDiskFillingIgnoresSlowFillsFlickerAndStaleSamples(t *testing.T) {
	evs := diskScript(300, func(i int) schema.Filesystem {
		switch {
		case i < 100: // full in two days: nothing to say
			return binlog(50<<10, schema.Trend{RatePerS: 1e5, EtaS: eta(48 * 3600), WindowS: 600})
		case i < 200: // a burst's estimate that comes and goes
			if i%10 == 0 {
				return binlog(50<<10, schema.Trend{RatePerS: 1e8, EtaS: eta(500), WindowS: 10})
			}
			return binlog(50<<10, schema.Trend{})
		default: // stale: old numbers
			f := binlog(500, schema.Trend{})
			f.Stale = true
			return f
		}
	})
	if got := diskFindings(t, evs); len(got) != 0 {
		t.Errorf("got %+v", got)
	}
}

func TestDiskNearlyFullIsCriticalWithoutARate(t *testing.T) {
	evs := diskScript(3, func(int) schema.Filesystem { return binlog(500, schema.Trend{}) }) // 0.5% left
	got := diskFindings(t, evs)
	if len(got) != 1 || got[0].Severity != event.Critical || got[0].Data.(DiskFillingData).EtaS != nil {
		t.Fatalf("got %+v", got)
	}
	if b, _ := json.Marshal(got[0].Data); !strings.Contains(string(b), `"eta_s":null`) {
		t.Errorf("json %s", b)
	}
}

func TestDiskInodesFilling(t *testing.T) {
	evs := diskScript(30, func(int) schema.Filesystem {
		f := binlog(50<<10, schema.Trend{})
		f.InodesFree = 600
		f.Inodes = schema.Trend{RatePerS: 5, EtaS: eta(120), WindowS: 10}
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

// Issue 12's disk: a critical fill that lasts, with the available space and
// the writer's rate drifting every sample, is one finding with updates; it
// clears 30 s after it eased, and filling again is a new finding.
func TestDiskFillingOneFindingPerEpisode(t *testing.T) {
	evs := diskScript(400, func(i int) schema.Filesystem {
		switch {
		case i < 200:
			return binlog(uint64(900-i), schema.Trend{RatePerS: 1e6 + float64(i%5)*1e4, EtaS: eta(float64(900 - i)), WindowS: 60})
		case i < 300: // the writer stopped
			return binlog(2<<10, schema.Trend{})
		}
		return binlog(20<<10, schema.Trend{RatePerS: 50e6, EtaS: eta(429.5), WindowS: 60})
	})
	got := diskFindings(t, evs)
	var st []string
	for _, f := range got {
		if f.State != event.FindingUpdate {
			st = append(st, states(f)[0])
		}
	}
	if !slices.Equal(st, []string{"raise", "cleared", "raise"}) {
		t.Fatalf("got %v", states(got...))
	}
	if n := len(got) - 3; n < 2 || n > 5 {
		t.Errorf("%d updates in 200 s of a steady fill", n)
	}
	for _, f := range got {
		if f.Key != "disk.filling /srv/binlog" {
			t.Errorf("key %q", f.Key)
		}
	}
}

func TestDiskDeletedOpenOncePerFile(t *testing.T) {
	held := schema.DeletedOpen{PID: 77, Comm: "java", Path: "/srv/binlog/app.log", SizeBytes: 2 << 30}
	small := schema.DeletedOpen{PID: 78, Comm: "sh\x1b[2J", Path: "/srv/binlog/tmp", SizeBytes: 2 << 20}
	evs := diskScript(100, func(i int) schema.Filesystem {
		f := binlog(50<<10, schema.Trend{})
		if i < 10 || i > 60 { // gone for 50 s in between: a new episode
			f.DeletedOpen = []schema.DeletedOpen{held, small}
		}
		return f
	})
	got := diskFindings(t, evs)
	// Raised; cleared 30 s after it was last seen; raised again.
	if !slices.Equal(states(got...), []string{"raise", "raise", "cleared", "cleared", "raise", "raise"}) ||
		got[0].Severity != event.Warn || got[1].Severity != event.Info {
		t.Fatalf("got %v", states(got...))
	}
	if got[0].Key != `disk.deleted_open /srv/binlog 77 /srv/binlog/app.log` || got[2].Key != got[0].Key || got[2].Count != 10 {
		t.Errorf("key %q, clear %+v", got[0].Key, got[2])
	}
	if d := got[0].Data.(DiskDeletedOpenData); d != (DiskDeletedOpenData{Mount: "/srv/binlog", PID: 77, Comm: "java",
		Path: "/srv/binlog/app.log", SizeBytes: 2 << 30}) {
		t.Errorf("data %+v", d)
	}
	if strings.Contains(got[1].Summary, "\x1b") {
		t.Errorf("unsanitized summary %q", got[1].Summary)
	}
}
