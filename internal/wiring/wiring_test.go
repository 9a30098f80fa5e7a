package wiring

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/probes"
	"github.com/stakeout/stakeout/redact"
	"github.com/stakeout/stakeout/sessions"
)

func names(ns []engine.Named) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Name)
	}
	return out
}

// TestProbes: the probes are built once each, in the order asked (all of
// them for none); a name that is no probe's, or nothing at all, is an
// error; a probe's bad settings are an error only when validating (the
// live TUI shows them in the probe's pane instead).
func TestProbes(t *testing.T) {
	cfg := probes.DefaultConfig()
	all, err := Probes(nil, cfg, true)
	if err != nil || !slices.Equal(names(all), probes.Names()) {
		t.Fatalf("no names: %v (%v), want every probe %v", names(all), err, probes.Names())
	}
	got, err := Probes([]string{"kmsg", " iostat", "kmsg", ""}, cfg, true)
	if err != nil || !slices.Equal(names(got), []string{"kmsg", "iostat"}) {
		t.Errorf("kmsg, iostat, kmsg: %v (%v)", names(got), err)
	}
	for _, n := range got {
		if n.Probe == nil {
			t.Errorf("probe %s not built", n.Name)
		}
	}
	if _, err := Probes([]string{"iostat", "cpu"}, cfg, true); err == nil || !strings.Contains(err.Error(), `unknown probe "cpu" (available: `) {
		t.Errorf("an unknown probe: %v", err)
	}
	if _, err := Probes([]string{" ", ""}, cfg, true); !errors.Is(err, ErrNoProbes) {
		t.Errorf("no probe selected: %v, want ErrNoProbes", err)
	}
	cfg.Signals.PIDs = []int{-1}
	if _, err := Probes([]string{"signals"}, cfg, true); err == nil || !strings.Contains(err.Error(), "no such process") {
		t.Errorf("signals for pid -1, validated: %v", err)
	}
	if got, err := Probes([]string{"signals"}, cfg, false); err != nil || len(got) != 1 {
		t.Errorf("signals for pid -1, not validated: %v (%v)", names(got), err)
	}
}

// TestOpenRecordingRedacts: with a redactor, the header and every event
// are redacted on their way into the file, with the same pseudonyms; the
// detector settings are kept in the header either way; and a directory
// others could tamper with is refused with an error the caller can tell.
func TestOpenRecordingRedacts(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	status := &event.ProbeStatus{Status: event.StatusError, Reason: "db-7: connect 10.20.30.40:5432 refused"}
	open := func(name string, red *redact.Redactor) *sessions.Reader {
		t.Helper()
		path := filepath.Join(dir, name)
		rec, err := OpenRecording(Recording{
			Path: path, MaxBytes: 1 << 20, Redactor: red,
			Header:    sessions.Header{Hostname: "db-7", Started: t0},
			Detectors: findings.Config{SignalBurstWindow: time.Second},
		})
		if err != nil {
			t.Fatal(err)
		}
		if rec.Path() != path {
			t.Errorf("recording to %s, want %s", rec.Path(), path)
		}
		if err := rec.Write(event.New(t0, "packets", status)); err != nil {
			t.Fatal(err)
		}
		if err := rec.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := sessions.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	reason := func(r *sessions.Reader) string {
		it := r.Iter(time.Time{})
		ev, ok := it.Next()
		st, isStatus := event.As[event.ProbeStatus](ev)
		if !ok || !isStatus {
			t.Fatalf("read back %+v (%v)", ev, it.Err())
		}
		return st.Reason
	}

	plain := open("plain.stk", nil)
	if h := plain.Header(); h.Hostname != "db-7" || findings.ConfigOf(h.Detectors).SignalBurstWindow != time.Second {
		t.Errorf("plain header %+v", h)
	}
	if got := reason(plain); got != status.Reason {
		t.Errorf("plain reason %q", got)
	}

	red := open("red.stk", redact.New())
	h := red.Header()
	if h.Hostname == "db-7" || h.Hostname == "" || findings.ConfigOf(h.Detectors).SignalBurstWindow != time.Second {
		t.Errorf("redacted header %+v", h)
	}
	got := reason(red)
	if strings.Contains(got, "10.20.30.40") || !strings.HasPrefix(got, h.Hostname+": connect ") {
		t.Errorf("redacted reason %q (host %s)", got, h.Hostname)
	}

	shared := filepath.Join(dir, "shared")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(shared, 0o777) // past the umask
	_, err := OpenRecording(Recording{Path: filepath.Join(shared, "x.stk"), Header: sessions.Header{Started: t0}})
	var unsafe *sessions.UnsafeDirError
	if !errors.As(err, &unsafe) {
		t.Errorf("a world-writable directory: %v, want an *sessions.UnsafeDirError", err)
	}
}
