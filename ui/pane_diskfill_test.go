package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

func etaS(s float64) *float64 { return &s }

// diskSession: /srv/binlog fills at 50 MB/s from the 10th second, / is
// quiet, and /var holds a deleted log open.
func diskSession() []event.Event {
	evs := []event.Event{event.New(t0, "diskfill", &event.ProbeStatus{Status: event.StatusOK})}
	used := uint64(60 << 30)
	for i := range 20 {
		binlog := schema.Filesystem{Mount: "/srv/binlog", Device: "/dev/sdb1", FSType: "xfs",
			SizeBytes: 100 << 30, UsedBytes: used, AvailBytes: 100<<30 - used, FreeBytes: 100<<30 - used,
			InodesTotal: 1 << 20, InodesUsed: 1000, InodesFree: 1<<20 - 1000}
		if i >= 10 {
			used += 50e6
			binlog.Bytes = schema.Trend{RatePerS: 50e6, EtaS: etaS(float64(100<<30-used) / 50e6), WindowS: 10}
			binlog.Writers = []schema.DiskWriter{{PID: 4242, Comm: "mysqld", WriteBytesPerS: 52e6,
				Files: []schema.GrowingFD{{Path: "/srv/binlog/mysql-bin.000042", SizeBytes: 3 << 30, GrowthBytesPerS: 50e6}}}}
		}
		root := schema.Filesystem{Mount: "/", Device: "/dev/vda", FSType: "ext4", SizeBytes: 250 << 30,
			UsedBytes: 16 << 30, AvailBytes: 220 << 30, FreeBytes: 234 << 30, InodesTotal: 16 << 20, InodesFree: 15 << 20}
		vr := schema.Filesystem{Mount: "/var\x1b[2J", Device: "/dev/vda2", FSType: "ext4", SizeBytes: 20 << 30,
			UsedBytes: 18 << 30, AvailBytes: 1 << 30, FreeBytes: 2 << 30, InodesTotal: 1 << 20, InodesFree: 1 << 19,
			DeletedOpen: []schema.DeletedOpen{{PID: 77, Comm: "java", Path: "/var/log/app.log", SizeBytes: 6 << 30}}}
		evs = append(evs, event.New(t0.Add(time.Duration(i+1)*time.Second), "diskfill",
			&schema.DiskUsage{IntervalS: 1, Filesystems: []schema.Filesystem{root, binlog, vr}}))
	}
	return evs
}

func diskModel(w, h int) Model {
	o := testOptions()
	o.Probes = []string{"diskfill"}
	return update(NewLive(o), tea.WindowSizeMsg{Width: w, Height: h}, EventsMsg(diskSession()))
}

func TestGoldenDiskFill(t *testing.T) {
	golden.RequireEqual(t, screen(t, diskModel(80, 24)))
}

func TestDiskFillPaneFocusAndDetail(t *testing.T) {
	s := screen(t, diskModel(100, 30))
	for _, want := range []string{"▶ /srv/binlog", "+47.7M/s", "4242    mysqld", "/srv/binlog/mysql-bin.000042"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q:\n%s", want, s)
		}
	}
	// The filling filesystem sorts first; j twice focuses /var, which shows its deleted file.
	m := update(diskModel(100, 30), tea.KeyPressMsg{Code: 'j', Text: "j"}, tea.KeyPressMsg{Code: 'j', Text: "j"})
	s = screen(t, m)
	if !strings.Contains(s, "deleted, still open: 6.0G by java[77] /var/log/app.log") {
		t.Errorf("focused /var lacks its deleted file:\n%s", s)
	}
	if strings.Contains(s, "\x1b[2J") {
		t.Error("mount name not sanitized")
	}
}
