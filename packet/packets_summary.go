package packet

import (
	"fmt"
	"sort"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// summaryTopFlows is how many flows a report lists.
const summaryTopFlows = 10

// PacketSummary condenses the packets probe's events for `snapshot` and
// `report`: totals and kernel drops per interface, and the busiest flows.
// Memory is bounded by MaxTrackedFlows.
type PacketSummary struct {
	flows  *FlowTable
	ifaces map[string]*PacketIfaceSummary
	order  []string
}

// PacketIfaceSummary is one interface's row; a public JSON contract.
type PacketIfaceSummary struct {
	Iface   string `json:"iface"`
	Packets uint64 `json:"packets"` // recorded by stakeout
	Bytes   uint64 `json:"bytes"`
	Kernel  uint64 `json:"kernel_packets"` // PACKET_STATISTICS: passed the filter
	Drops   uint64 `json:"drops"`          // PACKET_STATISTICS: ring full
	Freezes uint64 `json:"freezes"`
}

// PacketFlowSummary is one flow's row; a public JSON contract.
type PacketFlowSummary struct {
	Iface    string  `json:"iface"`
	Flow     string  `json:"flow"`
	Proto    string  `json:"proto"`
	Packets  uint64  `json:"packets"`
	Bytes    uint64  `json:"bytes"`
	MaxGapMs float64 `json:"max_gap_ms"`
	RST      uint64  `json:"rst"`
}

// PacketSummaryResult is the JSON under "summary": {"packets": …}.
type PacketSummaryResult struct {
	Ifaces []PacketIfaceSummary `json:"ifaces"`
	Flows  int                  `json:"flows"` // tracked at the end (capped)
	Top    []PacketFlowSummary  `json:"top_flows"`
}

func (s *PacketSummary) init() {
	if s.flows == nil {
		s.flows = NewFlowTable(MaxTrackedFlows)
		s.ifaces = map[string]*PacketIfaceSummary{}
	}
}

func (s *PacketSummary) iface(name string) *PacketIfaceSummary {
	r := s.ifaces[name]
	if r == nil {
		if len(s.ifaces) >= 256 {
			return &PacketIfaceSummary{}
		}
		r = &PacketIfaceSummary{Iface: name}
		s.ifaces[name] = r
		s.order = append(s.order, name)
	}
	return r
}

func (s *PacketSummary) Observe(ev event.Event) {
	s.init()
	if st, ok := event.As[CaptureStats](ev); ok {
		r := s.iface(st.Iface)
		r.Kernel = event.AddCount(r.Kernel, st.Packets)
		r.Drops = event.AddCount(r.Drops, st.Drops)
		r.Freezes = event.AddCount(r.Freezes, st.Freezes)
		return
	}
	if b, ok := event.As[PacketBatch](ev); ok {
		r := s.iface(b.Iface)
		n := b.N()
		r.Packets += uint64(n)
		for i := range n {
			r.Bytes += uint64(b.Len[i])
		}
	}
	s.flows.Observe(ev, nil)
}

func (s *PacketSummary) Result() any {
	s.init()
	res := PacketSummaryResult{Ifaces: []PacketIfaceSummary{}, Top: []PacketFlowSummary{}, Flows: s.flows.Len()}
	for _, n := range s.order {
		res.Ifaces = append(res.Ifaces, *s.ifaces[n])
	}
	fl := s.flows.Flows()
	sort.Slice(fl, func(i, j int) bool {
		if fl[i].Packets != fl[j].Packets {
			return fl[i].Packets > fl[j].Packets
		}
		return fl[i].Info.ID < fl[j].Info.ID
	})
	for _, f := range fl[:min(len(fl), summaryTopFlows)] {
		res.Top = append(res.Top, PacketFlowSummary{
			Iface: f.Info.Iface, Flow: f.Info.String(), Proto: f.Info.Proto,
			Packets: f.Packets, Bytes: f.Bytes, RST: f.RST,
			MaxGapMs: float64(f.MaxGap.Microseconds()) / 1000,
		})
	}
	return res
}

func (s *PacketSummary) Lines() []string {
	res := s.Result().(PacketSummaryResult)
	var out []string
	for _, r := range res.Ifaces {
		out = append(out, fmt.Sprintf("%s: %d packets, %d bytes recorded; kernel %d, dropped %d, freezes %d",
			event.Sanitize(r.Iface), r.Packets, r.Bytes, r.Kernel, r.Drops, r.Freezes))
	}
	for _, f := range res.Top {
		out = append(out, fmt.Sprintf("  %s %s %s: %d packets, max gap %.0f ms, %d RST",
			event.Sanitize(f.Iface), event.Sanitize(f.Proto), event.Sanitize(f.Flow), f.Packets, f.MaxGapMs, f.RST))
	}
	if len(out) == 0 {
		out = append(out, "no packets")
	}
	return out
}

func init() {
	schema.RegisterProbe(schema.ProbeInfo{Name: PacketsName, Rank: 30, Summary: func() schema.Summarizer { return &PacketSummary{} },
		Kinds: []string{KindFlow, KindPackets, KindCaptureStats}})
}
