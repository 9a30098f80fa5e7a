package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/probes"
)

type tick struct{ N int }

func (tick) EventKind() string { return "engine_test_tick" }

func init() { event.Register("engine_test_tick", func() event.Body { return &tick{} }) }

// fakeProbe emits n ticks then waits for cancellation, or fails as told.
type fakeProbe struct {
	n        int
	checkErr error
	runErr   error
	panics   bool
}

func (f fakeProbe) Check() error { return f.checkErr }
func (f fakeProbe) Run(ctx context.Context, emit probes.Emit) error {
	if f.panics {
		panic("boom")
	}
	if f.runErr != nil {
		return f.runErr
	}
	for i := 0; i < f.n; i++ {
		emit(event.New(time.Unix(int64(i), 0), "fake", &tick{N: i}))
	}
	<-ctx.Done()
	return ctx.Err()
}

// everyThird emits a finding for every third tick it sees.
type everyThird struct{}

func (everyThird) Produces() []string { return []string{"test.third"} }
func (everyThird) Observe(ev event.Event) []event.Event {
	if t, ok := ev.Body.(*tick); ok && t.N%3 == 0 {
		return []event.Event{event.New(ev.Time, ev.Probe, &event.Finding{Finding: "test.third", Severity: event.Info})}
	}
	return nil
}

type memRecorder struct {
	mu     sync.Mutex
	evs    []event.Event
	flush  int
	closed bool
	stop   string
}

func (m *memRecorder) Write(ev event.Event) error {
	m.mu.Lock()
	m.evs = append(m.evs, ev)
	m.mu.Unlock()
	return nil
}
func (m *memRecorder) Flush() error               { m.flush++; return nil }
func (m *memRecorder) Size() int64                { return int64(len(m.evs)) }
func (m *memRecorder) Path() string               { return "mem.stk" }
func (m *memRecorder) Stopped() (string, bool)    { return m.stop, m.stop != "" }
func (m *memRecorder) Close() error               { m.closed = true; return nil }
func (m *memRecorder) Pause(string)               {}
func (m *memRecorder) Resume()                    {}
func (m *memRecorder) Paused() (string, bool)     { return "", false }
func (m *memRecorder) TakeNotices() []event.Event { return nil }

func runFor(t *testing.T, o Options, d time.Duration) []event.Event {
	t.Helper()
	var got []event.Event
	o.Sink = func(b []event.Event) { got = append(got, b...) }
	o.BatchEvery = 10 * time.Millisecond
	o.FlushEvery = 20 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := New(o).Run(ctx); err != nil {
		t.Fatal(err)
	}
	return got
}

func statuses(evs []event.Event) map[string]event.ProbeStatus {
	m := map[string]event.ProbeStatus{}
	for _, e := range evs {
		if st, ok := e.Body.(*event.ProbeStatus); ok {
			m[e.Probe] = *st
		}
	}
	return m
}

func TestFanOutToSinkRecorderAndDetectors(t *testing.T) {
	rec := &memRecorder{}
	got := runFor(t, Options{
		Probes:    []Named{{"fake", fakeProbe{n: 9}}},
		Detectors: []findings.Detector{everyThird{}},
		Recorder:  rec,
	}, 200*time.Millisecond)
	var ticks, finds int
	for _, e := range got {
		switch e.Body.(type) {
		case *tick:
			ticks++
		case *event.Finding:
			finds++
		}
	}
	if ticks != 9 || finds != 3 {
		t.Fatalf("sink saw %d ticks and %d findings, want 9 and 3", ticks, finds)
	}
	if len(rec.evs) != len(got) {
		t.Fatalf("recorder got %d events, sink %d", len(rec.evs), len(got))
	}
	if !rec.closed || rec.flush == 0 {
		t.Fatalf("recorder closed=%v flushes=%d", rec.closed, rec.flush)
	}
	if st := statuses(got)["fake"]; st.Status != event.StatusOK {
		t.Fatalf("status %+v", st)
	}
}

func TestOneFailingProbeNeverStopsTheOthers(t *testing.T) {
	got := runFor(t, Options{Probes: []Named{
		{"gone", fakeProbe{checkErr: probes.Unavailablef("no /proc/modules: this kernel has no loadable modules")}},
		{"broken", fakeProbe{runErr: errors.New("permission denied")}},
		{"crashy", fakeProbe{panics: true}},
		{"fine", fakeProbe{n: 5}},
	}}, 200*time.Millisecond)
	st := statuses(got)
	if st["gone"].Status != event.StatusUnavailable || st["gone"].Reason != "no /proc/modules: this kernel has no loadable modules" {
		t.Errorf("gone: %+v", st["gone"])
	}
	if st["broken"].Status != event.StatusError || st["broken"].Reason != "permission denied" {
		t.Errorf("broken: %+v", st["broken"])
	}
	if st["crashy"].Status != event.StatusError {
		t.Errorf("crashy: %+v", st["crashy"])
	}
	if st["fine"].Status != event.StatusOK {
		t.Errorf("fine: %+v", st["fine"])
	}
	n := 0
	for _, e := range got {
		if _, ok := e.Body.(*tick); ok {
			n++
		}
	}
	if n != 5 {
		t.Errorf("healthy probe delivered %d of 5 events", n)
	}
}

func TestFullQueueDropsInsteadOfBlockingTheProbe(t *testing.T) {
	e := New(Options{QueueLen: 4})
	for i := 0; i < 10; i++ {
		e.emit(event.New(time.Unix(0, 0), "fake", &tick{})) // must return at once
	}
	if s := e.Stats(); s.Events != 4 || s.Dropped != 6 {
		t.Fatalf("stats %+v, want 4 accepted and 6 dropped", s)
	}
}

func TestRecorderStopIsShownOnce(t *testing.T) {
	rec := &memRecorder{stop: "file reached --record-max 256 MiB"}
	var states []RecordingState
	got := runFor(t, Options{Probes: []Named{{"fake", fakeProbe{n: 1}}}, Recorder: rec,
		OnRecording: func(s RecordingState) { states = append(states, s) }}, 100*time.Millisecond)
	n := 0
	for _, e := range got {
		if f, ok := event.As[event.Finding](e); ok && f.Finding == "record.stopped" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("record.stopped shown %d times, want 1", n)
	}
	if len(states) == 0 || states[len(states)-1].State != "stopped" {
		t.Fatalf("states %+v", states)
	}
}

// With FeedWhenIdle the sink gets the probe's events as soon as the queue
// is empty, with no batch timer; without it, not before BatchEvery (here an
// hour, so only the end of the run delivers them). Under a flood it is fed
// at least every feedMax events.
func TestFeedWhenIdleFeedsWithoutATimer(t *testing.T) {
	for _, idle := range []bool{true, false} {
		fed := make(chan int, 1000)
		var mu sync.Mutex
		largest := 0
		e := New(Options{
			Probes:       []Named{{"fake", fakeProbe{n: 3 * feedMax}}},
			FeedWhenIdle: idle,
			BatchEvery:   time.Hour,
			FlushEvery:   time.Hour,
			Sink: func(b []event.Event) {
				mu.Lock()
				largest = max(largest, len(b))
				mu.Unlock()
				fed <- len(b)
			},
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()
		n := 0
		deadline := time.After(10 * time.Second)
	wait:
		for n < 3*feedMax+1 { // the ticks and the probe's status
			select {
			case k := <-fed:
				n += k
			case <-deadline:
				break wait
			case <-time.After(300 * time.Millisecond):
				if !idle {
					break wait // nothing comes before the hour is up: as it should be
				}
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		big := largest
		mu.Unlock()
		switch {
		case idle && n < 3*feedMax+1:
			t.Errorf("FeedWhenIdle: the sink got %d of %d events while the run went on", n, 3*feedMax+1)
		case idle && big > feedMax:
			t.Errorf("FeedWhenIdle: a batch of %d events, want at most %d", big, feedMax)
		case !idle && n != 0:
			t.Errorf("without FeedWhenIdle the sink got %d events before BatchEvery", n)
		}
	}
}
