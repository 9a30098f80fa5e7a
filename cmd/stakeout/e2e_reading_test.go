package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/probes"
	"github.com/stakeout/stakeout/sessions"
)

// writeOutOfOrder records three minutes of a host the way a real recording
// departs from time order: the kernel log's backlog (lines from six minutes
// before the session, a segfault and a hung task among them) is written
// after the first samples; one sample early in the file is stamped in the
// year 3000 (a bad clock, or a hostile file); a segfault comes during the
// session; and `stakeout note` appends a note about the backlog after the
// file was closed.
func writeOutOfOrder(t *testing.T, path string) {
	t.Helper()
	w, err := sessions.Create(path, sessions.Header{Hostname: "db-7", Started: xt(0), Interval: time.Second},
		sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	kmsg := func(s float64, backlog bool, text string) {
		must(w.Write(event.New(xt(s), "kmsg", &probes.Kmsg{Level: "info", Priority: 6, Facility: "kern", Backlog: backlog, Text: text})))
	}
	for _, p := range []string{"kmsg", "conntrack"} {
		must(w.Write(event.New(xt(0), p, &event.ProbeStatus{Status: event.StatusOK})))
	}
	for s := 0; s <= 180; s++ {
		must(w.Write(event.New(xt(float64(s)), "conntrack", &probes.ConntrackSample{Count: 10, Max: 65536, IntervalS: 1})))
		switch s {
		case 1:
			for l := 0; l < 60; l++ {
				kmsg(float64(-360+l), true, fmt.Sprintf("eth0: link flap %d", l))
			}
			kmsg(-300, true, "haproxy[610]: segfault at 7fdb0426e000 ip 00007fdb0403305b sp 00007ffee5ff8988 error 4 in ld-musl-x86_64.so.1[7fdb03fe2000+87000]")
			kmsg(-240, true, "INFO: task jbd2/sda1-8:245 blocked for more than 120 seconds.")
		case 5:
			must(w.Write(event.New(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), "conntrack",
				&probes.ConntrackSample{Count: 10, Max: 65536, IntervalS: 1})))
		case 150:
			kmsg(150, false, "nginx[77]: segfault at 0 ip 000055d0c0ffee00 sp 00007ffd00000000 error 6 in nginx[55d0c0f00000+100000]")
		}
		must(w.Flush())
	}
	must(w.Close())
	if r := run(t, nil, "note", path, "the flaps started here", "--at", xt(-330).Format(time.RFC3339)); r.code != 0 {
		t.Fatalf("note: %+v", r)
	}
}

// parseEvents parses `stakeout events` output.
func parseEvents(t *testing.T, out string) []map[string]any {
	t.Helper()
	var evs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<20), 4<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not an event line: %q", sc.Text())
		}
		evs = append(evs, m)
	}
	return evs
}

func evTime(t *testing.T, m map[string]any) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, m["time"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// TestWindowsOfAnOutOfOrderRecording: events, handoff and extract pick a
// window's events by their own time. Before, each stopped at the first
// event after the window: the backlog, written after the first samples,
// was lost to any window ending before the session began, and the
// year-3000 sample ended every read without --until too.
func TestWindowsOfAnOutOfOrderRecording(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "order.stk")
	writeOutOfOrder(t, file)

	all := run(t, nil, "events", file)
	if all.code != 0 {
		t.Fatalf("events: %+v", all)
	}
	every := parseEvents(t, all.stdout)
	until := xt(-200) // inside the backlog
	var want []string
	findings := map[string]int{}
	for _, m := range every {
		if !evTime(t, m).After(until) {
			want = append(want, fmt.Sprint(m))
		}
		if m["kind"] == "finding" {
			findings[m["finding"].(string)]++
		}
	}
	if len(want) < 63 || findings["kernel.segfault"] != 2 || findings["kernel.hung_task"] != 1 {
		t.Fatalf("fixture: %d events up to %v, findings %v", len(want), until, findings)
	}

	r := run(t, nil, "events", file, "--until", until.Format(time.RFC3339))
	var got []string
	for _, m := range parseEvents(t, r.stdout) {
		got = append(got, fmt.Sprint(m))
	}
	if r.code != 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events --until %v: exit %d, %d events, want %d (stderr %q)", until, r.code, len(got), len(want), r.stderr)
	}

	// handoff: the backlog's two findings in a window that ends before
	// the session, and all three, past the year-3000 sample, in the whole.
	for _, c := range []struct {
		args []string
		want string
		note bool
	}{
		{[]string{"--until", until.Format(time.RFC3339)}, "**2 findings**", true},
		{[]string{"--since", xt(0).Format(time.RFC3339), "--until", xt(170).Format(time.RFC3339)}, "**1 finding**", false},
		{nil, "**3 findings**", true},
	} {
		r := run(t, nil, append([]string{"handoff", file}, c.args...)...)
		if r.code != 0 || !strings.Contains(r.stdout, c.want) || strings.Contains(r.stdout, "the flaps started here") != c.note {
			t.Errorf("handoff %v: exit %d, want %s, the note %v; stderr %q\n%s", c.args, r.code, c.want, c.note, r.stderr, r.stdout)
		}
	}

	// extract: the backlog window is copied whole, note included; and a
	// window from the start runs past the year-3000 sample to the segfault.
	out := filepath.Join(dir, "backlog.stk")
	r = run(t, nil, "extract", file, "--since", xt(-400).Format(time.RFC3339), "--until", until.Format(time.RFC3339), "-o", out)
	if r.code != 0 {
		t.Fatalf("extract: %+v", r)
	}
	kinds := func(path string) map[string]int {
		_, evs := readEvents(t, path)
		n := map[string]int{}
		for _, ev := range evs {
			n[ev.Kind]++
		}
		return n
	}
	if n := kinds(out); n["kmsg"] != 62 || n["note"] != 1 {
		t.Errorf("extract of the backlog window holds %v, want 62 kernel log lines and the note", n)
	}
	rest := filepath.Join(dir, "rest.stk")
	if r = run(t, nil, "extract", file, "--since", xt(0).Format(time.RFC3339), "-o", rest); r.code != 0 {
		t.Fatalf("extract: %+v", r)
	}
	if n := kinds(rest); n["kmsg"] != 1 || n["conntrack"] < 182 {
		t.Errorf("extract from the start holds %v, want the session's segfault line and every sample", n)
	}
}
