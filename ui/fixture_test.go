package ui

import (
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/themes"
)

var t0 = time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)

const modulesReason = "no /proc/modules: this kernel has no loadable modules"

// fixtureSession is 20 s of a host whose sdb saturates at 04:00:05:
// iostat ok, a "modules" probe that is unavailable, two findings.
func fixtureSession() []event.Event {
	evs := []event.Event{
		event.New(t0, "iostat", &event.ProbeStatus{Status: event.StatusOK}),
		event.New(t0, "modules", &event.ProbeStatus{Status: event.StatusUnavailable, Reason: modulesReason}),
	}
	for s := 1; s <= 20; s++ {
		at := t0.Add(time.Duration(s) * time.Second)
		sda := schema.DeviceIO{Device: "sda", RPerS: 3, WPerS: 20 + float64(s%4), RKBPerS: 12, WKBPerS: 80 + float64(s*3),
			RAwaitMs: 0.5, WAwaitMs: 1.2, AquSz: 0.01, UtilPct: 1.5 + float64(s%3)}
		sdb := schema.DeviceIO{Device: "sdb", RPerS: 1, WPerS: 40, WKBPerS: 900, WAwaitMs: 2, AquSz: 0.1, UtilPct: 8}
		if s >= 5 {
			sdb = schema.DeviceIO{Device: "sdb", RPerS: 12, WPerS: 850, RKBPerS: 48, WKBPerS: 108800 + float64(s*100),
				RAwaitMs: 4.1, WAwaitMs: 250.3, AquSz: 42.1, UtilPct: min(90+float64(s), 99.8)}
		}
		evs = append(evs, event.New(at, "iostat", &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{sda, sdb}}))
		switch s {
		case 8:
			evs = append(evs, fixtureFinding(at, event.Warn, "sdb 98% busy for 3 s, w_await 250 ms"))
		case 15:
			evs = append(evs, fixtureFinding(at, event.Critical, "sdb saturated for 10 s, queue 42"))
		}
	}
	return evs
}

func fixtureFinding(at time.Time, sev event.Severity, summary string) event.Event {
	return event.New(at, "iostat", &event.Finding{Finding: "io.saturated", Severity: sev, Summary: summary})
}

func findingsOf(evs []event.Event) []event.Event {
	var out []event.Event
	for _, ev := range evs {
		if ev.Kind == event.KindFinding {
			out = append(out, ev)
		}
	}
	return out
}

// testOptions pins everything a golden depends on.
func testOptions() Options {
	return Options{
		Host:      "db-7.prod",
		Probes:    []string{"iostat", "modules"},
		Theme:     themes.Must("dark"),
		Now:       func() time.Time { return t0.Add(20 * time.Second) },
		Loc:       time.UTC,
		TickEvery: -1,
	}
}

// fakeSource is a ReplaySource over a slice: a cursor and nothing else.
type fakeSource struct {
	evs    []event.Event
	pos    time.Time
	speed  float64
	paused bool
	hist   time.Duration
	seeks  []time.Time // every Seek, for scripted tests
}

func newFakeSource(evs []event.Event) *fakeSource {
	return &fakeSource{evs: evs, pos: evs[0].Time, speed: 1, hist: time.Minute}
}

func (f *fakeSource) Start() time.Time    { return f.evs[0].Time }
func (f *fakeSource) End() time.Time      { return f.evs[len(f.evs)-1].Time }
func (f *fakeSource) Position() time.Time { return f.pos }
func (f *fakeSource) SetSpeed(x float64)  { f.speed = x }
func (f *fakeSource) Speed() float64      { return f.speed }
func (f *fakeSource) SetPaused(p bool)    { f.paused = p }
func (f *fakeSource) Paused() bool        { return f.paused }
func (f *fakeSource) Pending() bool       { return false }

func (f *fakeSource) Continue() ([]event.Event, error) { return nil, nil }

func (f *fakeSource) Seek(t time.Time) ([]event.Event, error) {
	f.pos = t
	f.seeks = append(f.seeks, t)
	return f.between(t.Add(-f.hist), t, true), nil
}

func (f *fakeSource) Tick(real time.Duration) ([]event.Event, error) {
	if f.paused {
		return nil, nil
	}
	next := f.pos.Add(time.Duration(float64(real) * f.speed))
	if next.After(f.End()) {
		next = f.End()
	}
	evs := f.between(f.pos, next, false)
	f.pos = next
	return evs, nil
}

// between returns events in (a, b], or [a, b] when closed.
func (f *fakeSource) between(a, b time.Time, closed bool) []event.Event {
	var out []event.Event
	for _, ev := range f.evs {
		if (ev.Time.After(a) || (closed && ev.Time.Equal(a))) && !ev.Time.After(b) {
			out = append(out, ev)
		}
	}
	return out
}
