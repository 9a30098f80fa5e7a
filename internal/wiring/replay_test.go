package wiring

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
	"github.com/stakeout/stakeout/ui"
)

// writeSaturated writes a minute of a session on which sdb is saturated
// from its 10th to its 22nd second, with a kernel log backlog from an hour
// before, written after the first sample as the kmsg probe writes it.
func writeSaturated(t *testing.T) string {
	t.Helper()
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "saturated.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "db-7", Started: t0, Interval: time.Second},
		sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	write := func(ev event.Event) {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	write(event.New(t0, "iostat", &event.ProbeStatus{Status: event.StatusOK}))
	write(event.New(t0, "kmsg", &event.ProbeStatus{Status: event.StatusOK}))
	for s := 1; s <= 60; s++ {
		sdb := schema.DeviceIO{Device: "sdb", WPerS: 40, WKBPerS: 320, WAwaitMs: 2, AquSz: 0.1, UtilPct: 8}
		if s >= 10 && s <= 22 {
			sdb = schema.DeviceIO{Device: "sdb", WPerS: 850, WKBPerS: 110800, WAwaitMs: 250, AquSz: 42, UtilPct: 99.8}
		}
		write(event.New(t0.Add(time.Duration(s)*time.Second), "iostat", &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{sdb}}))
		if s == 1 {
			write(event.New(t0.Add(-time.Hour), "kmsg", &schema.Kmsg{Level: "info", Priority: 6, Facility: "kern", Text: "an old line", Backlog: true}))
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLoadReplay: the replay's loader sends the recording's findings and
// probes once it has read it all; quitting the replay stops it early, and
// it still sends what it has (no error: quitting is no failure).
func TestLoadReplay(t *testing.T) {
	r, err := sessions.Open(writeSaturated(t))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var msgs []tea.Msg
	if err := loadReplay(context.Background(), r, func(m tea.Msg) { msgs = append(msgs, m) }); err != nil {
		t.Fatal(err)
	}
	last, ok := msgs[len(msgs)-1].(ui.ReplayLoadedMsg)
	if !ok || last.Err != nil || len(last.Findings) == 0 || strings.Join(last.Probes, ",") != "iostat,kmsg" {
		t.Fatalf("last message %+v", msgs[len(msgs)-1])
	}
	if f, _ := event.As[event.Finding](last.Findings[0]); f.Finding != "io.saturated" {
		t.Errorf("first finding %+v", f)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	msgs = nil
	if err := loadReplay(ctx, r, func(m tea.Msg) { msgs = append(msgs, m) }); !errors.Is(err, context.Canceled) {
		t.Errorf("a quit replay's loader returned %v", err)
	}
	if l, ok := msgs[len(msgs)-1].(ui.ReplayLoadedMsg); !ok || l.Err != nil {
		t.Errorf("a quit replay's loader sent %+v", msgs[len(msgs)-1])
	}
}

// TestLoadReplayOfSeveralFiles: `replay a.stk b.stk` loads the marks of
// both recordings, each finding naming its file's host: two files of one
// hostname (and one base name) are still two hosts.
func TestLoadReplayOfSeveralFiles(t *testing.T) {
	var files []sessions.SetFile
	for range 2 {
		path := writeSaturated(t)
		r, err := sessions.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, sessions.SetFile{Reader: r, Path: path})
	}
	set := sessions.NewSet(files)
	defer set.Close()
	var msgs []tea.Msg
	if err := loadReplay(context.Background(), set, func(m tea.Msg) { msgs = append(msgs, m) }); err != nil {
		t.Fatal(err)
	}
	last := msgs[len(msgs)-1].(ui.ReplayLoadedMsg)
	hosts := map[string]int{}
	for _, ev := range last.Findings {
		if f, _ := event.As[event.Finding](ev); f.Finding == "io.saturated" && f.State == "" {
			hosts[ev.Host]++
		}
	}
	if len(hosts) != 2 || hosts["db-7 (saturated.stk)"] != 1 || hosts["db-7 (saturated.stk) #2"] != 1 {
		t.Fatalf("io.saturated raised on %v", hosts)
	}
}
