package handoff

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/probes"
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
	write(event.New(t0, "modules", &probes.ModuleList{Count: 1, Modules: []string{"ext4"}}))
	for m := 0; m < 120; m++ { // a minute apart
		at := t0.Add(time.Duration(m) * time.Minute)
		write(event.New(at, "conntrack", &probes.ConntrackSample{Count: uint64(1000 + 100*m), Max: 65536, IntervalS: 60}))
		text := "eth0: link up"
		if m == 30 {
			text = "haproxy[610]: segfault at 7fdb0426e000 ip 00007fdb0403305b sp 00007ffee5ff8988 error 4 in ld-musl-x86_64.so.1[7fdb03fe2000+87000]"
		}
		write(event.New(at.Add(time.Second), "kmsg", &probes.Kmsg{Level: "info", Priority: 6, Facility: "kern", Seq: uint64(m), Text: text}))
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
	write(event.New(t0, "conntrack", &probes.ConntrackSample{Count: 10, Max: 65536, IntervalS: 1}))
	back := t0.Add(-3 * time.Minute)
	write(event.New(back, "kmsg", &probes.Kmsg{Level: "info", Priority: 6, Facility: "kern", Seq: 1, Backlog: true,
		Text: "haproxy[610]: segfault at 7fdb0426e000 ip 00007fdb0403305b sp 00007ffee5ff8988 error 4 in ld-musl-x86_64.so.1[7fdb03fe2000+87000]"}))
	for s := 1; s <= 10; s++ {
		write(event.New(t0.Add(time.Duration(s)*time.Second), "conntrack", &probes.ConntrackSample{Count: 10, Max: 65536, IntervalS: 1}))
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
