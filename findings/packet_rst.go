package findings

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
)

// RSTStormPerSecond is how many RSTs one host must send within one second
// (event time) for packet.rst_storm. A busy server resets a few
// connections a second in normal life; hundreds mean connections are being
// torn down wholesale (a firewall forgetting state, pfsync, a crash loop).
const RSTStormPerSecond = 100

// rstStormQuiet is how long a host's storm condition lasts after its last
// second of 100 RSTs: a storm is one finding however many seconds it
// storms (updated at most once a minute), cleared after a minute without.
const rstStormQuiet = time.Minute

const maxRSTHosts = 4096

// PacketRSTStormData is packet.rst_storm's data. Flow is set when every RST
// of that second came from one flow, Host otherwise (and always).
type PacketRSTStormData struct {
	Iface   string `json:"iface"`
	Host    string `json:"host"`
	Flow    string `json:"flow,omitempty"`
	RSTPerS uint64 `json:"rst_per_s"`
	flowID  uint32
	oneFlow bool
	sec     int64
}

func init() {
	register(FindingPacketRSTStorm, func(d PacketRSTStormData) Evidence {
		return Nearest(About{Iface: d.Iface, Host: d.Host, Flow: d.Flow})
	})
}

type rstStorm struct {
	hosts map[string]*PacketRSTStormData
	c     conds
}

func newRSTStorm() rstStorm {
	return rstStorm{hosts: map[string]*PacketRSTStormData{}, c: conds{quiet: rstStormQuiet, max: maxRSTHosts}}
}

func hostOf(addr string) string {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr().String()
	}
	return addr
}

func (r *rstStorm) observe(p packet.Packet, f *packet.FlowStats) *event.Finding {
	if p.Flags&packet.FlagRST == 0 {
		return nil
	}
	host := hostOf(f.Info.Src)
	key := f.Info.Iface + " " + host
	h := r.hosts[key]
	sec := p.Time.Unix()
	if h == nil {
		if len(r.hosts) >= maxRSTHosts {
			for k, o := range r.hosts { // forget hosts quiet for a minute
				if sec-o.sec > int64(rstStormQuiet/time.Second) {
					delete(r.hosts, k)
				}
			}
			if len(r.hosts) >= maxRSTHosts {
				return nil
			}
		}
		h = &PacketRSTStormData{Iface: f.Info.Iface, Host: host}
		r.hosts[key] = h
	}
	if sec != h.sec {
		h.sec, h.RSTPerS, h.oneFlow, h.flowID = sec, 0, true, p.Flow
	}
	h.RSTPerS++
	if p.Flow != h.flowID {
		h.oneFlow = false
	}
	if h.RSTPerS != RSTStormPerSecond {
		return nil
	}
	data := PacketRSTStormData{Iface: h.Iface, Host: h.Host, RSTPerS: h.RSTPerS}
	who := "host " + event.Sanitize(host)
	if h.oneFlow {
		data.Flow = f.Info.String()
		who = "flow " + event.Sanitize(data.Flow)
	}
	return r.c.hold(p.Time, &event.Finding{Finding: FindingPacketRSTStorm, Severity: event.Warn, Data: data,
		Key:     condKey(FindingPacketRSTStorm, h.Iface, h.Host),
		Summary: fmt.Sprintf("%s: %s sent %d+ TCP resets within one second", event.Sanitize(h.Iface), who, data.RSTPerS)}, rstMaterial)
}

// rstMaterial: the storm's resets went from one flow to many, or back.
func rstMaterial(prev, cur *event.Finding) bool {
	return prev.Data.(PacketRSTStormData).Flow != cur.Data.(PacketRSTStormData).Flow
}
