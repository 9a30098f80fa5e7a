package schema

import (
	"sort"
	"sync"
)

// ProbeInfo is what every reader of a recording knows of a probe without
// its collector: its name, its place among the panes and how its events are
// summed up. Each probe's schema file registers one; the collector side
// (package probes) adds the code that reads the kernel.
type ProbeInfo struct {
	Name string // the probe's name in --probes and in every event's "probe" field
	// Rank orders the panes and the README's --probes list, lowest first.
	Rank int
	// Summary condenses the probe's events for `snapshot` and `report`;
	// nil if the probe has none.
	Summary func() Summarizer
	// Kinds are the kinds of the probe's events. The handoff report
	// charts a probe by the kinds that plot themselves (event.Plotter),
	// and counts the events of a probe none of whose kinds does.
	Kinds []string
}

var catalog struct {
	sync.Mutex
	probes []ProbeInfo
}

// RegisterProbe adds a probe to the catalog; call it from an init function.
// A second registration of a name replaces the first.
func RegisterProbe(p ProbeInfo) {
	catalog.Lock()
	defer catalog.Unlock()
	for i := range catalog.probes {
		if catalog.probes[i].Name == p.Name {
			catalog.probes[i] = p
			return
		}
	}
	catalog.probes = append(catalog.probes, p)
	sort.SliceStable(catalog.probes, func(i, j int) bool { return catalog.probes[i].Rank < catalog.probes[j].Rank })
}

// Probes lists the registered probes in pane order.
func Probes() []ProbeInfo {
	catalog.Lock()
	defer catalog.Unlock()
	return append([]ProbeInfo(nil), catalog.probes...)
}

// ProbeNames lists the registered probe names in pane order.
func ProbeNames() []string {
	ps := Probes()
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

// LookupProbe finds a registered probe by name.
func LookupProbe(name string) (ProbeInfo, bool) {
	for _, p := range Probes() {
		if p.Name == name {
			return p, true
		}
	}
	return ProbeInfo{}, false
}
