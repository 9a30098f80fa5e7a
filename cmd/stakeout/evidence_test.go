package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// An opened finding's evidence, live, is read from the recording while it
// is still being written (no index, no trailer yet), as the handoff report
// would pick it; once the file is closed, a replay reads the same rows.
func TestEvidenceFromTheRecordingBeingWritten(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "live.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "h", Started: t0}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	for s := 1; s <= 12; s++ {
		sdb := schema.DeviceIO{Device: "sdb", WPerS: 40, WAwaitMs: 2, AquSz: 0.1, UtilPct: 8}
		if s >= 5 {
			sdb = schema.DeviceIO{Device: "sdb", WPerS: 850, WAwaitMs: 250, AquSz: 42, UtilPct: 99}
		}
		if err := w.Write(event.New(t0.Add(time.Duration(s)*time.Second), "iostat", &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{sdb}})); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	raise := event.New(t0.Add(10*time.Second), "iostat", &event.Finding{Finding: "io.saturated", Severity: event.Warn, Key: "io.saturated sdb",
		Summary: "sdb saturated for 5s", Data: findings.IOSaturatedData{Device: "sdb", Seconds: 5}}) // as the detector makes it
	got, err := evidenceReader(path, true, false)(raise, raise)
	if err != nil {
		t.Fatalf("live: %v", err)
	}
	if got.Title != "iostat samples of sdb" || len(got.Rows) != 7 || !got.Rows[5].Mark || !strings.Contains(got.Note, "last second") {
		t.Errorf("live evidence %+v", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := evidenceReader(path, false, false)(raise, raise)
	if err != nil || len(again.Rows) != len(got.Rows) || again.Note != "" {
		t.Errorf("replay evidence %+v %v", again, err)
	}
	if e, _ := noEvidence("recording is off")(raise, raise); e.Note != "recording is off" || len(e.Rows) != 0 {
		t.Errorf("no recording: %+v", e)
	}
}
