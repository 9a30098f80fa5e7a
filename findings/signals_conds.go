package findings

import (
	"time"

	"github.com/stakeout/stakeout/event"
)

// signalQuiet is how long a signal condition lasts after its latest
// occurrence: the same trouble for the same process (a burst of one signal,
// a storm of it, an exec race) or, for process.killed, the same command
// killed by the same signal again within a minute is the same condition,
// counted and updated rather than raised again. A minute without one
// clears it.
const signalQuiet = time.Minute

// signalCondKey names the condition a signal finding belongs to.
func signalCondKey(f *event.Finding) string {
	switch d := f.Data.(type) {
	case SignalBurstData:
		return condKey(f.Finding, d.PID, d.Signal)
	case SignalStormData:
		return condKey(f.Finding, d.PID, d.Signal)
	case ExecRaceData:
		return condKey(f.Finding, d.PID, d.Signal)
	case ProcessKilledData:
		return condKey(f.Finding, d.Comm, d.Signal)
	}
	return condKey(f.Finding)
}

// conditions turns the rules' findings at time at into the events to emit:
// first the clears of conditions quiet for signalQuiet, then each finding
// as a raise, an update or nothing. A burst reported again when it ends
// (it grew past the two signals it was raised at) is the same occurrence
// with new figures, not a new one. Every one is the signals probe's, the
// probe its events came from, whichever event's time let it out (a burst
// ends at the next event of any probe).
func (d *signals) conditions(at time.Time, fs []*event.Finding) []event.Event {
	const probe = "signals"
	var out []event.Event
	for _, f := range d.c.sweep(at) {
		out = append(out, event.New(at, probe, f))
	}
	for _, f := range fs {
		f.Key = signalCondKey(f)
		if b, ok := f.Data.(SignalBurstData); ok && b.Count > 2 {
			f = d.c.restate(at, f, burstGrew)
		} else {
			f = d.c.hold(at, f, nil)
		}
		if f != nil {
			out = append(out, event.New(at, probe, f))
		}
	}
	return out
}

func burstGrew(prev, cur *event.Finding) bool {
	p, pok := prev.Data.(SignalBurstData)
	c, cok := cur.Data.(SignalBurstData)
	return pok && cok && c.Count > p.Count
}
