package handoff

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// Issue 12: the time axis starts at the session's start.

// The kernel log's backlog (here ten minutes of it, written after the
// first samples, as the probe does) is listed, a segfault in it included,
// but the time axis starts at the session's start: the window, the charts
// and their points are those of the session's minute, not of eleven.
func TestTimeAxisStartsAtTheSession(t *testing.T) {
	path := filepath.Join(t.TempDir(), "backlog.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "h", Started: t0}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	write := func(ev event.Event) {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	write(event.New(t0, "kmsg", &event.ProbeStatus{Status: event.StatusOK}))
	kmsg := func(at time.Time, backlog bool, text string) {
		write(event.New(at, "kmsg", &schema.Kmsg{Level: "info", Priority: 6, Facility: "kern", Backlog: backlog, Text: text}))
	}
	for s := 1; s <= 60; s++ {
		write(event.New(at(s*1000), "iostat", &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{{Device: "sda", UtilPct: float64(s)}}}))
		if s == 1 {
			for m := 10; m >= 1; m-- {
				kmsg(t0.Add(-time.Duration(m)*time.Minute), true, "eth0: link up")
			}
			kmsg(t0.Add(-5*time.Minute+time.Second), true, "haproxy[610]: segfault at 7fdb0426e000 ip 00007fdb0403305b sp 00007ffee5ff8988 error 4 in ld-musl-x86_64.so.1[7fdb03fe2000+87000]")
		}
		if s == 30 {
			kmsg(at(30_000), false, "eth0: link down")
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep := build(t, path, Options{})
	if !rep.From.Equal(t0) || !rep.To.Equal(at(60_000)) {
		t.Errorf("window %s → %s, want the session's 04:00:00 → 04:01:00", rep.From, rep.To)
	}
	n := 0
	for _, p := range rep.Summaries {
		for _, c := range p.Charts {
			n++
			if !c.From.Equal(t0) || c.Step != time.Second {
				t.Errorf("%s %q: from %s, %s a point", p.Name, c.Title, c.From.Format(time.TimeOnly), c.Step)
			}
		}
	}
	if n != 3 { // iostat's two and kmsg's lines per second
		t.Errorf("%d charts", n)
	}
	if seg := finding(t, rep, "kernel.segfault"); !seg.Time.Equal(t0.Add(-5*time.Minute+time.Second)) || len(seg.Evidence.Rows) == 0 {
		t.Errorf("the backlog's segfault is not listed with its line: %+v", seg)
	}
	if rep.Earlier.Events != 11 || !rep.Earlier.Backlog || !rep.Earlier.First.Equal(t0.Add(-10*time.Minute)) {
		t.Errorf("earlier events %+v", rep.Earlier)
	}
	md := markdown(t, rep)
	for _, want := range []string{"| window | 2026-11-23 04:00:00 → 04:01:00 UTC (1m0s) |",
		"| before the session | 11 kernel log lines from the backlog, from 2026-11-23 03:50:00 UTC: listed, not charted |",
		"kernel.segfault on pid 610 (haproxy) from 03:55:01 (", "before the session)",
		"%util by device, 04:00:00 → 04:01:00 UTC, 1.00 s per point",
		"    stakeout replay /var/tmp/stakeout/db-7-20261123T040000Z.stk\n"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	if page := html(t, rep); !strings.Contains(page, `<text x="100" y="`) || !strings.Contains(page, ">04:00:00</text>") ||
		strings.Contains(page, ">03:50:00</text>") {
		t.Errorf("the page's time axis does not start at 04:00:00")
	}
}
