package findings

import (
	"fmt"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
)

// Packet finding names.
const (
	FindingPacketGap        = "packet.gap"
	FindingPacketStallReset = "packet.stall_reset"
	FindingPacketRSTStorm   = "packet.rst_storm"
	FindingPacketDrops      = "packet.drops"
)

// StallBeforeReset is how long a TCP flow must have been silent before a
// RST for packet.stall_reset: a connection that froze, then was reset (the
// pfsync incident), rather than one refused or closed at once.
const StallBeforeReset = time.Second

// PacketGapData is packet.gap's data. GapMs is the silence so far while
// it lasts, and the whole of it once the flow resumed; Resumed says which.
type PacketGapData struct {
	Iface   string  `json:"iface"`
	Flow    string  `json:"flow"`
	Proto   string  `json:"proto"`
	GapMs   float64 `json:"gap_ms"`
	UsualMs float64 `json:"usual_ms"`
	Resumed bool    `json:"resumed"`
	// Sender is set when another recorded host sent the flow: whether it
	// sent during the gap (packets_cross.go).
	Sender *GapSender `json:"sender,omitempty"`
}

// PacketStallResetData is packet.stall_reset's data.
type PacketStallResetData struct {
	Iface   string  `json:"iface"`
	Flow    string  `json:"flow"`
	StallMs float64 `json:"stall_ms"`
}

// GapStillSilent says a packet.gap's data tells of a flow that had not
// come back (Resumed false), as in the clear the end of a capture makes.
// Data in another shape (generic, from a file) says so by a "resumed"
// member that is false; without one it says nothing.
func GapStillSilent(data any) bool {
	switch d := data.(type) {
	case PacketGapData:
		return !d.Resumed
	case map[string]any:
		r, ok := d["resumed"].(bool)
		return ok && !r
	}
	return false
}

// A gap is shown by its flow's packets either side of the silence, a
// stall that ended in a reset by those of the stall.
func init() {
	register(FindingPacketGap, func(d PacketGapData) Evidence { return flowEvidence(d.Iface, d.Flow, d.GapMs, d.UsualMs) })
	register(FindingPacketStallReset, func(d PacketStallResetData) Evidence { return flowEvidence(d.Iface, d.Flow, d.StallMs, 0) })
}

// packets is one detector for all packet findings: they share one flow
// table, so each packet is looked up once. Memory is bounded by the table's
// cap, the RST host cap, the open gap cap and the interface cap.
type packets struct {
	flows  *packet.FlowTable
	stalls map[uint32]bool // flows that already had a stall_reset (bounded with the table)
	rst    rstStorm
	drops  dropWatch
	gaps   gapWatch
	storms stormWatch
}

// NewPackets returns the packet detector for one host. All runs it once
// per host inside the cross-host one (packets_cross.go), which adds the
// sender's side to a gap.
func NewPackets() Detector {
	d := &packets{flows: packet.NewFlowTable(packet.MaxTrackedFlows), stalls: map[uint32]bool{},
		rst: newRSTStorm(), drops: newDropWatch(), gaps: newGapWatch(), storms: newStormWatch()}
	d.flows.WatchSilence = true
	return d
}

func (d *packets) Produces() []string {
	return []string{FindingPacketGap, FindingPacketStallReset, FindingPacketRSTStorm, FindingPacketDrops,
		FindingPacketFlowStorm, FindingPacketSynFlood}
}

func (d *packets) Observe(ev event.Event) []event.Event {
	out := d.ended(ev.Time)
	if s, ok := event.As[packet.Storm](ev); ok {
		for _, f := range d.storms.observe(s, ev.Time) {
			out = append(out, event.New(ev.Time, ev.Probe, f))
		}
		return out
	}
	if st, ok := event.As[packet.CaptureStats](ev); ok {
		if f := d.drops.observe(st, ev.Time); f != nil {
			out = append(out, event.New(ev.Time, ev.Probe, f))
		}
		// Every packet of the interface before Through has been seen, so
		// a periodic flow without one since its last is silent until then.
		through := st.Through
		if through.IsZero() {
			through = ev.Time.Add(-statsLag) // recorded before capture_stats had it
		}
		return d.gaps.advance(d.flows, ev.Probe, st.Iface, through.UnixMicro(), out)
	}
	b, isBatch := event.As[packet.PacketBatch](ev)
	if isBatch && b.N() > 0 {
		// The interface's packets before this batch's first have all been
		// seen: silences up to it are judged before its packets end some.
		out = d.gaps.advance(d.flows, ev.Probe, b.Iface, b.Start.UnixMicro()-1, out)
	}
	d.flows.ObserveNotable(ev, func(p packet.Packet, a packet.Arrival) {
		out = d.gaps.arrival(d.flows, ev.Probe, p, a, out)
		if f := d.stallReset(p, a); f != nil {
			out = append(out, event.New(p.Time, ev.Probe, f))
		}
		if f := d.rst.observe(p, a.Flow); f != nil {
			out = append(out, event.New(p.Time, ev.Probe, f))
		}
	})
	if len(d.stalls) > packet.MaxTrackedFlows {
		clear(d.stalls)
	}
	if isBatch && b.N() > 0 {
		end := b.Start.UnixMicro()
		for _, dt := range b.DtUs[:b.N()] {
			end += dt
		}
		out = d.gaps.advance(d.flows, ev.Probe, b.Iface, end, out)
	}
	return out
}

// Finish closes the gaps still open when the stream ends: the flows that
// never came back.
func (d *packets) Finish() []event.Event { return d.gaps.finish() }

func (d *packets) stallReset(p packet.Packet, a packet.Arrival) *event.Finding {
	fi := a.Flow.Info
	if p.Flags&packet.FlagRST == 0 || fi.Proto != "tcp" || a.Gap < StallBeforeReset || d.stalls[fi.ID] {
		return nil
	}
	d.stalls[fi.ID] = true
	data := PacketStallResetData{Iface: fi.Iface, Flow: fi.String(), StallMs: ms(a.Gap)}
	return &event.Finding{Finding: FindingPacketStallReset, Severity: event.Warn, Data: data,
		Key: condKey(FindingPacketStallReset, fi.Iface, fi.String()), // once per flow: never updated
		Summary: fmt.Sprintf("%s tcp %s: silent for %.0f ms, then reset",
			event.Sanitize(fi.Iface), event.Sanitize(fi.String()), data.StallMs)}
}

func ms(d time.Duration) float64 { return round2(float64(d.Microseconds()) / 1000) }
