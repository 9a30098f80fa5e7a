package findings

import (
	"sort"

	"github.com/stakeout/stakeout/event"
)

// perHost runs one instance of a detector for each host whose events it
// sees (event.Event.Host), so a flow, a pid or a disk on one host never
// mixes with the same name on another, and a detector written for one
// host needs no change for many. The findings an instance raises carry
// its host. Memory is one detector's bound per host: hosts are what the
// user named (--ssh) or merged, not something the traffic makes.
type perHost struct {
	mk       func() Detector
	produces []string
	hosts    map[string]Detector
	order    []string // hosts in the order first seen
	last     string   // the host of the last event, and its instance:
	lastDet  Detector // most events come from the host before them
}

func newPerHost(mk func() Detector) *perHost {
	first := mk()
	return &perHost{mk: mk, produces: first.Produces(), hosts: map[string]Detector{"": first}, order: []string{""}, lastDet: first}
}

func (p *perHost) Produces() []string { return p.produces }

func (p *perHost) instance(host string) Detector {
	if host == p.last {
		return p.lastDet
	}
	d, ok := p.hosts[host]
	if !ok {
		d = p.mk()
		p.hosts[host] = d
		p.order = append(p.order, host)
	}
	p.last, p.lastDet = host, d
	return d
}

func (p *perHost) Observe(ev event.Event) []event.Event {
	return stampHost(p.instance(ev.Host).Observe(ev), ev.Host)
}

// Finish closes what each host's instance still has open, hosts in the
// order they were first seen.
func (p *perHost) Finish() []event.Event {
	var out []event.Event
	for _, h := range p.order {
		if f, ok := p.hosts[h].(Finisher); ok {
			out = append(out, stampHost(f.Finish(), h)...)
		}
	}
	return out
}

// Hosts lists the hosts seen, sorted; for tests.
func (p *perHost) Hosts() []string {
	out := append([]string(nil), p.order...)
	sort.Strings(out)
	return out
}

func stampHost(evs []event.Event, host string) []event.Event {
	if host == "" {
		return evs
	}
	for i := range evs {
		if evs[i].Host == "" {
			evs[i].Host = host
		}
	}
	return evs
}
