package ui

import (
	"cmp"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
)

// Several hosts on one timeline (issue 17): an event's Host names the host
// it was seen on, "" for the local one (a recording's own host). Each
// probe has a pane on each host, made when that host's first event of the
// probe arrives. Until another host's pane exists nothing here shows: the
// titles, the grid and the strip are a single host's.

// paneKey is what an event is routed by: its host and its probe.
type paneKey struct{ host, probe string }

// paneHosts is how the pane set names and groups the hosts' panes.
type paneHosts struct {
	local  string // the local host's name (Options.Host), sanitized
	named  bool   // another host has a pane: titles name their host
	byHost bool   // grouped by host (G), else by probe, the default
}

// label is how host is written: its name, the local one's from Options.
func (h paneHosts) label(host string) string {
	if host != "" {
		return event.Sanitize(host)
	}
	if h.local != "" {
		return h.local
	}
	return "local"
}

// name is a pane's name in its title: "iostat" on a single host,
// "r1 · iostat" once there are several.
func (h paneHosts) name(s slot) string {
	if !h.named {
		return event.Sanitize(s.probe)
	}
	return h.label(s.host) + " · " + event.Sanitize(s.probe)
}

// short is name without the spaces, for the line that lists the panes
// that do not fit: "r1·kmsg".
func (h paneHosts) short(s slot) string {
	if !h.named {
		return event.Sanitize(s.probe)
	}
	return h.label(s.host) + "·" + event.Sanitize(s.probe)
}

// withLocal names the local host's panes (once there are other hosts).
func (ps paneSet) withLocal(host string) paneSet {
	ps.hosts.local = event.Sanitize(host)
	return ps
}

// Named says another host has panes.
func (ps paneSet) Named() bool { return ps.hosts.named }

// ByHost says the panes are grouped by host.
func (ps paneSet) ByHost() bool { return ps.hosts.byHost }

// compareHosts orders hosts: the local one first, then by name.
func compareHosts(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return -1
	case b == "":
		return 1
	}
	return strings.Compare(a, b)
}

// compare is the panes' order: by probe (paneRank, then the order probes
// this build does not know came in), each probe's hosts together; or, by
// host, each host's probes together.
func (ps paneSet) compare(a, b slot) int {
	probe := cmp.Or(cmp.Compare(paneRank(a.probe), paneRank(b.probe)), cmp.Compare(ps.seq[a.probe], ps.seq[b.probe]))
	host := compareHosts(a.host, b.host)
	if ps.hosts.byHost {
		return cmp.Or(host, probe)
	}
	return cmp.Or(probe, host)
}

// sameGroup says a and b are drawn as one group: the same probe, or by
// host the same host.
func (ps paneSet) sameGroup(a, b slot) bool {
	if ps.hosts.byHost {
		return a.host == b.host
	}
	return a.probe == b.probe
}

func indexSlots(slots []slot) map[paneKey]int {
	idx := make(map[paneKey]int, len(slots))
	for i, s := range slots {
		idx[paneKey{s.host, s.probe}] = i
	}
	return idx
}

// Regroup orders the panes by host (or by probe); the focused pane keeps
// the focus wherever it lands.
func (ps paneSet) Regroup(byHost bool) paneSet {
	if len(ps.slots) == 0 {
		ps.hosts.byHost = byHost
		return ps
	}
	focused := ps.slots[ps.focus]
	ps.hosts.byHost = byHost
	slots := slices.Clone(ps.slots)
	slices.SortStableFunc(slots, ps.compare)
	ps.slots, ps.index = slots, indexSlots(slots)
	ps.focus = ps.index[paneKey{focused.host, focused.probe}]
	return ps
}

// The least width a data pane is given beside the other panes of its
// group; a compact pane (a line saying why it shows nothing) needs less.
const (
	minSideBySide        = 40
	minCompactSideBySide = 24
)

// groupedCells lays out several hosts' panes: a row holds one group's
// panes only (a probe's on every host, or a host's probes), side by side
// when each gets room enough, so the hosts' timelines of one probe sit
// next to each other; compact panes are packed below the data panes, as
// on a single host.
func (ps paneSet) groupedCells() []cell {
	var flex, compact []gridRow
	for a := 0; a < len(ps.slots); {
		b := a + 1
		for b < len(ps.slots) && ps.sameGroup(ps.slots[a], ps.slots[b]) {
			b++
		}
		var fl, co []int
		for i := a; i < b; i++ {
			if ps.slots[i].compactLines(ps.w, ps.env) > 0 {
				co = append(co, i)
			} else {
				fl = append(fl, i)
			}
		}
		flex = append(flex, groupRows(fl, ps.w, minSideBySide, func([]int, int) int { return 0 })...)
		compact = append(compact, groupRows(co, ps.w, minCompactSideBySide, func(panes []int, cw int) int {
			hi := 0
			for _, p := range panes {
				hi = max(hi, ps.slots[p].compactLines(cw-2, ps.env)+2)
			}
			return hi
		})...)
		a = b
	}
	return placeRows(append(flex, compact...), ps.w, ps.h, ps.focus)
}

// groupRows puts one group's panes in rows: all of them side by side when
// each gets at least least cells, else as many columns as the width
// allows. height is a row's height given its panes and their width.
func groupRows(panes []int, w, least int, height func(panes []int, cw int) int) []gridRow {
	if len(panes) == 0 {
		return nil
	}
	cols := columnsFor(w, len(panes))
	if w/len(panes) >= least {
		cols = len(panes)
	}
	var rows []gridRow
	for i := 0; i < len(panes); i += cols {
		row := panes[i:min(i+cols, len(panes))]
		rows = append(rows, gridRow{panes: row, height: height(row, w/len(row))})
	}
	return rows
}

// onHost stamps what a pane of another host asks of the root (to open
// the inspector on a process, to attach to one) with that host, so the
// root never takes its pid for a local one.
func onHost(host string, cmd tea.Cmd) tea.Cmd {
	if cmd == nil || host == "" {
		return cmd
	}
	return func() tea.Msg {
		switch msg := cmd().(type) {
		case inspectAskMsg:
			refs := slices.Clone(msg.refs)
			for i := range refs {
				refs[i].host = host
			}
			msg.refs = refs
			return msg
		case traceAskMsg:
			msg.host = host
			return msg
		default:
			return msg
		}
	}
}
