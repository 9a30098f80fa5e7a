package findings

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
)

// Flow storms come to the detectors as the capture's "storm" events, one
// per interface per second of the storm (see packet.Storm): the capture
// stopped announcing its flows, so no flow table downstream follows them.
//
// One condition per interface and finding: packet.flow_storm while an
// interface meets StormNewFlows or more new flows a second, packet.syn_flood
// while its SYNs come at SynFloodPerSecond or more and fewer than half of
// them complete a handshake. A storm that pauses for less than stormQuiet
// is the same storm: updated, not raised again. Cleared once stormQuiet
// passes without a storm second; one still going when the stream ends is
// left open ("still going on at the end").
const (
	FindingPacketFlowStorm = "packet.flow_storm"
	FindingPacketSynFlood  = "packet.syn_flood"
	// SynFloodPerSecond is the SYN rate (connection attempts from flows the
	// capture did not hold) at which a storm whose handshakes mostly do not
	// complete is a SYN flood.
	SynFloodPerSecond = 500
	stormQuiet        = 10 * time.Second
	// stormCritical: a storm this long is critical, as is one whose new
	// flows in a second fill the capture's whole flow table.
	stormCritical  = 10 * time.Second
	stormListed    = 5 // sources and ports in a finding's data
	maxStormIfaces = 1024
)

// StormSourceData is one source in a storm finding: an address, or its
// prefix (IPv4 /24, IPv6 /64) when several of the prefix's addresses sent.
type StormSourceData struct {
	Addr    string `json:"addr"`
	Flows   uint64 `json:"flows"`
	Packets uint64 `json:"packets"`
}

// StormPortData is one destination port in packet.flow_storm's data.
type StormPortData struct {
	Port  uint16 `json:"port"`
	Flows uint64 `json:"flows"`
}

// PacketFlowStormData is packet.flow_storm's data, from the storm's latest
// second: new flows per second, the busiest source prefixes and destination
// ports by new flows, and the share of new flows that were TCP SYNs
// without a completed handshake.
type PacketFlowStormData struct {
	Iface        string            `json:"iface"`
	NewFlowsPerS float64           `json:"new_flows_per_s"`
	TopSources   []StormSourceData `json:"top_sources"`
	TopDestPorts []StormPortData   `json:"top_dest_ports"`
	SynOnlyRatio float64           `json:"syn_only_ratio"`
}

// PacketSynFloodData is packet.syn_flood's data, from the flood's latest
// second: SYNs per second, the share of them whose handshake completed,
// the busiest SYN senders, and the destination (addr:port) most SYNs went
// to.
type PacketSynFloodData struct {
	Iface          string            `json:"iface"`
	SynPerS        float64           `json:"syn_per_s"`
	HandshakeRatio float64           `json:"handshake_ratio"`
	TopSources     []StormSourceData `json:"top_sources"`
	Dst            string            `json:"dst"`
}

func init() {
	register(FindingPacketFlowStorm, func(d PacketFlowStormData) Evidence { return Nearest(About{Iface: d.Iface}) })
	register(FindingPacketSynFlood, func(d PacketSynFloodData) Evidence { return Nearest(About{Iface: d.Iface}) })
}

type stormWatch struct {
	c     conds
	since map[string]time.Time // per interface: when its storm began
}

func newStormWatch() stormWatch {
	return stormWatch{c: conds{quiet: stormQuiet, max: 2 * maxStormIfaces}, since: map[string]time.Time{}}
}

// observe takes one storm second, at (its end).
func (w *stormWatch) observe(s *packet.Storm, at time.Time) []*event.Finding {
	if s.NewFlowsPerS() < packet.StormNewFlows {
		return nil // the quiet second that ended it
	}
	iface := s.Iface
	key := condKey(FindingPacketFlowStorm, iface)
	if !w.c.isOpen(key, at) {
		if len(w.since) >= maxStormIfaces {
			clear(w.since)
		}
		w.since[iface] = s.Start
	}
	since, ok := w.since[iface]
	if !ok {
		since = s.Start
	}
	lasted := at.Sub(since)
	sev := event.Warn
	if lasted >= stormCritical || s.NewFlowsPerS() >= packet.MaxCaptureFlows {
		sev = event.Critical
	}
	data := PacketFlowStormData{Iface: iface, NewFlowsPerS: round2(s.NewFlowsPerS()),
		TopSources:   stormSources(s.Sources, func(x packet.StormSource) uint64 { return x.Flows }),
		TopDestPorts: []StormPortData{}}
	for _, p := range s.DstPorts[:min(len(s.DstPorts), stormListed)] {
		data.TopDestPorts = append(data.TopDestPorts, StormPortData{Port: p.Port, Flows: p.Flows})
	}
	if s.NewFlows > 0 {
		data.SynOnlyRatio = round2(min(1, float64(s.SYN-min(s.Handshakes, s.SYN))/float64(s.NewFlows)))
	}
	sum := fmt.Sprintf("%s: flow storm, %.0f new flows/s", event.Sanitize(iface), data.NewFlowsPerS)
	if len(data.TopSources) > 0 {
		sum += fmt.Sprintf("; top source %s (%d flows)", event.Sanitize(data.TopSources[0].Addr), data.TopSources[0].Flows)
	}
	if len(data.TopDestPorts) > 0 {
		sum += fmt.Sprintf(", top port %d (%d flows)", data.TopDestPorts[0].Port, data.TopDestPorts[0].Flows)
	}
	sum += fmt.Sprintf("; %.0f%% SYN only", 100*data.SynOnlyRatio)
	var out []*event.Finding
	if f := w.c.hold(at, &event.Finding{Finding: FindingPacketFlowStorm, Severity: sev, Data: data, Key: key,
		Summary: sum}, stormMaterial); f != nil {
		out = append(out, f)
	}
	if f := w.synFlood(s, at, lasted); f != nil {
		out = append(out, f)
	}
	return out
}

// synFlood holds packet.syn_flood when most of the second's SYNs did not
// complete a handshake.
func (w *stormWatch) synFlood(s *packet.Storm, at time.Time, lasted time.Duration) *event.Finding {
	if s.SYNPerS() < SynFloodPerSecond || 2*s.Handshakes >= s.SYN {
		return nil
	}
	data := PacketSynFloodData{Iface: s.Iface, SynPerS: round2(s.SYNPerS()),
		HandshakeRatio: round2(float64(min(s.Handshakes, s.SYN)) / float64(s.SYN)),
		TopSources:     stormSources(s.Sources, func(x packet.StormSource) uint64 { return x.SYN })}
	if len(s.SYNDsts) > 0 {
		data.Dst = s.SYNDsts[0].Dst
	}
	sev := event.Warn
	if lasted >= stormCritical {
		sev = event.Critical
	}
	sum := fmt.Sprintf("%s: SYN flood to %s, %.0f SYN/s, %.0f%% of handshakes completed", event.Sanitize(s.Iface),
		event.Sanitize(data.Dst), data.SynPerS, 100*data.HandshakeRatio)
	if len(data.TopSources) > 0 {
		sum += fmt.Sprintf("; top source %s", event.Sanitize(data.TopSources[0].Addr))
	}
	return w.c.hold(at, &event.Finding{Finding: FindingPacketSynFlood, Severity: sev, Data: data,
		Key: condKey(FindingPacketSynFlood, s.Iface), Summary: sum}, synFloodMaterial)
}

// stormSources lists the busiest of a second's sources by, those with any.
func stormSources(src []packet.StormSource, by func(packet.StormSource) uint64) []StormSourceData {
	s := slices.Clone(src)
	slices.SortStableFunc(s, func(a, b packet.StormSource) int { return cmp.Compare(by(b), by(a)) })
	out := []StormSourceData{}
	for _, x := range s {
		if len(out) == stormListed || by(x) == 0 {
			break
		}
		out = append(out, StormSourceData{Addr: x.Addr, Flows: x.Flows, Packets: x.Packets})
	}
	return out
}

// stormMaterial: the rate halved or doubled, or the top source changed.
func stormMaterial(prev, cur *event.Finding) bool {
	p, c := prev.Data.(PacketFlowStormData), cur.Data.(PacketFlowStormData)
	return halvedOrDoubled(p.NewFlowsPerS, c.NewFlowsPerS) || topAddr(p.TopSources) != topAddr(c.TopSources)
}

// synFloodMaterial: the rate halved or doubled, or the flood moved to
// another destination.
func synFloodMaterial(prev, cur *event.Finding) bool {
	p, c := prev.Data.(PacketSynFloodData), cur.Data.(PacketSynFloodData)
	return halvedOrDoubled(p.SynPerS, c.SynPerS) || p.Dst != c.Dst
}

func halvedOrDoubled(a, b float64) bool { return b >= 2*a || 2*b <= a }

func topAddr(s []StormSourceData) string {
	if len(s) == 0 {
		return ""
	}
	return s[0].Addr
}
