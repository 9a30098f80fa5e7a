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
	if p.count == 0 && len(p.ifaces) == 0 && len(p.storms) == 0 {
		return st.Muted.Render("waiting for the first packet…")
	}
	lines := p.dropLines()
	room := p.h - len(lines)
	if p.flows.Len() > 0 && room >= 4 {
		// The flows table gets about two fifths, the timeline the rest.
		n := clamp(room*2/5, 2, p.flows.Len()+1)
		lines = append(lines, p.flowTable(n)...)
		room = p.h - len(lines)
	}
	if on := p.storming(); len(on) > 0 && room >= 1 {
		lines = append(lines, p.stormView(on, room)...)
	} else if room >= 2 {
		lines = append(lines, p.timeline(room)...)
	}
	return strings.Join(lines, "\n")
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

// timeline is the newest rows like tcpdump -ttt: Δ since the previous
// packet, flow, TCP flags, length; gap markers stand out.
func (p packetsPane) timeline(n int) []string {
	st := p.env.st
	lines := []string{st.TableHeader.Render(clip(fmt.Sprintf("%-15s %-6s %5s  %s", "Δ (tcpdump -ttt)", "flags", "len", "flow"), p.w))}
	for _, r := range p.last(n - 1) {
		fi := p.info(r.flow)
		if r.gap {
			lines = append(lines, st.Sev(event.Critical).Render(clip(fmt.Sprintf("▲ gap %s (usually %s) %s",
				fmtTTT(r.dt), fmtDur(r.usual), p.label(fi)), p.w)))
			continue
		}
		row := fmt.Sprintf("%-15s %-6s %5d  %s", fmtTTT(r.dt), tcpFlagText(r.flags, fi.Proto), r.len, p.label(fi))
		style := st.Text
		if r.flags&packet.FlagRST != 0 {
			style = st.Sev(event.Warn)
		}
		lines = append(lines, style.Render(clip(row, p.w)))
	}
	return lines
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

// fmtDur prints a short duration: 850µs, 12ms, 1.00s, 3m.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%.0fm", d.Minutes())
	}
	return fmt.Sprintf("%.0fh", d.Hours())
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
