package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
)

// pktDetail is the packet a detail view was opened on (Enter on a selected
// row): its decoded layers, one block each, and its bytes in hex when they
// were recorded (--payload); otherwise what the record holds.
type pktDetail struct {
	row pktRow
	fi  packet.FlowInfo
	top int // first line drawn
}

var pktDetailKeys = struct{ Open, Close key.Binding }{
	Open:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "packets: open the selected packet (layers, hex)")),
	Close: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "packets: close the packet")),
}

// ShowsDetail says the pane draws one packet; the pane set zooms it then.
func (p packetsPane) ShowsDetail() bool { return p.detail != nil }

// openDetail opens the selected row, if a row is selected.
func (p packetsPane) openDetail() packetsPane {
	rows := p.view()
	first, end := rows.span()
	if !p.tl.pinned || p.tl.cursor < first || p.tl.cursor >= end {
		return p
	}
	r := rows.ring.at(p.tl.cursor)
	p.detail = &pktDetail{row: r, fi: p.info(r.flow)}
	return p
}

// updateDetail scrolls the detail view, or closes it.
func (p packetsPane) updateDetail(msg tea.KeyPressMsg) packetsPane {
	d := *p.detail
	k, page := timelineKeys, max(p.h-1, 1)
	switch {
	case key.Matches(msg, pktDetailKeys.Close), key.Matches(msg, pktDetailKeys.Open):
		p.detail = nil
		return p
	case key.Matches(msg, k.Up):
		d.top--
	case key.Matches(msg, k.Down):
		d.top++
	case key.Matches(msg, k.PgUp):
		d.top -= page
	case key.Matches(msg, k.PgDown):
		d.top += page
	case key.Matches(msg, k.Home):
		d.top = 0
	case key.Matches(msg, k.End):
		d.top = len(p.detailLines(d)) // clamped below
	}
	d.top = clamp(d.top, 0, max(len(p.detailLines(d))-page, 0))
	p.detail = &d
	return p
}

// detailClaims: with a packet open, its keys are the pane's.
func (p packetsPane) detailClaims(msg tea.KeyPressMsg) bool {
	k := timelineKeys
	return key.Matches(msg, pktDetailKeys.Open, pktDetailKeys.Close, k.Up, k.Down, k.PgUp, k.PgDown, k.Home, k.End)
}

func (p packetsPane) detailView() string {
	d := *p.detail
	lines := p.detailLines(d)
	page := max(p.h-1, 0)
	top := clamp(d.top, 0, max(len(lines)-page, 0))
	st := p.env.st
	more := ""
	if n := len(lines) - top - page; n > 0 {
		more = fmt.Sprintf(" · %d more lines (↓ pgdn)", n)
	}
	head := st.TableHeader.Render(clip("packet · esc back"+more, p.w))
	return strings.Join(append([]string{head}, lines[top:min(len(lines), top+page)]...), "\n")
}

// detailLines is the whole detail, wrapped to the pane's width.
func (p packetsPane) detailLines(d pktDetail) []string {
	st, w, r := p.env.st, max(p.w, 10), d.row
	var out []string
	say := func(s string) { out = append(out, clip(s, w)) }
	when := r.at.In(p.env.loc).Format("2006-01-02 15:04:05.000000")
	if r.gap {
		say(st.Sev(event.Critical).Render(fmt.Sprintf("a silence, not a packet: %s went %s without a packet (usually %s), until %s",
			p.label(d.fi), fmtTTT(r.dt), fmtDur(r.usual), when)))
		return out
	}
	where := ""
	if d.fi.Iface != "" {
		where = " on " + event.Sanitize(d.fi.Iface)
	}
	say(st.Accent.Render(fmt.Sprintf("%s%s · %d bytes on the wire", when, where, r.len)) +
		st.Muted.Render(fmt.Sprintf(" · %s after the previous packet", fmtTTT(r.dt))))
	if r.data == nil {
		out = append(out, p.recordLines(d, w)...)
		return out
	}
	for _, l := range packet.Describe(r.data, r.link) {
		out = append(out, p.layerLines(l, w)...)
	}
	kept := fmt.Sprintf("hex · %d bytes recorded", r.caplen)
	if len(r.data) < r.caplen {
		kept += fmt.Sprintf(", the first %d kept by the pane", len(r.data))
	}
	out = append(out, "", st.TableHeader.Render(clip(kept, w)))
	per := 16
	if w < 4+2+40+1+16 {
		per = 8
	}
	for _, h := range packet.Hex(r.data, per) {
		say(h)
	}
	return out
}

// layerLines is one layer's block: its name and size, then its fields,
// as many to a line as fit.
func (p packetsPane) layerLines(l packet.Layer, w int) []string {
	st := p.env.st
	indent := ""
	name := l.Name
	if l.Quoted {
		indent, name = "  ", "quoted "+name
	}
	head := fmt.Sprintf("%s▸ %s · %d bytes at %d", indent, event.Sanitize(name), l.Len, l.Off)
	out := []string{st.Accent.Render(clip(head, w))}
	var line string
	for _, f := range l.Fields {
		item := event.Sanitize(f.Name) + " " + event.Sanitize(f.Value)
		switch {
		case line == "":
			line = indent + "  " + item
		case ansi.StringWidth(line)+3+ansi.StringWidth(item) <= w:
			line += " · " + item
		default:
			out = append(out, clip(line, w))
			line = indent + "  " + item
		}
	}
	if line != "" {
		out = append(out, clip(line, w))
	}
	if l.Note != "" {
		out = append(out, st.Sev(event.Warn).Render(clip(indent+"  ! "+event.Sanitize(l.Note), w)))
	}
	return out
}

// recordLines is what a packet recorded without its bytes is known by.
func (p packetsPane) recordLines(d pktDetail, w int) []string {
	st, r, fi := p.env.st, d.row, d.fi
	var out []string
	say := func(s string) { out = append(out, clip(s, w)) }
	say(st.Muted.Render("its bytes were not recorded (stakeout --payload keeps them): the record holds"))
	if fi.Proto == "" {
		say(fmt.Sprintf("  flow #%d, not named in what this view has seen", r.flow))
	} else {
		say("  " + st.Accent.Render(event.Sanitize(fi.Proto)) + " " + event.Sanitize(fi.String()))
	}
	if fi.Proto == "tcp" {
		say(fmt.Sprintf("  TCP flags %s", tcpFlagText(r.flags, "tcp")))
	}
	if r.link == packet.LinkTypeRaw {
		say("  captured as raw IP (no link-layer header)")
	}
	return out
}
