package handoff

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// Issue 12: each chart series is drawn on its own scale.

// A 252 GiB root growing by half a GiB, a small filesystem filling from
// 10 MiB to 895 MiB, and a steady /boot, in one chart: each line is drawn
// on its own scale, so both that move show it, from their own lowest
// value to their highest, labelled; /boot is drawn flat and says so.
func TestEachSeriesOnItsOwnScale(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disks.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "h", Started: t0}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	for s := range 60 {
		fs := func(mount string, used uint64) schema.Filesystem {
			return schema.Filesystem{Mount: mount, Device: "/dev/x", FSType: "ext4", SizeBytes: 500 << 30, UsedBytes: used, AvailBytes: 500<<30 - used}
		}
		if err := w.Write(event.New(at(s*1000), "diskfill", &schema.DiskUsage{IntervalS: 1, Filesystems: []schema.Filesystem{
			fs("/", 252<<30+uint64(s)*8<<20), fs("/srv/small", uint64(10+15*s)<<20), fs("/boot", 100<<20)}})); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep := build(t, path, Options{})

	md := markdown(t, rep)
	lines := map[string]string{}
	for _, l := range strings.Split(md, "\n") {
		if f := strings.Fields(l); strings.HasPrefix(l, "    /") && len(f) > 2 {
			lines[f[0]] = l
		}
	}
	levels := func(l string) int {
		seen := map[rune]bool{}
		for _, r := range l {
			if strings.ContainsRune("▁▂▃▄▅▆▇█", r) {
				seen[r] = true
			}
		}
		return len(seen)
	}
	for mount, want := range map[string]string{"/": "min 252.0 GiB · max 252.5 GiB", "/srv/small": "min 10.0 MiB · max 895.0 MiB"} {
		if l := lines[mount]; levels(l) < 6 || !strings.Contains(l, "▁") || !strings.Contains(l, "█") || !strings.HasSuffix(l, want) {
			t.Errorf("%s is not drawn from ▁ to █ on its own scale (%d levels), labelled %q:\n%s", mount, levels(l), want, l)
		}
	}
	if l := lines["/boot"]; levels(l) != 1 || !strings.HasSuffix(l, "steady at 100.0 MiB") {
		t.Errorf("/boot: %q", l)
	}

	// The page: one lane per series, its line spanning the lane's height
	// (flat in the middle for /boot), its own labels beside it.
	page := html(t, rep)
	lane := regexp.MustCompile(`<rect class="frame" x="\d+" y="(\d+)" width="\d+" height="(\d+)"/>\s*` +
		`<text[^>]*>([^<]*)</text>\s*<text[^>]*>([^<]*)</text>\s*<text class="lane"[^>]*>([^<]*)</text>\s*` +
		`<polyline class="s\d" points="([^"]+)"/>`)
	found := lane.FindAllStringSubmatch(page, -1)
	if len(found) != 3 {
		t.Fatalf("%d lanes, want 3", len(found))
	}
	for _, m := range found {
		y0, h := atof(t, m[1]), atof(t, m[2])
		lo, hi := y0+h, y0
		for _, pt := range strings.Fields(m[6]) {
			y := atof(t, pt[strings.Index(pt, ",")+1:])
			lo, hi = min(lo, y), max(hi, y)
		}
		switch name := m[5]; name {
		case "/", "/srv/small":
			if hi-lo < h*0.99 || m[3] == m[4] {
				t.Errorf("%s spans %.1f of its lane's %.0f, labelled %q to %q", name, hi-lo, h, m[4], m[3])
			}
		case "/boot":
			if hi != lo || m[3] != "100.0 MiB" || m[4] != "" {
				t.Errorf("/boot spans %.1f, labelled %q to %q", hi-lo, m[4], m[3])
			}
		default:
			t.Errorf("lane %q", name)
		}
	}
}

func atof(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
