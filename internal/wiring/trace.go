package wiring

import (
	"context"
	"time"

	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/probes"
)

// traceRequests is a and d in the signals pane: attach ptrace to a
// process, or detach it, through the probe that can (nil when no probe
// run can, and a and d are off).
func traceRequests(named []engine.Named) func(pid int, attach bool) error {
	for _, n := range named {
		t, ok := n.Probe.(probes.Tracer)
		if !ok {
			continue
		}
		return func(pid int, attach bool) error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if attach {
				return t.Attach(ctx, pid)
			}
			return t.Detach(ctx, pid)
		}
	}
	return nil
}
