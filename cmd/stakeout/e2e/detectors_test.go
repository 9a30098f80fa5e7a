//go:build linux

package e2e

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// A recording made with --burst-window 1s keeps the window in its header,
// so report, events and handoff find the burst that live found: two
// SIGHUPs 400 ms apart are a burst under 1 s and not under the default.
func TestRecordedDetectorSettingsAreReplayed(t *testing.T) {
	share(t)
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	write := func(name string, cfg json.RawMessage) string {
		path := filepath.Join(t.TempDir(), name)
		w, err := sessions.Create(path, sessions.Header{Hostname: "db-7", Started: t0, Detectors: cfg},
			sessions.WriterOptions{FlushEvery: -1})
		if err != nil {
			t.Fatal(err)
		}
		uid := 0
		for _, ms := range []int{1000, 1400} {
			w.Write(event.New(t0.Add(time.Duration(ms)*time.Millisecond), "signals", &schema.Signal{PID: 812, TID: 812,
				Comm: "gimli", Signal: "SIGHUP", Signo: 1, Code: "SI_USER", SenderPID: 4410, SenderUID: &uid, SenderComm: "logrotate"}))
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	bursts := func(path string) int {
		t.Helper()
		r := run(t, nil, "report", path, "--format", "json")
		if r.code != 0 {
			t.Fatalf("report: exit %d: %s", r.code, r.stderr)
		}
		var doc struct {
			Findings []struct {
				Finding string `json:"finding"`
			} `json:"findings"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		n := 0
		for _, f := range doc.Findings {
			if f.Finding == "signal.burst" {
				n++
			}
		}
		return n
	}
	wide := write("wide.stk", findings.ConfigJSON(findings.Config{SignalBurstWindow: time.Second}))
	if n := bursts(wide); n != 1 {
		t.Errorf("recorded with --burst-window 1s: %d signal.burst findings, want 1", n)
	}
	if n := bursts(write("default.stk", nil)); n != 0 {
		t.Errorf("recorded with the default window: %d signal.burst findings, want 0", n)
	}
	// A hostile header cannot make a whole file one burst.
	if n := bursts(write("hostile.stk", json.RawMessage(`{"signal_burst_window_ns":8640000000000000}`))); n != 0 {
		t.Errorf("a window of 100 days from the header was used: %d bursts", n)
	}
}
