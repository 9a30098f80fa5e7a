package ui

import (
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
)

const (
	pktTimelineRows = 256  // timeline rows kept: more than any screen shows
	pktMaxIfaces    = 16   // interfaces shown in the drops line
	pktKeepBytes    = 2048 // recorded bytes (--payload) kept per row for its detail
	pktFilterRunes  = 512
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
	at     time.Time
	dt     time.Duration // since the previous packet on the timeline (tcpdump -ttt)
	flow   uint32
	flags  uint8
	len    uint32
	gap    bool // a marker row: flow was silent for dt, usually usual
	usual  time.Duration
	link   uint16 // the batch's link type (0: Ethernet)
	data   []byte // the recorded bytes (--payload), a copy of at most pktKeepBytes
	caplen int    // how many bytes were recorded
}

// pktRing keeps the newest rows; row seq n is at n mod its size.
type pktRing struct {
	rows  []pktRow
	count int
}

func newPktRing() pktRing { return pktRing{rows: make([]pktRow, pktTimelineRows)} }

func (r *pktRing) push(row pktRow) {
	r.rows[r.count%len(r.rows)] = row
	r.count++
}

func (r pktRing) span() (int, int)  { return r.count - min(r.count, len(r.rows)), r.count }
func (r pktRing) at(seq int) pktRow { return r.rows[seq%len(r.rows)] }
func (r pktRing) empty() bool       { return r.count == 0 }
func (r pktRing) kept() int         { return min(r.count, len(r.rows)) }

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
	paneBase
	keys   packetsKeys
	flows  *packet.FlowTable
	all    pktRing    // the newest timeline rows
	shown  pktRing    // those the view filter passes, while one is set
	filt   *pktFilter // f: the view filter; nil shows every row
	finput gotoInput  // the filter line while it is being typed
	tl     timeline
	detail *pktDetail // the packet opened with enter, nil for none
	lastAt time.Time  // previous packet on the timeline
	ifaces []pktIface
	sort   pktSort
	now    time.Time // latest event time: capture_stats tick on while a flow is silent
	iface  string    // the first interface seen; multi once another shows up
	multi  bool      // flows are then labelled with their interface
	storms []pktStorm
}

type packetsKeys struct{ Sort, Filter key.Binding }

func init() { registerPane("packets", newPacketsPane) }

func newPacketsPane(env paneEnv) Pane {
	k := packetsKeys{
		Sort:   key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "packets: sort flows by pps, gap, RSTs")),
		Filter: key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "packets: filter the timeline (tcpdump syntax; the capture keeps all)")),
	}
	in := newGotoInput()
	in.limit = pktFilterRunes
	return packetsPane{
		paneBase: newTimelineBase(env, k.Sort, k.Filter, pktDetailKeys.Open, pktDetailKeys.Close),
		keys:     k,
		flows:    packet.NewFlowTable(packet.MaxTrackedFlows),
		all:      newPktRing(),
		finput:   in,
		tl:       newTimeline(),
	}
}

// Reset keeps the sort order, whether flows are named by interface, the
// view filter, the search and a packet open (it is a copy).
func (p packetsPane) Reset() Pane {
	fresh := newPacketsPane(p.env).(packetsPane)
	fresh.sort, fresh.multi, fresh.filt, fresh.tl.query, fresh.detail = p.sort, p.multi, p.filt, p.tl.query, p.detail
	if p.filt != nil {
		fresh.shown = newPktRing()
	}
	return fresh
}

func (p packetsPane) Update(msg tea.KeyPressMsg) (Pane, tea.Cmd) {
	switch {
	case p.detail != nil:
		p = p.updateDetail(msg)
	case key.Matches(msg, pktDetailKeys.Open) && p.tl.pinned:
		p = p.openDetail()
	case p.finput.Active():
		var submit bool
		if p.finput, submit = p.finput.Update(msg); submit {
			p = p.setFilter(strings.TrimSpace(p.finput.value))
		}
	case key.Matches(msg, p.keys.Filter):
		p.finput = p.finput.Open()
		if p.filt != nil {
			p.finput.value = p.filt.expr
		}
	case key.Matches(msg, p.keys.Sort):
		p.sort = (p.sort + 1) % pktSorts
	default:
		p.tl, _ = p.tl.Update(msg, p.view(), p.room())
	}
	return p, nil
}

// setFilter applies a view filter typed with f ("" removes it). A bad
// expression keeps the line open with its error, and the filter in force.
func (p packetsPane) setFilter(expr string) packetsPane {
	if expr == "" {
		p.filt, p.shown = nil, pktRing{}
		p.finput = p.finput.Close()
		p.tl.pinned = false
		return p
	}
	f, err := newPktFilter(expr)
	if err != nil {
		p.finput = p.finput.Fail(err)
		return p
	}
	p.filt, p.shown = f, newPktRing()
	from, to := p.all.span()
	for seq := from; seq < to; seq++ {
		if r := p.all.at(seq); f.match(p.info(r.flow), r, r.link) {
			p.shown.push(r)
		}
	}
	p.finput = p.finput.Close()
	p.tl.pinned = false
	return p
}

func (p packetsPane) Marks() []paneMark {
	return []paneMark{
		{"▲", "packets: a periodic flow silent past its usual interval (flows), the silence before a packet (timeline)"},
		{"[S.]", "packets: TCP flags as tcpdump writes them: S SYN, F FIN, P PSH, R RST, U URG, . ACK"},
	}
}

func (p packetsPane) Claims(msg tea.KeyPressMsg) bool {
	switch {
	case p.detail != nil:
		return p.detailClaims(msg)
	case key.Matches(msg, pktDetailKeys.Open):
		return p.tl.pinned // else enter zooms the pane
	}
	return p.Editing() || key.Matches(msg, p.keys.Filter) || p.tl.Claims(msg)
}
func (p packetsPane) Editing() bool { return p.finput.Active() || p.tl.Editing() }

// Paste adds pasted text to the filter or search line being typed.
func (p packetsPane) Paste(s string) Pane {
	if p.finput.Active() {
		p.finput = p.finput.Insert(s)
	} else {
		p.tl = p.tl.Paste(s)
	}
	return p
}
func (p packetsPane) Scroll(n int) Pane { p.tl = p.tl.Scroll(n, p.view(), p.room()); return p }

// ShowMoment selects the last row shown (through the view filter, if one
// is set) at or before t, closing a packet left open: g from an opened
// finding.
func (p packetsPane) ShowMoment(t time.Time) Pane {
	rows := p.view()
	first, end := rows.span()
	seq := seqAt(first, end, func(seq int) time.Time { return rows.ring.at(seq).at }, t)
	p.detail = nil
	p.tl = p.tl.Select(seq, rows, p.room())
	return p
}

// view is the rows the timeline shows: those the filter passes, or all.
func (p packetsPane) view() pktRows {
	if p.filt != nil {
		return pktRows{p: p, ring: p.shown}
	}
	return pktRows{p: p, ring: p.all}
}

// pktRows is a ring of rows as the timeline scrolls and searches it.
type pktRows struct {
	p    packetsPane
	ring pktRing
}

func (r pktRows) span() (int, int)    { return r.ring.span() }
func (r pktRows) text(seq int) string { return r.p.rowText(r.ring.at(seq)) }

// Apply updates the pane in place: the flow table and the ring are the
// pane's own and only ever touched from the UI goroutine, and copying them
// per event would cost more than the packets themselves at flood rates.
func (p packetsPane) Apply(ev event.Event) Pane {
	if ev.Time.After(p.now) {
		p.now = ev.Time
	}
	if st, ok := event.As[packet.CaptureStats](ev); ok {
		p.ifaces = applyCaptureStats(p.ifaces, st)
		return p
	}
	if st, ok := event.As[packet.Storm](ev); ok {
		p.storms = applyStorm(p.storms, st, ev.Time)
		return p
	}
	if b, ok := event.As[packet.PacketBatch](ev); ok {
		if p.iface == "" {
			p.iface = b.Iface
		}
		p.multi = p.multi || b.Iface != p.iface
	}
	b, _ := event.As[packet.PacketBatch](ev)
	i := 0
	p.flows.Observe(ev, func(pk packet.Packet, a packet.Arrival) {
		var dt time.Duration
		if !p.lastAt.IsZero() {
			dt = pk.Time.Sub(p.lastAt)
		}
		p.lastAt = pk.Time
		if a.Unusual {
			p.push(pktRow{at: pk.Time, dt: a.Gap, flow: pk.Flow, gap: true, usual: a.Usual})
		}
		row := pktRow{at: pk.Time, dt: dt, flow: pk.Flow, flags: pk.Flags, len: pk.Len, link: b.LinkType}
		// Only the batch's last rows can stay on the timeline: copy their
		// bytes (the batch goes back to the capture's pool after Apply).
		if i < len(b.Data) && i >= b.N()-pktTimelineRows && len(b.Data[i]) > 0 {
			d := b.Data[i]
			row.data, row.caplen = append([]byte(nil), d[:min(len(d), pktKeepBytes)]...), len(d)
		}
		i++
		p.push(row)
	})
	return p
}

func (p *packetsPane) push(r pktRow) {
	p.all.push(r)
	if p.filt != nil && p.filt.match(p.info(r.flow), r, r.link) {
		p.shown.push(r)
	}
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
