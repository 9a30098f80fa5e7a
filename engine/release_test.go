package engine

import (
	"context"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/probes"
)

// pooled is a body that wants to be handed back (event.Releaser), like a
// live capture's packet batch. It counts its releases.
type pooled struct {
	N        int
	released int
}

func (*pooled) EventKind() string { return "engine_test_pooled" }
func (p *pooled) Release()        { p.released++ }

func init() { event.Register("engine_test_pooled", func() event.Body { return &pooled{} }) }

// pooledProbe emits bodies then waits for cancellation.
type pooledProbe struct{ bodies []*pooled }

func (pooledProbe) Check() error { return nil }
func (p pooledProbe) Run(ctx context.Context, emit probes.Emit) error {
	for i, b := range p.bodies {
		emit(event.New(time.Unix(int64(i), 0), "pooled", b))
	}
	<-ctx.Done()
	return ctx.Err()
}

// unreleased fails the test for each pooled body in evs already released
// when who got it.
func unreleased(t *testing.T, who string, evs ...event.Event) {
	t.Helper()
	for _, ev := range evs {
		if p, ok := ev.Body.(*pooled); ok && p.released != 0 {
			t.Errorf("%s got body %d already released", who, p.N)
		}
	}
}

// releaseWatch is a recorder and a detector that check every body is
// still unreleased when it gets it.
type releaseWatch struct {
	memRecorder
	t *testing.T
}

func (w *releaseWatch) Write(ev event.Event) error {
	unreleased(w.t, "the recorder", ev)
	return w.memRecorder.Write(ev)
}
func (w *releaseWatch) Produces() []string { return nil }
func (w *releaseWatch) Observe(ev event.Event) []event.Event {
	unreleased(w.t, "a detector", ev)
	return nil
}

// TestReleasersAreReleasedOnlyAfterASinkThatKeepsNothing pins the generic
// contract, packets aside: with a sink that keeps nothing (or none), the
// engine releases every event.Releaser body exactly once, after the
// recorder, the detectors and the sink have had it; with a sink that may
// keep events, it releases none (that sink does, when it is done).
func TestReleasersAreReleasedOnlyAfterASinkThatKeepsNothing(t *testing.T) {
	for _, c := range []struct {
		name         string
		sink         bool
		keepsNothing bool
		want         int // releases per body
	}{
		{"sink keeps nothing", true, true, 1},
		{"sink may keep", true, false, 0},
		{"no sink", false, false, 1},
	} {
		bodies := make([]*pooled, 20)
		for i := range bodies {
			bodies[i] = &pooled{N: i}
		}
		w := &releaseWatch{t: t}
		atSink := 0
		o := Options{
			Probes:           []Named{{"pooled", pooledProbe{bodies}}},
			Detectors:        []findings.Detector{w},
			Recorder:         w,
			SinkKeepsNothing: c.keepsNothing,
			BatchEvery:       5 * time.Millisecond,
			FlushEvery:       10 * time.Millisecond,
		}
		if c.sink {
			o.Sink = func(evs []event.Event) {
				unreleased(t, "the sink", evs...)
				for _, ev := range evs {
					if _, ok := ev.Body.(*pooled); ok {
						atSink++
					}
				}
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		if err := New(o).Run(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if c.sink && atSink != len(bodies) {
			t.Errorf("%s: the sink got %d of %d bodies", c.name, atSink, len(bodies))
		}
		for _, b := range bodies {
			if b.released != c.want {
				t.Errorf("%s: body %d released %d times, want %d", c.name, b.N, b.released, c.want)
			}
		}
	}
}
