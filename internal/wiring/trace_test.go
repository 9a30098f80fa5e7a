package wiring

import (
	"context"
	"strings"
	"testing"

	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
)

type fakeTracer struct{ calls []string }

func (f *fakeTracer) Check() error                                          { return nil }
func (f *fakeTracer) Run(ctx context.Context, emit func(event.Event)) error { return nil }
func (f *fakeTracer) Attach(ctx context.Context, pid int) error {
	f.calls = append(f.calls, "attach")
	return nil
}
func (f *fakeTracer) Detach(ctx context.Context, pid int) error {
	f.calls = append(f.calls, "detach")
	return nil
}

// a and d in the signals pane go to the probe that can trace; with none
// run (--probes without signals), they are off.
func TestSignalsPaneRequestsReachTheTracer(t *testing.T) {
	if traceRequests(nil) != nil {
		t.Error("no probe that traces, yet a and d are on")
	}
	tr := &fakeTracer{}
	req := traceRequests([]engine.Named{{Name: "signals", Probe: tr}})
	if req == nil {
		t.Fatal("a and d are off")
	}
	req(812, true)
	req(812, false)
	if strings.Join(tr.calls, " ") != "attach detach" {
		t.Errorf("calls %v", tr.calls)
	}
}
