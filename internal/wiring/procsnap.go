package wiring

import (
	"context"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/probes"
	"github.com/stakeout/stakeout/schema"
)

// autoSnapshots records a process_snapshot of the live process a finding
// names, at once (findings.ProcessSnapshots says which findings and how
// often). The engine hands it each finding (observe, its OnFinding) and
// never waits on /proc: the reading is done by run, on a goroutine of its
// own, which injects the snapshot into the engine like a note.
type autoSnapshots struct {
	procfs string
	rule   *findings.ProcessSnapshots // engine goroutine only
	reqs   chan snapRequest
}

type snapRequest struct {
	pid int
	key string // the finding's condition
}

// snapQueue bounds the reads waiting: past it, a finding's snapshot is
// skipped rather than making the engine wait.
const snapQueue = 8

func newAutoSnapshots(procfs string) *autoSnapshots {
	return &autoSnapshots{procfs: procfs, rule: findings.NewProcessSnapshots(), reqs: make(chan snapRequest, snapQueue)}
}

// observe is the engine's OnFinding: it never blocks. A finding about
// another host's process gets no snapshot: only this host's /proc is here.
func (a *autoSnapshots) observe(ev event.Event) {
	if ev.Host != "" {
		return
	}
	ref, ok := a.rule.Want(ev, time.Now())
	if !ok {
		return
	}
	f, _ := event.As[event.Finding](ev)
	select {
	case a.reqs <- snapRequest{pid: ref.PID, key: f.Key}:
	default:
	}
}

// run reads each requested process and injects its snapshot, until ctx
// is done. A process gone by then gets none.
func (a *autoSnapshots) run(ctx context.Context, inject func(context.Context, event.Event) error) {
	for {
		select {
		case r := <-a.reqs:
			at := time.Now()
			s, err := probes.ReadProcess(a.procfs, r.pid)
			if err != nil {
				continue
			}
			s.Finding = r.key
			s.Bound()
			if inject(ctx, event.New(at, schema.ProbeProcess, s)) != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}
