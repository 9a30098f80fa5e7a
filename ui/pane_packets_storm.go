package ui

import (
	"fmt"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
)

// During a flow storm the capture records the storm's packets under flow 0
// and sends a "storm" event per interface per second (packet.Storm). A
// timeline of those packets would scroll faster than anyone reads, and say
// nothing: the pane shows the storm instead, from its latest second: new
// flows a second, the share of SYNs whose handshake completed, and the
// busiest sources and destination ports. The timeline comes back when the
// storm's last event says it ended, or when no storm event has come for
// stormStale (a capture that stopped).

const (
	pktMaxStorms = pktMaxIfaces
	stormStale   = 3 * time.Second
	stormRows    = 5 // sources and ports listed
)

// pktStorm is one interface's latest storm second.
type pktStorm struct {
	rec packet.Storm
	at  time.Time // the event's time: the second's end
}

// applyStorm keeps st as its interface's latest storm second (a copy: the
// pane's value is shared with earlier frames).
func applyStorm(storms []pktStorm, st *packet.Storm, at time.Time) []pktStorm {
	i := 0
	for i < len(storms) && storms[i].rec.Iface != st.Iface {
		i++
	}
	if i == len(storms) && len(storms) >= pktMaxStorms {
		return storms
	}
	out := append([]pktStorm(nil), storms...)
	if i == len(out) {
		out = append(out, pktStorm{})
	}
	out[i] = pktStorm{rec: *st, at: at}
	return out
}

// storming is the interfaces whose storm is on at now.
func (p packetsPane) storming() []pktStorm {
	var on []pktStorm
	for _, s := range p.storms {
		if !s.rec.Ended && p.now.Sub(s.at) < stormStale {
			on = append(on, s)
		}
	}
	return on
}

// stormView is the storm summary in n lines, in place of the timeline.
func (p packetsPane) stormView(on []pktStorm, n int) []string {
	st := p.env.st
	var lines []string
	for _, s := range on {
		r := &s.rec
		head := fmt.Sprintf("▲ flow storm on %s: %s new flows/s, %s pkt/s", event.Sanitize(r.Iface),
			fmtSI(r.NewFlowsPerS()), fmtSI(perSecond(r.Packets, r.IntervalS)))
		lines = append(lines, st.Sev(event.Warn).Render(clip(head, p.w)))
		if r.SYN > 0 {
			syn := fmt.Sprintf("  %s SYN/s", fmtSI(r.SYNPerS()))
			if len(r.SYNDsts) > 0 {
				syn += " to " + event.Sanitize(r.SYNDsts[0].Dst)
			}
			syn += fmt.Sprintf(", %.0f%% of handshakes completed", 100*float64(min(r.Handshakes, r.SYN))/float64(r.SYN))
			lines = append(lines, st.Sev(event.Warn).Render(clip(syn, p.w)))
		}
		lines = append(lines, st.Muted.Render(clip("  new flows are counted per second, not shown one by one", p.w)))
		rows := min(stormRows, max(len(r.Sources), len(r.DstPorts)))
		if rows == 0 {
			continue
		}
		const half = 47 // the sources' columns and a gap
		lines = append(lines, st.TableHeader.Render(clip(fit(fmt.Sprintf("%-24s %9s %9s", "top sources", "flows", "packets"), half)+
			fmt.Sprintf("%-8s %9s", "dst port", "flows"), p.w)))
		for i := range rows {
			left, right := "", ""
			if i < len(r.Sources) {
				src := r.Sources[i]
				left = fmt.Sprintf("%-24s %9s %9s", clip(event.Sanitize(src.Addr), 24), fmtSI(float64(src.Flows)), fmtSI(float64(src.Packets)))
			}
			if i < len(r.DstPorts) {
				right = fmt.Sprintf("%-8d %9s", r.DstPorts[i].Port, fmtSI(float64(r.DstPorts[i].Flows)))
			}
			lines = append(lines, st.Text.Render(clip(fit(left, half)+right, p.w)))
		}
	}
	if len(lines) > n {
		lines = lines[:n]
	}
	return lines
}

func perSecond(n uint64, interval float64) float64 {
	if interval <= 0 {
		interval = 1
	}
	return float64(n) / interval
}
