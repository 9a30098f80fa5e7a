package sessions

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

func TestRoundTrip(t *testing.T) {
	path, want := writeSession(t, t.TempDir(), 150)
	// An unknown kind read from an older file and written again must come
	// back byte for byte.
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if d := r.Damage(); d != nil {
		t.Fatalf("intact file reports %v", d)
	}
	h := r.Header()
	wantH := testHeader()
	wantH.FormatVersion = FormatMajor
	if !reflect.DeepEqual(h, wantH) {
		t.Fatalf("header\n got %+v\nwant %+v", h, wantH)
	}
	got, err := readAll(t, r, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	samePrefix(t, got, want)
	if _, ok := got[0].Body.(*ioSample); !ok {
		t.Fatalf("registered kind decoded as %T", got[0].Body)
	}
	if got[1].Body != nil || got[1].Kind != "cpu_future" || string(got[1].Raw) != string(want[1].Raw) {
		t.Fatalf("unknown kind came back as %+v", got[1])
	}
	if !r.Start().Equal(want[0].Time) || !r.End().Equal(want[len(want)-1].Time) {
		t.Fatalf("span %v..%v, want %v..%v", r.Start(), r.End(), want[0].Time, want[len(want)-1].Time)
	}
	if len(r.segs) < 3 {
		t.Fatalf("150 s should make at least 3 segments, got %d", len(r.segs))
	}
}

func TestRoundTripFromWalkEqualsIndex(t *testing.T) {
	path, _ := writeSession(t, t.TempDir(), 200)
	b := mustRead(t, path)
	withIndex, err := openBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	// Drop the index and trailer as a crash would: the walk must rebuild
	// the same table.
	walked, err := openBytes(b[:withIndex.dataEnd])
	if err != nil {
		t.Fatal(err)
	}
	if walked.Damage() != nil {
		t.Fatalf("file cut at a chunk boundary reports %v", walked.Damage())
	}
	if !reflect.DeepEqual(withIndex.segs, walked.segs) {
		t.Fatalf("index differs from walk:\n%v\n%v", withIndex.segs, walked.segs)
	}
}

func TestEventsOfAllShapes(t *testing.T) {
	path := t.TempDir() + "/shapes.stk"
	w, err := Create(path, testHeader(), manual())
	if err != nil {
		t.Fatal(err)
	}
	evs := []event.Event{
		event.New(t0, "engine", &event.ProbeStatus{Status: event.StatusUnavailable, Reason: "no /proc/modules"}),
		event.New(t0.Add(time.Millisecond), "kmsg", &event.Finding{Finding: "segv", Severity: event.Critical, Summary: "nginx\x1b[2J segfault", Data: map[string]any{"pid": 42.0}}),
		{Time: t0.Add(2 * time.Millisecond), Probe: "future", Kind: "quantum_flux", Raw: json.RawMessage(`{"time":"2026-11-23T04:00:00.002Z","probe":"future","kind":"quantum_flux","level":9}`)},
		{Time: t0.Add(3 * time.Millisecond), Probe: "bare", Kind: "heartbeat"},
	}
	for _, ev := range evs {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(evs[0]); err == nil {
		t.Fatal("Write after Close succeeded")
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := readAll(t, r, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	samePrefix(t, got, evs)
	if len(got) != len(evs) {
		t.Fatalf("got %d of %d", len(got), len(evs))
	}
	if f, ok := event.As[event.Finding](got[1]); !ok || f.Severity != event.Critical {
		t.Fatalf("finding came back as %+v", got[1])
	}
}

func TestEventTooLarge(t *testing.T) {
	w, err := Create(t.TempDir()+"/big.stk", testHeader(), manual())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	huge := rawEvent(t0, "x", "huge", map[string]any{"time": t0, "probe": "x", "kind": "huge", "blob": string(make([]byte, maxRecordSize))})
	if err := w.Write(huge); err == nil {
		t.Fatal("1 MiB event accepted")
	}
	if _, stopped := w.Stopped(); stopped {
		t.Fatal("an oversized event stopped the recording")
	}
}

// An I/O error is not damage: the file is fine, reading it failed.
func TestIterAfterCloseIsIOError(t *testing.T) {
	path, _ := writeSession(t, t.TempDir(), 3)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	got, err := readAll(t, r, time.Time{})
	if len(got) != 0 || err == nil || asDamage(err) != nil || r.Damage() != nil {
		t.Fatalf("%d events, err %v, damage %v", len(got), err, r.Damage())
	}
}
