package ui

import (
	"fmt"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// countPane counts what it is given and nothing else (a pointer: applying
// allocates nothing), so a benchmark over it measures what routing an
// event to its pane costs.
type countPane struct {
	paneBase
	n int
}

func (p *countPane) Apply(event.Event) Pane { p.n++; return p }
func (p *countPane) View() string           { return "" }

var routeBenchProbes = func() []string {
	var names []string
	for i := range 8 {
		names = append(names, fmt.Sprintf("routebench%d", i))
	}
	return names
}()

// countPanes gives the benchmark's probes a countPane for as long as it
// runs (they are no probes of the catalog: TestEveryPaneRegistersItself).
func countPanes(b *testing.B) {
	for _, p := range routeBenchProbes {
		registerPane(p, func(env paneEnv) Pane { return &countPane{paneBase: newPaneBase(env)} })
	}
	b.Cleanup(func() {
		for _, p := range routeBenchProbes {
			delete(paneFactories, p)
		}
	})
}

// routeEvents are events of eight probes on each of hosts hosts, the
// local one first, in a round over every (host, probe).
func routeEvents(hosts int) []event.Event {
	var evs []event.Event
	for h := range hosts {
		host := ""
		if h > 0 {
			host = fmt.Sprintf("r%d", h)
		}
		for _, p := range routeBenchProbes {
			ev := event.New(t0, p, &schema.ConntrackSample{Count: 1, Max: 2, IntervalS: 1})
			ev.Host = host
			evs = append(evs, ev)
		}
	}
	return evs
}

// BenchmarkRouteHosts: the UI's cost per event, by how many hosts (of
// eight probes each) send them: panes.Apply alone (routing) and the
// root's whole path for a batch (status line, strip, routing). Neither
// should grow with the hosts: an event finds its pane by one map lookup.
//
//	go test ./ui -run '^$' -bench RouteHosts -count 5
func BenchmarkRouteHosts(b *testing.B) {
	countPanes(b)
	for _, hosts := range []int{1, 50} {
		evs := routeEvents(hosts)
		o := testOptions()
		o.Probes = routeBenchProbes
		m := NewLive(o)
		m = m.apply(evs) // every pane made
		if m.panes.Len() != hosts*8 {
			b.Fatalf("%d panes for %d hosts", m.panes.Len(), hosts)
		}
		b.Run(fmt.Sprintf("panes/hosts=%d", hosts), func(b *testing.B) {
			ps := m.panes
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				ps = ps.Apply(evs[i%len(evs)])
			}
		})
		b.Run(fmt.Sprintf("model/hosts=%d", hosts), func(b *testing.B) {
			const batch = 400 // a batch spans every pane of 50 hosts
			msg := make(EventsMsg, batch)
			for i := range msg {
				msg[i] = evs[i%len(evs)]
				msg[i].Time = t0.Add(time.Duration(i) * time.Millisecond)
			}
			mm := m
			b.ReportAllocs()
			for b.Loop() {
				mm = mm.apply(msg)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/event")
		})
	}
}
