package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// TestSnapshotListedUnderItsFinding: a process_snapshot is listed under
// the finding it was taken for, and under another finding of the same
// process near it; not under a finding of another process, nor one of
// the same pid an hour later. Text, Markdown and JSON agree.
func TestSnapshotListedUnderItsFinding(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	b := NewBuilder()
	burst := &event.Finding{Finding: "signal.burst", Severity: event.Warn, Key: "signal.burst 812 SIGHUP",
		Summary: "gimli (pid 812) got SIGHUP twice in 3 ms", Data: map[string]any{"pid": 812, "comm": "gimli"}}
	race := &event.Finding{Finding: "signal.exec_race", Severity: event.Critical, Key: "signal.exec_race 812 SIGHUP",
		Summary: "race", Data: map[string]any{"pid": 812}}
	other := &event.Finding{Finding: "signal.burst", Severity: event.Warn, Key: "signal.burst 900 SIGUSR1",
		Summary: "other", Data: map[string]any{"pid": 900}}
	late := &event.Finding{Finding: "kernel.hung_task", Severity: event.Warn, Key: "kernel.hung_task 812",
		Summary: "late", Data: map[string]any{"pid": 812}}
	snap := &schema.ProcessSnapshot{PID: 812, Comm: "gimli", State: "S", Wchan: "do_sigtimedwait", ThreadsTotal: 1,
		FDsTotal: 4, Finding: burst.Key, Limits: map[string]schema.Limit{"core": {Soft: 0, Hard: -1, Unit: "bytes"}}}
	b.Observe(event.New(t0, "signals", burst))
	b.Observe(event.New(t0.Add(120*time.Millisecond), schema.ProbeProcess, snap))
	b.Observe(event.New(t0.Add(10*time.Second), "signals", race))
	b.Observe(event.New(t0.Add(11*time.Second), "signals", other))
	b.Observe(event.New(t0.Add(time.Hour), "kmsg", late))
	d := b.Document(map[string]any{"hostname": "h"}, "", time.Time{}, 0)

	if len(d.Processes) != 2 {
		t.Fatalf("process_snapshots %+v, want the one under the burst and under the race", d.Processes)
	}
	for _, ev := range d.Findings {
		f, _ := event.As[event.Finding](ev)
		got := d.SnapshotsOf(ev)
		want := f.Key == burst.Key || f.Key == race.Key
		if (len(got) == 1) != want {
			t.Errorf("%s: %d snapshots listed", f.Key, len(got))
		}
		if len(got) == 1 && (got[0].PID != 812 || got[0].Core == nil || got[0].Core.Soft != 0 || !got[0].Time.Equal(t0.Add(120*time.Millisecond))) {
			t.Errorf("%s: %+v", f.Key, got[0])
		}
	}
	line := "process at 04:00:00.120: 812 (gimli) S (sleeping) in do_sigtimedwait; 1 thread; 4 fds; core limit 0, hard unlimited"
	for _, format := range []string{"text", "md"} {
		var buf bytes.Buffer
		if err := Write(&buf, d, format); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		// The line comes right after its finding's line.
		for _, sum := range []string{burst.Summary, race.Summary} {
			i := strings.Index(out, sum)
			rest := out[i:]
			next := rest[strings.Index(rest, "\n")+1:]
			next = strings.ReplaceAll(next[:strings.Index(next, "\n")], "`", "")
			if i < 0 || !strings.Contains(next, line) {
				t.Errorf("%s: the line after %q is %q, want %q", format, sum, next, line)
			}
		}
		if strings.Count(strings.ReplaceAll(out, "`", ""), "process at ") != 2 {
			t.Errorf("%s: snapshot listed other than twice:\n%s", format, out)
		}
	}
	var buf bytes.Buffer
	if err := Write(&buf, d, "json"); err != nil {
		t.Fatal(err)
	}
	var m struct {
		Processes []map[string]any `json:"process_snapshots"`
	}
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Processes) != 2 || m.Processes[0]["finding"] != race.Key || m.Processes[1]["finding"] != burst.Key {
		t.Errorf("JSON process_snapshots %v (findings are worst first: the race, then the burst)", m.Processes)
	}
	for _, k := range []string{"finding", "time", "pid", "comm", "state", "wchan", "threads_total", "fds_total", "core_limit", "summary"} {
		if _, ok := m.Processes[0][k]; !ok {
			t.Errorf("JSON snapshot lacks %q: %v", k, m.Processes[0])
		}
	}
}

// TestNoSnapshotsNoField: a document without snapshots has no
// process_snapshots field (the contract of older documents is unchanged).
func TestNoSnapshotsNoField(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, build(), "json"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "process_snapshots") {
		t.Error("process_snapshots in a document without any")
	}
}

// TestSnapshotOfItsHostOnly: a pid names a process on its own host: the
// local host's snapshot of pid 812 is not listed under r1's finding about
// its pid 812, only under the local one, each naming its host.
func TestSnapshotOfItsHostOnly(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	b := NewBuilder()
	burst := func(host string) event.Event {
		ev := event.New(t0, "signals", &event.Finding{Finding: "signal.burst", Severity: event.Warn, Key: "signal.burst 812 SIGHUP",
			Summary: "burst on " + host, Data: map[string]any{"pid": 812}})
		ev.Host = host
		return ev
	}
	b.Observe(burst("r1"))
	b.Observe(burst(""))
	b.Observe(event.New(t0.Add(time.Second), schema.ProbeProcess, &schema.ProcessSnapshot{PID: 812, Comm: "gimli", Finding: "signal.burst 812 SIGHUP"}))
	d := b.Document(map[string]any{"hostname": "h"}, "", time.Time{}, 0)
	if len(d.Processes) != 1 || d.Processes[0].Host != "h" {
		t.Fatalf("process_snapshots %+v, want the local one, named h", d.Processes)
	}
	for _, ev := range d.Findings {
		if n := len(d.SnapshotsOf(ev)); (n == 1) != (ev.Host == "h") {
			t.Errorf("finding on %q: %d snapshots", ev.Host, n)
		}
	}
}
