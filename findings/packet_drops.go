package findings

import (
	"fmt"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
)

// dropsQuiet ends an interface's drop condition: a minute of capture
// statistics without a drop. While the kernel keeps dropping the condition
// is updated (tcpdump says it only at exit) when the drops double or turn
// critical, else once a minute.
const dropsQuiet = time.Minute

// PacketDropsData is packet.drops's data: totals since capture started.
type PacketDropsData struct {
	Iface   string `json:"iface"`
	Drops   uint64 `json:"drops"`
	Packets uint64 `json:"packets"`
}

func init() {
	register(FindingPacketDrops, func(d PacketDropsData) Evidence { return Nearest(About{Iface: d.Iface}) })
}

type dropState struct{ drops, packets uint64 }

type dropWatch struct {
	ifaces map[string]*dropState
	c      conds
}

func newDropWatch() dropWatch {
	return dropWatch{ifaces: map[string]*dropState{}, c: conds{quiet: dropsQuiet, max: 1024}}
}

func (w *dropWatch) observe(st *packet.CaptureStats, at time.Time) *event.Finding {
	s := w.ifaces[st.Iface]
	if s == nil {
		if len(w.ifaces) >= 1024 {
			return nil
		}
		s = &dropState{}
		w.ifaces[st.Iface] = s
	}
	// Sum the intervals rather than trust totals, so a restarted capture
	// (totals back to 0) keeps counting.
	s.drops = event.AddCount(s.drops, st.Drops)
	s.packets = event.AddCount(s.packets, st.Packets)
	if st.Drops == 0 {
		return nil
	}
	data := PacketDropsData{Iface: st.Iface, Drops: s.drops, Packets: s.packets}
	sev := event.Warn
	if s.packets > 0 && float64(s.drops)*10 >= float64(s.packets) {
		sev = event.Critical
	}
	return w.c.hold(at, &event.Finding{Finding: FindingPacketDrops, Severity: sev, Data: data,
		Key: condKey(FindingPacketDrops, st.Iface),
		Summary: fmt.Sprintf("%s: the kernel dropped %d of %d captured packets (ring full; try --ring-mb or --filter)",
			event.Sanitize(st.Iface), data.Drops, data.Packets)}, dropsMaterial)
}

// dropsMaterial: the drops so far doubled.
func dropsMaterial(prev, cur *event.Finding) bool {
	return cur.Data.(PacketDropsData).Drops >= 2*prev.Data.(PacketDropsData).Drops
}

// ended clears the RST storms and drop conditions whose quiet minute has
// passed, and the flow storms quiet for stormQuiet, as of any event's time.
func (d *packets) ended(at time.Time) []event.Event {
	var out []event.Event
	for _, c := range []*conds{&d.rst.c, &d.drops.c, &d.storms.c} {
		for _, f := range c.sweep(at) {
			out = append(out, event.New(at, "packets", f)) // the probe these findings come from
		}
	}
	return out
}
