package ui

import (
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
)

const (
	pktTimelineRows = 256 // timeline rows kept: more than any screen shows
	pktMaxIfaces    = 16  // interfaces shown in the drops line
)

// pktSort is the flows table's order.
type pktSort int

const (
	byPPS pktSort = iota
	byGap
	byRST
	pktSorts
)

var pktSortNames = [...]string{"pps", "gap", "rst"}

// pktRow is one timeline line: a packet, or the gap marker before one.
type pktRow struct {
	dt    time.Duration // since the previous packet on the timeline (tcpdump -ttt)
	flow  uint32
	flags uint8
	len   uint32
	gap   bool // a marker row: flow was silent for dt, usually usual
	usual time.Duration
}

// pktIface is the drops line's data for one interface, from capture_stats.
type pktIface struct {
	name                  string
	pps, bps              float64
	drops, freezes, total uint64 // drops and freezes since capture start
}

// packetsPane is the packet timeline: kernel drops per interface, a flows
// table and a tcpdump -ttt style timeline with gap rows marked. It keeps
// its own flow table (bounded), fed from events only, so a replay looks the
// same as live.
type packetsPane struct {
	env    paneEnv
	w, h   int
	keys   packetsKeys
	flows  *packet.FlowTable
	rows   []pktRow // ring of the newest timeline rows
	next   int
	count  int
	lastAt time.Time // previous packet on the timeline
	ifaces []pktIface
	sort   pktSort
	now    time.Time // latest event time: capture_stats tick on while a flow is silent
	iface  string    // the first interface seen; multi once another shows up
	multi  bool      // flows are then labelled with their interface
	storms []pktStorm
}

type packetsKeys struct{ Sort key.Binding }

func (k packetsKeys) ShortHelp() []key.Binding  { return []key.Binding{k.Sort} }
func (k packetsKeys) FullHelp() [][]key.Binding { return [][]key.Binding{{k.Sort}} }

func newPacketsPane(env paneEnv) Pane {
	return packetsPane{
		env:   env,
		keys:  packetsKeys{Sort: key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "packets: sort flows by pps, gap, RSTs"))},
		flows: packet.NewFlowTable(packet.MaxTrackedFlows),
		rows:  make([]pktRow, pktTimelineRows),
	}
}

func (p packetsPane) ShortHelp() []key.Binding  { return p.keys.ShortHelp() }
func (p packetsPane) FullHelp() [][]key.Binding { return p.keys.FullHelp() }
func (p packetsPane) SetSize(w, h int) Pane     { p.w, p.h = w, h; return p }

func (p packetsPane) Reset() Pane {
	fresh := newPacketsPane(p.env).(packetsPane)
	fresh.w, fresh.h, fresh.sort, fresh.multi = p.w, p.h, p.sort, p.multi
	return fresh
}

func (p packetsPane) Update(msg tea.KeyPressMsg) (Pane, tea.Cmd) {
	if key.Matches(msg, p.keys.Sort) {
		p.sort = (p.sort + 1) % pktSorts
	}
	return p, nil
}

// Apply updates the pane in place: the flow table and the ring are the
// pane's own and only ever touched from the UI goroutine, and copying them
// per event would cost more than the packets themselves at flood rates.
func (p packetsPane) Apply(ev event.Event) Pane {
	if ev.Time.After(p.now) {
		p.now = ev.Time
	}
	if st, ok := packet.AsCaptureStats(ev); ok {
		p.ifaces = applyCaptureStats(p.ifaces, st)
		return p
	}
	if st, ok := event.As[packet.Storm](ev); ok {
		p.storms = applyStorm(p.storms, st, ev.Time)
		return p
	}
	if b, ok := packet.AsPacketBatch(ev); ok {
		if p.iface == "" {
			p.iface = b.Iface
		}
		p.multi = p.multi || b.Iface != p.iface
	}
	p.flows.Observe(ev, func(pk packet.Packet, a packet.Arrival) {
		var dt time.Duration
		if !p.lastAt.IsZero() {
			dt = pk.Time.Sub(p.lastAt)
		}
		p.lastAt = pk.Time
		if a.Unusual {
			p.push(pktRow{dt: a.Gap, flow: pk.Flow, gap: true, usual: a.Usual})
		}
		p.push(pktRow{dt: dt, flow: pk.Flow, flags: pk.Flags, len: pk.Len})
	})
	return p
}

func (p *packetsPane) push(r pktRow) {
	p.rows[p.next] = r
	p.next = (p.next + 1) % len(p.rows)
	p.count++
}

// last returns up to n newest rows, oldest first.
func (p packetsPane) last(n int) []pktRow {
	n = min(n, p.count, len(p.rows))
	out := make([]pktRow, n)
	for i := range n {
		out[i] = p.rows[(p.next-n+i+2*len(p.rows))%len(p.rows)]
	}
	return out
}

func applyCaptureStats(ifs []pktIface, st *packet.CaptureStats) []pktIface {
	i := 0
	for i < len(ifs) && ifs[i].name != st.Iface {
		i++
	}
	if i == len(ifs) {
		if len(ifs) >= pktMaxIfaces {
			return ifs
		}
		ifs = append(append([]pktIface(nil), ifs...), pktIface{name: st.Iface})
	} else {
		ifs = append([]pktIface(nil), ifs...)
	}
	f := &ifs[i]
	if st.IntervalS > 0 {
		f.pps, f.bps = float64(st.Seen)/st.IntervalS, float64(st.Bytes)/st.IntervalS
	}
	f.drops = event.AddCount(f.drops, st.Drops)
	f.freezes = event.AddCount(f.freezes, st.Freezes)
	f.total = event.AddCount(f.total, st.Packets)
	return ifs
}
