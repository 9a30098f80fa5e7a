//go:build linux

package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// TestExtractSinceBeforeTheFirstEvent: extract --since a minute before the
// session's first event, on a file with a kernel backlog, cuts from there
// (it failed: --since moved to the next day, after the file's end), and a
// year-3000 event moves neither the day nor "-1m".
func TestExtractSinceBeforeTheFirstEvent(t *testing.T) {
	share(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "b.stk")
	started := time.Date(2026, 11, 23, 2, 23, 55, 0, time.UTC)
	w, err := sessions.Create(path, sessions.Header{Hostname: "db-7", Started: started, Interval: time.Second}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	sample := func(at time.Time) {
		must(w.Write(event.New(at, "iostat", &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{{Device: "sda", WPerS: 3}}})))
	}
	sample(started)
	must(w.Flush())
	// The backlog: the 30 seconds before the session, written after its
	// first sample.
	for s := 30; s > 0; s -= 10 {
		must(w.Write(event.New(started.Add(-time.Duration(s)*time.Second), "kmsg", &schema.Kmsg{Level: "info", Text: "backlog", Backlog: true})))
	}
	must(w.Flush())
	for s := 1; s <= 300; s++ {
		sample(started.Add(time.Duration(s) * time.Second))
		if s == 5 {
			must(w.Write(event.New(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), "kmsg", &schema.Kmsg{Level: "info", Text: "a clock gone wrong"})))
		}
		must(w.Flush())
	}
	must(w.Close())

	out := filepath.Join(dir, "cut.stk")
	r := run(t, nil, "extract", path, "--since", "02:23:00", "--until", "02:24:30", "-o", out)
	if r.code != 0 || !strings.Contains(r.stdout, "39 events from 2026-11-23 02:23:00 to 2026-11-23 02:24:30") {
		t.Fatalf("extract --since 02:23:00: %+v", r)
	}
	if ev := eventLines(t, out, "--kind", "kmsg"); len(ev) != 3 {
		t.Errorf("the cut holds %d of the 3 backlog lines", len(ev))
	}
	r = run(t, nil, "extract", path, "--since", "-1m", "-o", filepath.Join(dir, "last.stk"))
	if r.code != 0 || !strings.Contains(r.stdout, "from 2026-11-23 02:27:55 to 2026-11-23 02:28:55") {
		t.Fatalf("extract --since -1m: %+v", r)
	}
}
