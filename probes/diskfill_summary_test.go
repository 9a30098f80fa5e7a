package probes

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

func TestDiskSummary(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	var s schema.DiskSummary
	for i := range 5 {
		fs := schema.Filesystem{Mount: "/srv/binlog", Device: "/dev/sdb1", FSType: "xfs", SizeBytes: 100 << 30,
			UsedBytes: uint64(60<<30 + i<<30), AvailBytes: uint64(40<<30 - i<<30), InodesTotal: 100, InodesFree: 50}
		if i >= 2 {
			eta := float64(3600 - i*100)
			fs.Bytes = schema.Trend{RatePerS: 1 << 30, EtaS: &eta, WindowS: 10}
		}
		if i == 3 {
			fs.DeletedOpen = []schema.DeletedOpen{{PID: 7, Comm: "java", Path: "/srv/binlog/x", SizeBytes: 2 << 30}}
			fs.Stale = true
		}
		s.Observe(event.New(t0.Add(time.Duration(i)*time.Second), diskFillName, &schema.DiskUsage{IntervalS: 1, Filesystems: []schema.Filesystem{fs}}))
	}
	s.Observe(event.New(t0, "iostat", &schema.IOSample{})) // ignored
	b, _ := json.Marshal(s.Result())
	want := `{"samples":5,"filesystems":[{"mount":"/srv/binlog","device":"/dev/sdb1","fstype":"xfs","size_bytes":107374182400,` +
		`"first_used_bytes":64424509440,"last_used_bytes":68719476736,"last_avail_bytes":38654705664,"last_inodes_free":50,` +
		`"max_rate_bytes_per_s":1073741824,"min_eta_s":3200,"max_deleted_open_bytes":2147483648,"stale_samples":1}]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	lines := s.Lines()
	if len(lines) != 1 || !strings.Contains(lines[0], "/srv/binlog (/dev/sdb1, xfs): 64.0% of 100.0 GiB used, 36.0 GiB available; grew 4.0 GiB; fastest fill 1.0 GiB/s, full in 53m at worst; deleted files held open: 2.0 GiB; statfs hung in 1 samples") {
		t.Errorf("lines %q", lines)
	}
	for v, want := range map[float64]string{45: "45s", 600: "10m", 3*3600 + 300: "3h05m", 5 * 86400: "5d"} {
		if got := schema.FormatETA(v); got != want {
			t.Errorf("FormatETA(%v) = %q, want %q", v, got, want)
		}
	}
}
