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

// Two hours of kernel probes: kmsg lines (a segfault among them),
// conntrack samples filling, and a probe this build has no chart for.
func writeKernelSession(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kernel.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "lb-1", Started: t0}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	write := func(ev event.Event) {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"kmsg", "conntrack", "modules"} {
		write(event.New(t0, p, &event.ProbeStatus{Status: event.StatusOK}))
	}
	write(event.New(t0, "modules", &schema.ModuleList{Count: 1, Modules: []string{"ext4"}}))
	for m := 0; m < 120; m++ { // a minute apart
		at := t0.Add(time.Duration(m) * time.Minute)
		write(event.New(at, "conntrack", &schema.ConntrackSample{Count: uint64(1000 + 100*m), Max: 65536, IntervalS: 60}))
		text := "eth0: link up"
		if m == 30 {
			text = "haproxy[610]: segfault at 7fdb0426e000 ip 00007fdb0403305b sp 00007ffee5ff8988 error 4 in ld-musl-x86_64.so.1[7fdb03fe2000+87000]"
		}
		write(event.New(at.Add(time.Second), "kmsg", &schema.Kmsg{Level: "info", Priority: 6, Facility: "kern", Seq: uint64(m), Text: text}))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// A finding with no evidence of its own kind gets the events of its probe
// nearest to it: here the segfault's kernel log line and its neighbours.
func TestGenericEvidenceIsTheProbesNearestEvents(t *testing.T) {
	f := finding(t, build(t, writeKernelSession(t), Options{}), "kernel.segfault")
	// Lines are a minute apart and the window is ±30 s: only the line itself.
	if len(f.Evidence.Rows) != 1 || !f.Evidence.Rows[0].Mark || f.Evidence.Rows[0].Cells[0] != "kmsg" ||
		!strings.HasPrefix(f.Evidence.Rows[0].Cells[1], "[info] haproxy[610]: segfault at 7fdb0426e000") {
		t.Errorf("rows %+v", f.Evidence.Rows)
	}
}

func TestChartsOfKernelProbes(t *testing.T) {
	rep := build(t, writeKernelSession(t), Options{})
	charts := map[string]Chart{}
	for _, p := range rep.Summaries {
		for _, c := range p.Charts {
			charts[p.Name+": "+c.Title] = c
		}
	}
	// 1 h 59 m in 60 points: a point spans about two minutes, so counts
	// are per minute.
	kl, ok := charts["kmsg: kernel log lines per minute"]
	if !ok || kl.Unit != "lines/min" {
		t.Fatalf("charts %v", keys(charts))
	}
	if p := kl.Series[0].Peak(); p < 0.9 || p > 1.1 {
		t.Errorf("a line a minute peaks at %.2f/min", p)
	}
	ct := charts["conntrack: tracked connections"]
	if len(ct.Series) != 2 || ct.Series[0].Name != "count" || ct.Series[1].Name != "max" || ct.Series[1].Peak() != 65536 ||
		ct.Series[0].Peak() != 12900 {
		t.Errorf("conntrack chart %+v", ct.Series)
	}
	if _, ok := charts["modules: events per minute"]; !ok {
		t.Errorf("no fallback chart for modules: %v", keys(charts))
	}
}

func keys(m map[string]Chart) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The kernel log's backlog is read when the probe starts, so its lines come
// after the first samples in the file though they are stamped minutes
// earlier. A finding in the backlog still gets its line as evidence.
func TestBacklogFindingHasItsLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "backlog.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "lb-1", Started: t0}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	write := func(ev event.Event) {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	write(event.New(t0, "kmsg", &event.ProbeStatus{Status: event.StatusOK}))
	write(event.New(t0, "conntrack", &schema.ConntrackSample{Count: 10, Max: 65536, IntervalS: 1}))
	back := t0.Add(-3 * time.Minute)
	write(event.New(back, "kmsg", &schema.Kmsg{Level: "info", Priority: 6, Facility: "kern", Seq: 1, Backlog: true,
		Text: "haproxy[610]: segfault at 7fdb0426e000 ip 00007fdb0403305b sp 00007ffee5ff8988 error 4 in ld-musl-x86_64.so.1[7fdb03fe2000+87000]"}))
	for s := 1; s <= 10; s++ {
		write(event.New(t0.Add(time.Duration(s)*time.Second), "conntrack", &schema.ConntrackSample{Count: 10, Max: 65536, IntervalS: 1}))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f := finding(t, build(t, path, Options{}), "kernel.segfault")
	if len(f.Evidence.Rows) != 1 || !f.Evidence.Rows[0].Mark ||
		!strings.Contains(f.Evidence.Rows[0].Cells[1], "haproxy[610]: segfault") {
		t.Errorf("rows %+v", f.Evidence.Rows)
	}
}

// writeOutOfOrderSession is a recording whose file order is not its time
// order: conntrack samples for three minutes, the kernel log's backlog
// (a segfault and a hung task, five and four minutes before the start)
// written after the first samples, one sample early in the file stamped in
// the year 3000 (a bad clock), and a segfault during the session.
func writeOutOfOrderSession(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "order.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "lb-1", Started: t0}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	write := func(ev event.Event) {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	flush := func() {
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	kmsg := func(at time.Time, backlog bool, text string) {
		write(event.New(at, "kmsg", &schema.Kmsg{Level: "info", Priority: 6, Facility: "kern", Backlog: backlog, Text: text}))
	}
	write(event.New(t0, "kmsg", &event.ProbeStatus{Status: event.StatusOK}))
	write(event.New(t0, "conntrack", &event.ProbeStatus{Status: event.StatusOK}))
	for s := 0; s <= 180; s++ {
		at := t0.Add(time.Duration(s) * time.Second)
		write(event.New(at, "conntrack", &schema.ConntrackSample{Count: 10, Max: 65536, IntervalS: 1}))
		switch s {
		case 1:
			kmsg(t0.Add(-5*time.Minute-time.Second), true, "eth0: link up")
			kmsg(t0.Add(-5*time.Minute), true, "haproxy[610]: segfault at 7fdb0426e000 ip 00007fdb0403305b sp 00007ffee5ff8988 error 4 in ld-musl-x86_64.so.1[7fdb03fe2000+87000]")
			kmsg(t0.Add(-4*time.Minute), true, "INFO: task jbd2/sda1-8:245 blocked for more than 120 seconds.")
		case 5:
			write(event.New(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), "conntrack", &schema.ConntrackSample{Count: 10, Max: 65536, IntervalS: 1}))
		case 150:
			kmsg(at, false, "nginx[77]: segfault at 0 ip 000055d0c0ffee00 sp 00007ffd00000000 error 6 in nginx[55d0c0f00000+100000]")
		}
		flush()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// A window is picked by each event's time, never ended by the first later
// event: the backlog's findings are in a window that ends before the
// session began, a window to the end sees past the year-3000 sample, and
// every finding keeps its log line as evidence.
func TestOutOfOrderRecording(t *testing.T) {
	path := writeOutOfOrderSession(t)
	names := func(rep *Report) []string {
		var out []string
		for _, f := range rep.Findings {
			if len(f.Evidence.Rows) == 0 {
				t.Errorf("%s at %v has no evidence", f.Name, f.Time)
			}
			out = append(out, f.Name+"@"+f.Time.Format("15:04:05"))
		}
		return out
	}
	all := names(build(t, path, Options{}))
	// Ranked by severity, then time.
	want := []string{"kernel.segfault@03:55:00", "kernel.hung_task@03:56:00", "kernel.segfault@04:02:30"}
	if strings.Join(all, " ") != strings.Join(want, " ") {
		t.Errorf("whole file: findings %v, want %v", all, want)
	}
	backlog := names(build(t, path, Options{Since: t0.Add(-10 * time.Minute), Until: t0.Add(-3 * time.Minute)}))
	if strings.Join(backlog, " ") != strings.Join(want[:2], " ") {
		t.Errorf("until 03:57: findings %v", backlog)
	}
	session := names(build(t, path, Options{Since: t0, Until: t0.Add(170 * time.Second)}))
	if strings.Join(session, " ") != want[2] {
		t.Errorf("04:00:00 to 04:02:50: findings %v", session)
	}
}
