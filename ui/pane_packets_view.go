package ui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
)

func (p packetsPane) View() string {
	st := p.env.st
	if p.all.empty() && len(p.ifaces) == 0 && len(p.storms) == 0 {
		return st.Muted.Render("waiting for the first packet…")
	}
	if p.detail != nil {
		return p.detailView()
	}
	lines := p.dropLines()
	flowN, tlN := p.layout(len(lines))
	if flowN > 0 {
		lines = append(lines, p.flowTable(flowN)...)
	}
	if on := p.storming(); len(on) > 0 && tlN >= 1 {
		lines = append(lines, p.stormView(on, tlN)...)
	} else if tlN >= 2 {
		lines = append(lines, p.timeline(tlN)...)
	}
	return strings.Join(lines, "\n")
}

// layout splits the room under the drops lines: the flows table gets about
// two fifths, the timeline (its header included) the rest.
func (p packetsPane) layout(drops int) (flowN, tlN int) {
	room := p.h - drops
	if p.flows.Len() > 0 && room >= 4 {
		flowN = clamp(room*2/5, 2, p.flows.Len()+1)
		room -= flowN
	}
	return flowN, room
}

// room is how many timeline rows the pane draws at its size.
func (p packetsPane) room() int {
	_, n := p.layout(len(p.dropLines()))
	n -= 1 + len(p.footer()) // the header, the footer
	return max(n, 0)
}

// footer is the lines under the timeline: the filter being typed (and why
// it was refused, wrapped on up to two lines), else the search's and
// scroll's line, if any.
func (p packetsPane) footer() []string {
	st := p.env.st
	if p.finput.Active() {
		l := st.Prompt.Render("filter ›") + " " + st.Text.Render(event.Sanitize(p.finput.value)) + st.BarCursor.Render("▏")
		if p.finput.err == "" {
			return []string{clip(l+st.Muted.Render("  tcpdump syntax, empty for none · enter apply · esc cancel"), p.w)}
		}
		out := []string{clip(l+st.Muted.Render("  esc keeps the filter in force"), p.w)}
		for _, e := range wrap(event.Sanitize(p.finput.err), p.w, 2) {
			out = append(out, st.Error.Render(e))
		}
		return out
	}
	if f := p.tl.footer(p.view(), p.env, p.w); f != "" {
		return []string{f}
	}
	return nil
}

// dropLines is one line per interface: rate and the kernel's drop counts,
// which tcpdump only prints at exit.
func (p packetsPane) dropLines() []string {
	st := p.env.st
	var out []string
	for i, f := range p.ifaces {
		if i >= 3 && len(p.ifaces) > 4 {
			out = append(out, st.Muted.Render(fmt.Sprintf("+%d more interfaces", len(p.ifaces)-i)))
			break
		}
		drops := fmt.Sprintf("kernel drops %d", f.drops)
		ds := st.Muted
		if f.drops > 0 {
			ds = st.Sev(event.Warn)
			drops = fmt.Sprintf("kernel drops %d of %d", f.drops, f.total)
		}
		head := fmt.Sprintf("%s %s pkt/s %s · ", event.Sanitize(f.name), fmtSI(f.pps), fmtBytes(event.SatInt64(f.bps))+"/s")
		out = append(out, clip(head+ds.Render(drops)+st.Muted.Render(fmt.Sprintf(" · freezes %d", f.freezes)), p.w))
	}
	return out
}

// flowTable is a header and n-1 flows in the chosen order.
func (p packetsPane) flowTable(n int) []string {
	st := p.env.st
	now := p.now
	if p.flows.Last.After(now) {
		now = p.flows.Last
	}
	fl := p.flows.Flows()
	rates := make(map[uint32][2]float64, len(fl))
	for _, f := range fl {
		pps, bps := f.Rate(now)
		rates[f.Info.ID] = [2]float64{pps, bps}
	}
	sort.Slice(fl, func(i, j int) bool {
		a, b := fl[i], fl[j]
		switch p.sort {
		case byGap:
			if a.MaxGap != b.MaxGap {
				return a.MaxGap > b.MaxGap
			}
		case byRST:
			if a.RST != b.RST {
				return a.RST > b.RST
			}
		}
		if ra, rb := rates[a.Info.ID][0], rates[b.Info.ID][0]; ra != rb {
			return ra > rb
		}
		if !a.Last.Equal(b.Last) {
			return a.Last.After(b.Last)
		}
		return a.Info.ID < b.Info.ID
	})
	const numW = 7 + 8 + 7 + 8 + 8 + 4 // pps, bps, last, usual, maxgap, rst
	fw := max(p.w-numW, 12)
	head := fit(fmt.Sprintf("flows by %s (o)", pktSortNames[p.sort]), fw) +
		fmt.Sprintf("%7s%8s%7s%8s%8s%4s", "pps", "B/s", "ago", "usual", "maxgap", "rst")
	lines := []string{st.TableHeader.Render(clip(head, p.w))}
	for i, f := range fl {
		if i >= n-1 {
			break
		}
		usual, periodic := f.Usual(p.flows.Rule)
		us := "-"
		if periodic {
			us = fmtDur(usual)
		}
		r := rates[f.Info.ID]
		label, silent := p.label(f.Info), p.silent(f, now, usual, periodic)
		if silent {
			label = "▲ " + label
		}
		row := fit(label, fw) + fmt.Sprintf("%7s%8s%7s%8s%8s%4d",
			fmtSI(r[0]), fmtSI(r[1]), fmtDur(now.Sub(f.Last)), us, fmtDur(f.MaxGap), f.RST)
		style := st.Text
		if f.RST > 0 {
			style = st.Sev(event.Warn)
		}
		if silent {
			// A periodic flow overdue now, before its next packet can
			// make it a packet.gap: the VRRP master may be gone.
			style = st.Sev(event.Critical)
		}
		lines = append(lines, style.Render(clip(row, p.w)))
	}
	return lines
}

// silent: a periodic flow has been quiet for as long as a gap that the
// detector would report (a closed TCP connection never is).
func (p packetsPane) silent(f *packet.FlowStats, now time.Time, usual time.Duration, periodic bool) bool {
	return periodic && !f.Closed() && now.Sub(f.Last) >= p.flows.Rule.Threshold(usual)
}

// timeline is n lines like tcpdump -ttt, under a header: Δ since the
// previous packet, flow, TCP flags, length; gap markers stand out. It shows
// the newest rows (that the filter passes), or those around the selected one.
func (p packetsPane) timeline(n int) []string {
	st := p.env.st
	head := fmt.Sprintf("%-12s %-15s %-6s %5s  %s", "TIME", "Δ (tcpdump -ttt)", "flags", "len", "flow")
	if p.filt != nil {
		head += " · filter: " + event.Sanitize(p.filt.expr)
	}
	lines := []string{st.TableHeader.Render(clip(head, p.w))}
	rows := p.view()
	from, to := p.tl.window(rows, p.room())
	switch {
	case p.filt != nil && rows.ring.empty():
		lines = append(lines, st.Muted.Render(clip(fmt.Sprintf("none of the last %d packets passes the filter (f to change it)", p.all.kept()), p.w)))
	case rows.ring.empty():
		lines = append(lines, st.Muted.Render(clip(fmt.Sprintf("no packet captured yet on %s (the capture's --filter decides which)", p.ifaceNames()), p.w)))
	}
	for seq := from; seq < to; seq++ {
		r := rows.ring.at(seq)
		style := st.Text
		switch {
		case r.gap:
			style = st.Sev(event.Critical)
		case r.flags&packet.FlagRST != 0:
			style = st.Sev(event.Warn)
		}
		lines = append(lines, p.tl.render(seq, clip(p.rowText(r), p.w), style, p.env))
	}
	return append(lines, p.footer()...)
}

// rowText is a timeline row as shown, unclipped: the clock, then Δ.
func (p packetsPane) rowText(r pktRow) string {
	fi := p.info(r.flow)
	clock := r.at.In(p.env.loc).Format("15:04:05.000")
	if r.gap {
		return fmt.Sprintf("%s ▲ gap %s (usually %s) %s", clock, fmtTTT(r.dt), fmtDur(r.usual), p.label(fi))
	}
	return fmt.Sprintf("%s %-15s %-6s %5d  %s", clock, fmtTTT(r.dt), tcpFlagText(r.flags, fi.Proto), r.len, p.label(fi))
}

// ifaceNames lists the interfaces capture_stats named, for an empty timeline.
func (p packetsPane) ifaceNames() string {
	names := make([]string, 0, len(p.ifaces))
	for _, f := range p.ifaces {
		names = append(names, event.Sanitize(f.name))
	}
	if len(names) == 0 {
		return "any interface"
	}
	return strings.Join(names, ", ")
}

func (p packetsPane) info(id uint32) packet.FlowInfo {
	if f := p.flows.Get(id); f != nil {
		return f.Info
	}
	return packet.FlowInfo{ID: id}
}

// label is "proto src > dst", after the interface when several are
// captured, sanitized: addresses and names came from the wire or a file.
func (p packetsPane) label(fi packet.FlowInfo) string {
	s := fi.String()
	if fi.Proto != "" {
		s = fi.Proto + " " + s
	}
	if p.multi && fi.Iface != "" {
		s = fi.Iface + " " + s
	}
	return event.Sanitize(s)
}

// fmtSI prints a rate in at most 6 cells: 950, 12.5k, 18.1M, 1.2G.
func fmtSI(v float64) string {
	switch {
	case v < 1000:
		return fmt.Sprintf("%.0f", v)
	case v < 1e6:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v < 1e9:
		return fmt.Sprintf("%.1fM", v/1e6)
	}
	return fmt.Sprintf("%.1fG", v/1e9)
}

// fmtTTT prints a delta as tcpdump -ttt does: 00:00:01.000123.
func fmtTTT(d time.Duration) string {
	if d < 0 {
		return "-" + fmtTTT(-d)
	}
	us := d.Microseconds()
	return fmt.Sprintf("%02d:%02d:%02d.%06d", us/3600e6, us/60e6%60, us/1e6%60, us%1e6)
}

// tcpFlagText is tcpdump's notation: [S], [S.], [P.], [R], [F.], [.].
func tcpFlagText(f uint8, proto string) string {
	if proto != "tcp" {
		return ""
	}
	var b strings.Builder
	b.WriteByte('[')
	for _, c := range []struct {
		bit uint8
		ch  byte
	}{{packet.FlagSYN, 'S'}, {packet.FlagFIN, 'F'}, {packet.FlagPSH, 'P'}, {packet.FlagRST, 'R'}, {packet.FlagURG, 'U'}, {packet.FlagECE, 'E'}, {packet.FlagCWR, 'W'}} {
		if f&c.bit != 0 {
			b.WriteByte(c.ch)
		}
	}
	if f&packet.FlagACK != 0 {
		b.WriteByte('.')
	}
	b.WriteByte(']')
	return b.String()
}
