package packet

// The packets probe's kinds in words (event.Describer) and on charts
// (event.Plotter), as the handoff report shows them. Flows and capture
// statistics are not charted.

import (
	"fmt"
	"time"

	"github.com/stakeout/stakeout/event"
)

func (b PacketBatch) Describe() string {
	var rst, syn int
	b.Each(func(p Packet) {
		if p.Flags&FlagRST != 0 {
			rst++
		}
		if p.Flags&FlagSYN != 0 {
			syn++
		}
	})
	return fmt.Sprintf("%s: %d packets, %d SYN, %d RST", b.Iface, b.N(), syn, rst)
}

func (s CaptureStats) Describe() string {
	return fmt.Sprintf("%s: %d packets, %d dropped by the kernel", s.Iface, s.Packets, s.Drops)
}

func (f FlowInfo) Describe() string { return f.Iface + " " + f.Proto + " " + f.String() }

var packetsChart = event.ChartSpec{Title: "packets {per} by interface", Unit: "packets", Fold: event.FoldCount}

// Plot counts the batch's packets on its interface's line, each at its
// own time (a batch spans a quarter second).
func (b PacketBatch) Plot(_ time.Time, p event.Plot) {
	s := p.Chart(packetsChart).Series(b.Iface)
	b.Each(func(pk Packet) { s.Add(pk.Time, 1) })
}
