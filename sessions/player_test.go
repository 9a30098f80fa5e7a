package sessions

import (
	"math/rand"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// tenMinutes is a 10-minute recording with one io event per second (at
// whole seconds) and a recorded finding every minute.
func tenMinutes(t *testing.T) *Reader {
	t.Helper()
	path := t.TempDir() + "/p.stk"
	w, err := Create(path, testHeader(), manual())
	if err != nil {
		t.Fatal(err)
	}
	for s := 0; s < 600; s++ {
		at := t0.Add(time.Duration(s) * time.Second)
		w.Write(event.New(at, "iostat", &ioSample{Devices: []ioDevice{{Device: "sda", ReadBytesPS: s}}}))
		if s%60 == 30 {
			w.Write(event.New(at, "detector", &event.Finding{Finding: "io.saturated", Summary: "x"}))
		}
		w.Flush()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func seqs(evs []event.Event) []int {
	var out []int
	for _, ev := range evs {
		if s, ok := ev.Body.(*ioSample); ok {
			out = append(out, s.Devices[0].ReadBytesPS)
		}
	}
	return out
}

func wantSeqs(t *testing.T, what string, evs []event.Event, first, last int) {
	t.Helper()
	got := seqs(evs)
	if len(got) != last-first+1 || (len(got) > 0 && (got[0] != first || got[len(got)-1] != last)) {
		t.Fatalf("%s: got seconds %v, want %d..%d", what, got, first, last)
	}
}

func TestPlayerForwardPlay(t *testing.T) {
	r := tenMinutes(t)
	dropFindings := func(ev event.Event) bool { _, ok := event.As[event.Finding](ev); return ok }
	p := NewPlayer(r, time.Minute, dropFindings)
	if !p.Position().Equal(t0) || !p.Start().Equal(t0) || !p.End().Equal(t0.Add(599*time.Second)) {
		t.Fatalf("start %v end %v pos %v", p.Start(), p.End(), p.Position())
	}
	evs, err := p.Tick(1500 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, "first tick", evs, 0, 1)
	p.SetSpeed(10)
	evs, _ = p.Tick(time.Second) // to 11.5 s
	wantSeqs(t, "10x tick", evs, 2, 11)
	p.SetPaused(true)
	if evs, _ := p.Tick(time.Hour); len(evs) != 0 || !p.Position().Equal(t0.Add(11500*time.Millisecond)) {
		t.Fatalf("paused tick moved: %d events, pos %v", len(evs), p.Position())
	}
	p.SetPaused(false)
	evs, _ = p.AdvanceTo(t0.Add(2 * time.Minute))
	wantSeqs(t, "advance", evs, 12, 120)
	for _, ev := range evs {
		if dropFindings(ev) {
			t.Fatal("a dropped finding was delivered")
		}
	}
	evs, _ = p.Tick(time.Hour) // clamps at End
	wantSeqs(t, "to the end", evs, 121, 599)
	if !p.Position().Equal(p.End()) {
		t.Fatalf("position %v past end %v", p.Position(), p.End())
	}
	if evs, err := p.Tick(time.Second); len(evs) != 0 || err != nil {
		t.Fatalf("tick at the end: %d events, %v", len(evs), err)
	}
}

func TestPlayerSeek(t *testing.T) {
	r := tenMinutes(t)
	p := NewPlayer(r, 30*time.Second, nil)
	evs, err := p.Seek(t0.Add(5 * time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, "seek", evs, 270, 300)
	if len(evs) != 32 { // 31 samples and the finding at 04:04:30
		t.Fatalf("seek returned %d events", len(evs))
	}
	evs, _ = p.Tick(2 * time.Second)
	wantSeqs(t, "tick after seek", evs, 301, 302)
	// Going back is a seek.
	evs, _ = p.AdvanceTo(t0.Add(10 * time.Second))
	wantSeqs(t, "backwards", evs, 0, 10)
	// Clamped at both ends.
	p.Seek(t0.Add(-time.Hour))
	if !p.Position().Equal(p.Start()) {
		t.Fatalf("seek before start: %v", p.Position())
	}
	evs, _ = p.Seek(t0.Add(time.Hour))
	if !p.Position().Equal(p.End()) {
		t.Fatalf("seek after end: %v", p.Position())
	}
	wantSeqs(t, "seek to end", evs, 569, 599)
}

func TestPlayerSpeedClamp(t *testing.T) {
	p := NewPlayer(tenMinutes(t), 0, nil)
	for in, want := range map[float64]float64{0: 0.25, -3: 0.25, 2: 2, 1000: 64} {
		if p.SetSpeed(in); p.Speed() != want {
			t.Errorf("SetSpeed(%v) -> %v, want %v", in, p.Speed(), want)
		}
	}
}

func TestPlayerDamagedTail(t *testing.T) {
	path, want := writeSession(t, t.TempDir(), 100)
	b := mustRead(t, path)
	full, _ := openBytes(b)
	r, err := openBytes(b[:full.dataEnd-10]) // torn last chunk
	if err != nil || r.Damage() == nil {
		t.Fatalf("err %v damage %v", err, r.Damage())
	}
	p := NewPlayer(r, 0, nil)
	evs, err := p.AdvanceTo(t0.Add(time.Hour))
	if asDamage(err) == nil {
		t.Fatalf("playing into damage: err %v", err)
	}
	samePrefix(t, evs, want)
	if !p.Position().Equal(r.End()) || !r.End().Equal(evs[len(evs)-1].Time) {
		t.Fatalf("position %v, end %v, last %v", p.Position(), r.End(), evs[len(evs)-1].Time)
	}
	if evs, err := p.Tick(time.Second); len(evs) != 0 || err != nil {
		t.Fatalf("the damage is reported once: %d events, %v", len(evs), err)
	}
}

// heavyMinute is a minute with 4 KB of hard-to-compress event every 50 ms:
// 4.8 MB of records in segments the writer ends at 1 MiB, so a seek into
// it decodes megabytes.
func heavyMinute(t *testing.T) *Reader {
	t.Helper()
	path := t.TempDir() + "/heavy.stk"
	w, err := Create(path, testHeader(), manual())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(5))
	pad := make([]byte, 4000)
	for i := range 1200 {
		for j := range pad {
			pad[j] = byte('a' + rng.Intn(26))
		}
		at := t0.Add(time.Duration(i) * 50 * time.Millisecond)
		w.Write(rawEvent(at, "x", "heavy", map[string]any{"time": at, "probe": "x", "kind": "heavy", "seq": i, "pad": string(pad)}))
		if i%20 == 19 {
			w.Flush()
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestPlayerStepsThroughAHeavySeek: a seek that has megabytes to decode
// returns after a step's work with the position set and the rest Pending;
// Continue (and a tick meanwhile) deliver exactly what one unbounded call
// would have, a step at a time. This is what lets the replay UI handle q
// between two steps instead of after the whole decode.
func TestPlayerStepsThroughAHeavySeek(t *testing.T) {
	r := heavyMinute(t)
	mid, end := t0.Add(30*time.Second), r.End()
	whole := NewPlayer(r, 20*time.Second, nil)
	whole.step = 1 << 62
	want, err := whole.Seek(mid)
	if err != nil || whole.Pending() {
		t.Fatal(err)
	}
	rest, _ := whole.AdvanceTo(end)
	want = append(want, rest...)

	p := NewPlayer(r, 20*time.Second, nil)
	p.step = 64 << 10
	var got []event.Event
	calls := 0
	step := func(evs []event.Event, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		calls++
		got = append(got, evs...)
	}
	before := int64(0)
	check := func(what string) {
		t.Helper()
		// A step's work, then at most the record it is in and the 32 KiB
		// the reader's buffer pulled with it.
		if did := p.it.work() - before; did > p.step+64<<10 {
			t.Fatalf("%s did %d work, step %d", what, did, p.step)
		}
		before = p.it.work()
	}
	step(p.Seek(mid))
	check("Seek")
	if !p.Pending() || !p.Position().Equal(mid) {
		t.Fatalf("a seek into megabytes: pending %v at %v", p.Pending(), p.Position())
	}
	for i := 0; p.Pending(); i++ {
		if i == 3 {
			step(p.AdvanceTo(end)) // a tick while the seek is still pending
			check("AdvanceTo")
			continue
		}
		step(p.Continue())
		check("Continue")
	}
	if evs, err := p.Continue(); len(evs) != 0 || err != nil {
		t.Fatalf("Continue with nothing pending: %d events, %v", len(evs), err)
	}
	t.Logf("%d events in %d calls of %d KiB work", len(got), calls, p.step>>10)
	if calls < 10 || len(got) != len(want) {
		t.Fatalf("%d events in %d calls, want %d in many", len(got), calls, len(want))
	}
	for i := range got {
		if jsonOf(t, got[i]) != jsonOf(t, want[i]) {
			t.Fatalf("event %d differs", i)
		}
	}
}
