package findings

import (
	"fmt"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/probes"
)

// dropsRepeat is how often packet.drops may fire again for one interface
// while the kernel keeps dropping: tcpdump says it only at exit; once a
// minute is often enough to see it go on.
const dropsRepeat = time.Minute

// PacketDropsData is packet.drops's data: totals since capture started.
type PacketDropsData struct {
	Iface   string `json:"iface"`
	Drops   uint64 `json:"drops"`
	Packets uint64 `json:"packets"`
}

type dropState struct {
	drops, packets uint64
	firedAt        time.Time
	firedDrops     uint64
}

type dropWatch struct{ ifaces map[string]*dropState }

func (w *dropWatch) observe(st *probes.CaptureStats, at time.Time) *event.Finding {
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
	if st.Drops == 0 || (!s.firedAt.IsZero() && at.Sub(s.firedAt) < dropsRepeat) {
		return nil
	}
	s.firedAt, s.firedDrops = at, s.drops
	data := PacketDropsData{Iface: st.Iface, Drops: s.drops, Packets: s.packets}
	sev := event.Warn
	if s.packets > 0 && float64(s.drops)*10 >= float64(s.packets) {
		sev = event.Critical
	}
	return &event.Finding{Finding: FindingPacketDrops, Severity: sev, Data: data,
		Summary: fmt.Sprintf("%s: the kernel dropped %d of %d captured packets (ring full; try --ring-mb or --filter)",
			event.Sanitize(st.Iface), data.Drops, data.Packets)}
}
