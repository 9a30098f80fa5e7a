package findings

import (
	"fmt"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/probes"
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

// PacketGapData is packet.gap's data.
type PacketGapData struct {
	Iface   string  `json:"iface"`
	Flow    string  `json:"flow"`
	Proto   string  `json:"proto"`
	GapMs   float64 `json:"gap_ms"`
	UsualMs float64 `json:"usual_ms"`
}

// PacketStallResetData is packet.stall_reset's data.
type PacketStallResetData struct {
	Iface   string  `json:"iface"`
	Flow    string  `json:"flow"`
	StallMs float64 `json:"stall_ms"`
}

// packets is one detector for all packet findings: they share one flow
// table, so each packet is looked up once. Memory is bounded by the table's
// cap, the RST host cap and the interface cap.
type packets struct {
	flows  *probes.FlowTable
	stalls map[uint32]bool // flows that already had a stall_reset (bounded with the table)
	rst    rstStorm
	drops  dropWatch
}

// NewPackets returns the packet detector.
func NewPackets() Detector {
	return &packets{flows: probes.NewFlowTable(probes.MaxTrackedFlows), stalls: map[uint32]bool{},
		rst: newRSTStorm(), drops: newDropWatch()}
}

func (d *packets) Produces() []string {
	return []string{FindingPacketGap, FindingPacketStallReset, FindingPacketRSTStorm, FindingPacketDrops}
}

func (d *packets) Observe(ev event.Event) []event.Event {
	out := d.ended(ev.Time)
	if st, ok := probes.AsCaptureStats(ev); ok {
		if f := d.drops.observe(st, ev.Time); f != nil {
			out = append(out, event.New(ev.Time, ev.Probe, f))
		}
		return out
	}
	d.flows.ObserveNotable(ev, func(p probes.Packet, a probes.Arrival) {
		if f := d.gap(a); f != nil {
			out = append(out, event.New(p.Time, ev.Probe, f))
		}
		if f := d.stallReset(p, a); f != nil {
			out = append(out, event.New(p.Time, ev.Probe, f))
		}
		if f := d.rst.observe(p, a.Flow); f != nil {
			out = append(out, event.New(p.Time, ev.Probe, f))
		}
	})
	if len(d.stalls) > probes.MaxTrackedFlows {
		clear(d.stalls)
	}
	return out
}

func (d *packets) gap(a probes.Arrival) *event.Finding {
	if !a.Unusual {
		return nil
	}
	fi := a.Flow.Info
	data := PacketGapData{Iface: fi.Iface, Flow: fi.String(), Proto: fi.Proto,
		GapMs: ms(a.Gap), UsualMs: ms(a.Usual)}
	sev := event.Warn
	if a.Gap >= 3*a.Usual+time.Second/2 {
		// Protocols with a dead timer (VRRP, BFD, OSPF hellos) give up
		// after about three intervals: this gap is long enough to fail over.
		sev = event.Critical
	}
	return &event.Finding{Finding: FindingPacketGap, Severity: sev, Data: data,
		Summary: fmt.Sprintf("%s %s %s: %.0f ms without a packet, usually %.0f ms",
			event.Sanitize(fi.Iface), event.Sanitize(fi.Proto), event.Sanitize(fi.String()), data.GapMs, data.UsualMs)}
}

func (d *packets) stallReset(p probes.Packet, a probes.Arrival) *event.Finding {
	fi := a.Flow.Info
	if p.Flags&probes.FlagRST == 0 || fi.Proto != "tcp" || a.Gap < StallBeforeReset || d.stalls[fi.ID] {
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
