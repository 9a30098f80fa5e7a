package packet

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/stakeout/stakeout/event"
)

// A flow storm is a second in which an interface's capture meets at least
// StormNewFlows flows that its table does not hold: a SYN flood from
// spoofed sources, a port scan, a reconnect storm after a failover,
// thousands of clients behind a load balancer. Announcing each of those
// flows (a "flow" event apiece) and following each in every flow table
// downstream cost stakeout 28 times tcpdump's CPU and 5 bytes a packet
// on disk, and the engine's queue overflowed. So during a storm:
//
//   - flows the table held before it (a heartbeat, the connections that
//     were up) are recorded as ever, under their ids; so are, one by one,
//     up to stormPromotePerSecond new flows a second that send a RST;
//   - every other packet is recorded in its batch under flow 0, which
//     names no flow: its time, TCP flags and length are kept, and the
//     detectors, panes and summaries count it for the interface but follow
//     no flow for it;
//   - once a second a "storm" event tells what those packets were: how
//     many distinct flows, their packets and bytes, the SYNs and completed
//     handshakes among them, and the busiest source prefixes, destination
//     ports and SYN destinations.
//
// Flows first seen in the second the storm began are counted as the
// storm's, not kept one by one, and flows that come during it are never
// added to the table: a flood does not push the flows that matter out of
// it. A storm ends after a second with fewer than stormEndFlows new flows,
// or when the interface goes quiet, with a last "storm" event marked
// ended. All of it is decided in capture time, so a capture file read back
// (`report`, `replay` of a pcap) gives the same records.
const (
	StormNewFlows = 1000
	stormEndFlows = StormNewFlows / 2
	// stormPromotePerSecond bounds the new flows with a RST recorded one
	// by one during a storm (a SYN flood at a closed port gets a RST for
	// every SYN: those are counted in the storm's rst).
	stormPromotePerSecond = 100
	// stormTop is how many source prefixes and destination ports a record
	// lists, stormTopDsts how many SYN destinations.
	stormTop     = 16
	stormTopDsts = 8
	// stormSources and stormDsts bound the prefixes and SYN destinations
	// counted in a second; more are counted in the totals only.
	stormSources = 2048
	stormDsts    = 256
	// stormSeenBits is the bitmap that counts distinct flows in a second
	// (linear counting: accurate to about 1% up to a few hundred thousand).
	stormSeenBits = 1 << 18
	stormHSBits   = 16 // the handshake table has 2^16 entries
)

// KindStorm is the "storm" event.
const KindStorm = "storm"

// Storm is the "storm" event: what one interface's packets recorded under
// flow 0 were, over one second of a flow storm. Start is the second's
// start; the event's time its end. NewFlows is the number of distinct
// flows the capture's table did not hold (estimated from a bitmap, within
// about 1%); Packets and Bytes theirs; SYN counts their SYNs without ACK
// (connection attempts), Handshakes their ACKs (without SYN or RST) that
// came from a flow after its SYN (the third step of a handshake), RST their
// resets. Sources are the busiest source prefixes (IPv4 /24, IPv6 /64; an
// address when one address was all of its prefix's flows) by new flows;
// DstPorts the busiest TCP and UDP destination ports by new flows; SYNDsts
// the destinations SYNs went to most. Ended is set on the storm's last
// event: the first second with fewer than stormEndFlows new flows (the
// flood is over), or the capture's end.
type Storm struct {
	Iface      string        `json:"iface"`
	Start      time.Time     `json:"start"`
	IntervalS  float64       `json:"interval_s"`
	NewFlows   uint64        `json:"new_flows"`
	Packets    uint64        `json:"packets"`
	Bytes      uint64        `json:"bytes"`
	SYN        uint64        `json:"syn"`
	Handshakes uint64        `json:"handshakes"`
	RST        uint64        `json:"rst"`
	Sources    []StormSource `json:"sources"`
	DstPorts   []StormPort   `json:"dst_ports"`
	SYNDsts    []StormDst    `json:"syn_dsts"`
	Ended      bool          `json:"ended,omitempty"`
}

// StormSource is one source prefix of a storm second.
type StormSource struct {
	Addr    string `json:"addr"`
	Flows   uint64 `json:"flows"`
	Packets uint64 `json:"packets"`
	SYN     uint64 `json:"syn"`
}

// StormPort is one destination port of a storm second.
type StormPort struct {
	Port  uint16 `json:"port"`
	Flows uint64 `json:"flows"`
}

// StormDst is one destination of a storm second's SYNs.
type StormDst struct {
	Dst string `json:"dst"`
	SYN uint64 `json:"syn"`
}

func (Storm) EventKind() string { return KindStorm }

// NewFlowsPerS is the record's new flows per second.
func (s *Storm) NewFlowsPerS() float64 { return perS(s.NewFlows, s.IntervalS) }

// SYNPerS is the record's SYNs per second.
func (s *Storm) SYNPerS() float64 { return perS(s.SYN, s.IntervalS) }

func perS(n uint64, interval float64) float64 {
	if interval <= 0 {
		interval = 1
	}
	return float64(n) / interval
}

func init() {
	event.Register(KindStorm, func() event.Body { return &Storm{} }, event.Traits{Occurrence: true})
}

// stormState is a batcher's storm counting. It is made at the first storm
// (about 600 KiB) and kept for the next.
type stormState struct {
	on       bool
	gen      uint32 // which storm: slots marked with it are the storm's
	promoted int    // RST flows recorded one by one this second
	rec      Storm  // this second's counts; the lists are made at its end
	seen     [stormSeenBits / 64]uint64
	set      int                      // bits set in seen
	hs       [1 << stormHSBits]uint32 // a flow's tag after its SYN, until its handshake completes
	ports    [65536]uint32            // new flows per destination port
	portsHit []uint16                 // ports counted this second, to list and clear them
	src      stormTable
	dsts     stormTable
}

// stormEntry is one source prefix or SYN destination.
type stormEntry struct {
	key     stormKey
	one     [16]byte // the first address seen in the prefix
	mixed   bool     // another address of the prefix was seen too
	port    uint16
	flows   uint32
	packets uint32
	syn     uint32
}

// stormTable is a bounded open-addressing table of stormEntries, cleared
// each second.
type stormTable struct {
	ix  []int32 // entry index + 1; 0 empty
	ent []stormEntry
	max int
}

// stormKey is a family (4, 6; 0 for a MAC), then a prefix or an address,
// then a port (SYN destinations).
type stormKey [20]byte

// hash mixes the key's words; the keys are a few bytes, hashed per packet.
func (k *stormKey) hash() uint64 {
	le := binary.LittleEndian
	h := le.Uint64(k[0:])*0x9e3779b97f4a7c15 ^ le.Uint64(k[8:])*0xc2b2ae3d27d4eb4f ^ uint64(le.Uint32(k[16:]))*0x165667b19e3779f9
	return h ^ h>>31
}

func (t *stormTable) get(key *stormKey) *stormEntry {
	h := key.hash()
	if t.ix == nil {
		t.ix = make([]int32, 2*t.max)
	}
	mask := uint64(len(t.ix) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := t.ix[i]
		if e == 0 {
			if len(t.ent) >= t.max {
				return nil
			}
			t.ent = append(t.ent, stormEntry{key: *key})
			t.ix[i] = int32(len(t.ent))
			return &t.ent[len(t.ent)-1]
		}
		if t.ent[e-1].key == *key {
			return &t.ent[e-1]
		}
	}
}

func (t *stormTable) reset() {
	if len(t.ent) > 0 {
		clear(t.ix)
		t.ent = t.ent[:0]
	}
}

// secondOf is the start (µs) of the Unix second holding us.
func secondOf(us int64) int64 { return floorDiv(us, 1e6) * 1e6 }

// nextSecond closes the second that ended before us: a storm's record for
// it, and whether the storm goes on.
func (c *Batcher) nextSecond(us int64) {
	if c.secEnd != 0 {
		c.closeSecond(us)
	}
	c.secEnd = secondOf(us) + 1e6
	c.newInSec = 0
}

// closeSecond ends the second before c.secEnd; us is the next packet's
// time (or the capture's clock), past it.
func (c *Batcher) closeSecond(us int64) {
	s := c.storm
	if s == nil || !s.on {
		return
	}
	// The onset second's flows before the storm began, and the others.
	s.rec.NewFlows = c.newInSec + min(s.estimate(), s.rec.Packets)
	n := s.rec.NewFlows
	// A storm ends after a quiet second, when nothing came in the next, or
	// when time went back (another capture follows).
	ended := n < stormEndFlows || us >= c.secEnd+1e6 || us < c.secEnd-1e6
	c.emitStorm(ended)
	if ended {
		s.on = false
	}
}

// emitStorm sends the record of the second ending at c.secEnd and starts
// the next one's counts.
func (c *Batcher) emitStorm(ended bool) {
	s := c.storm
	r := s.rec
	r.Iface, r.Start, r.IntervalS, r.Ended = c.iface, time.UnixMicro(c.secEnd-1e6), 1, ended
	// A source's or port's flows are those whose bit in seen was not set
	// yet: flows whose bits collide are missed, as linear counting
	// corrects for in the total. Scale them alike.
	scale := 1.0
	if est := s.estimate(); s.set > 0 && est > uint64(s.set) {
		scale = float64(est) / float64(s.set)
	}
	r.Sources = s.topSources(scale)
	r.DstPorts = s.topPorts(scale)
	r.SYNDsts = s.topDsts()
	s.rec, s.promoted = Storm{}, 0
	clear(s.seen[:])
	s.set = 0
	s.src.reset()
	s.dsts.reset()
	c.Emit(event.New(time.UnixMicro(c.secEnd), PacketsName, &r))
}

// estimate is the second's distinct flows by linear counting.
func (s *stormState) estimate() uint64 {
	zeros := stormSeenBits - s.set
	if zeros == 0 {
		return uint64(s.set)
	}
	return uint64(math.Round(-stormSeenBits * math.Log(float64(zeros)/stormSeenBits)))
}

// startStorm begins a storm in the second ending at c.secEnd: the flows the
// table took in that second are the storm's from now on.
func (c *Batcher) startStorm() {
	if c.storm == nil {
		c.storm = &stormState{src: stormTable{max: stormSources}, dsts: stormTable{max: stormDsts}}
	}
	s := c.storm
	s.on = true
	s.gen++
	onset := c.secEnd - 1e6
	for si := c.slots[0].prev; si != 0; si = c.slots[si].prev {
		if sl := &c.slots[si]; sl.firstUs >= onset {
			sl.storm = s.gen
		}
	}
	c.last = 0
}

// stormPacket counts one packet of a flow the storm aggregates. h is the
// flow's key hash.
func (c *Batcher) stormPacket(k *flowKey, h uint64, flags uint8, wire uint32) {
	s := c.storm
	s.rec.Packets++
	s.rec.Bytes += uint64(wire)
	bit := h >> (64 - 18)
	first := s.seen[bit/64]&(1<<(bit%64)) == 0
	if first {
		s.seen[bit/64] |= 1 << (bit % 64)
		s.set++
	}
	syn := k.proto == 6 && flags&(FlagSYN|FlagACK) == FlagSYN
	if k.proto == 6 {
		tag := uint32(h>>stormHSBits) | 1
		slot := &s.hs[h&(1<<stormHSBits-1)]
		switch {
		case syn:
			s.rec.SYN++
			*slot = tag
		case flags&(FlagSYN|FlagRST|FlagACK) == FlagACK && *slot == tag:
			s.rec.Handshakes++
			*slot = 0
		}
		if flags&FlagRST != 0 {
			s.rec.RST++
		}
	}
	var key stormKey
	key[0] = k.ipVer
	switch k.ipVer {
	case 4:
		copy(key[1:4], k.src[:3])
	case 6:
		copy(key[1:9], k.src[:8])
	default:
		copy(key[1:7], k.src[:6])
	}
	if e := s.src.get(&key); e != nil {
		if e.packets == 0 {
			e.one = k.src
		} else if e.one != k.src {
			e.mixed = true
		}
		e.packets++
		if first {
			e.flows++
		}
		if syn {
			e.syn++
		}
	}
	if first && (k.proto == 6 || k.proto == 17) {
		if s.ports[k.dstPort] == 0 {
			s.portsHit = append(s.portsHit, k.dstPort)
		}
		s.ports[k.dstPort]++
	}
	if syn {
		var dk stormKey
		dk[0] = k.ipVer
		copy(dk[1:17], k.dst[:])
		binary.BigEndian.PutUint16(dk[17:], k.dstPort)
		if e := s.dsts.get(&dk); e != nil {
			if e.syn == 0 {
				e.one, e.port = k.dst, k.dstPort
			}
			e.syn++
		}
	}
}

// promote says whether one more new flow with a RST may be recorded one
// by one this second.
func (s *stormState) promote() bool {
	if s.promoted >= stormPromotePerSecond {
		return false
	}
	s.promoted++
	return true
}

func addrString(ver uint8, a [16]byte) netip.Addr {
	if ver == 4 {
		return netip.AddrFrom4([4]byte(a[:4]))
	}
	return netip.AddrFrom16(a)
}

// name is how a source entry is listed: its one address, or its prefix.
func (e *stormEntry) name() string {
	switch ver := e.key[0]; {
	case ver != 4 && ver != 6:
		return net.HardwareAddr(e.one[:6]).String()
	case !e.mixed:
		return addrString(ver, e.one).String()
	case ver == 4:
		return netip.PrefixFrom(addrString(4, e.one), 24).Masked().String()
	default:
		return netip.PrefixFrom(addrString(6, e.one), 64).Masked().String()
	}
}

func (s *stormState) topSources(scale float64) []StormSource {
	ent := s.src.ent
	slices.SortFunc(ent, func(a, b stormEntry) int {
		if a.flows != b.flows {
			return cmp.Compare(b.flows, a.flows)
		}
		return cmp.Compare(b.packets, a.packets)
	})
	out := make([]StormSource, 0, min(len(ent), stormTop))
	for i := range ent[:min(len(ent), stormTop)] {
		e := &ent[i]
		out = append(out, StormSource{Addr: e.name(), Flows: min(scaled(e.flows, scale), uint64(e.packets)), Packets: uint64(e.packets), SYN: uint64(e.syn)})
	}
	// The busiest SYN senders too, if the busiest by flows left them out
	// (a flood's victim answers each SYN with a SYN-ACK: as many flows).
	slices.SortStableFunc(ent, func(a, b stormEntry) int { return cmp.Compare(b.syn, a.syn) })
	for i := range ent[:min(len(ent), stormTop)] {
		e := &ent[i]
		if e.syn == 0 {
			break
		}
		if name := e.name(); !slices.ContainsFunc(out, func(o StormSource) bool { return o.Addr == name }) {
			out = append(out, StormSource{Addr: name, Flows: min(scaled(e.flows, scale), uint64(e.packets)), Packets: uint64(e.packets), SYN: uint64(e.syn)})
		}
	}
	return out
}

func (s *stormState) topPorts(scale float64) []StormPort {
	out := make([]StormPort, 0, len(s.portsHit))
	for _, p := range s.portsHit {
		out = append(out, StormPort{Port: p, Flows: scaled(s.ports[p], scale)})
		s.ports[p] = 0
	}
	s.portsHit = s.portsHit[:0]
	slices.SortFunc(out, func(a, b StormPort) int {
		if a.Flows != b.Flows {
			return cmp.Compare(b.Flows, a.Flows)
		}
		return cmp.Compare(a.Port, b.Port)
	})
	return out[:min(len(out), stormTop)]
}

// scaled is n×scale rounded, for a count of flows.
func scaled(n uint32, scale float64) uint64 { return uint64(math.Round(float64(n) * scale)) }

func (s *stormState) topDsts() []StormDst {
	ent := s.dsts.ent
	slices.SortFunc(ent, func(a, b stormEntry) int {
		if a.syn != b.syn {
			return cmp.Compare(b.syn, a.syn)
		}
		return bytes.Compare(a.key[:], b.key[:])
	})
	out := make([]StormDst, 0, min(len(ent), stormTopDsts))
	for i := range ent[:min(len(ent), stormTopDsts)] {
		e := &ent[i]
		out = append(out, StormDst{Dst: netip.AddrPortFrom(addrString(e.key[0], e.one), e.port).String(), SYN: uint64(e.syn)})
	}
	return out
}

// Tick tells the batcher that every packet of its interface before us
// (µs) has been added: a storm's second that ended by then is closed, so
// its record (and the storm's end, when the flood stops) goes out even
// when no packet follows.
func (c *Batcher) Tick(us int64) {
	if c.storm != nil && c.storm.on && c.secEnd != 0 && us >= c.secEnd {
		c.nextSecond(us)
	}
}

// Finish sends the batch so far and ends a storm still going: the capture
// or the file is over.
func (c *Batcher) Finish() {
	c.Flush()
	if s := c.storm; s != nil && s.on {
		s.rec.NewFlows = c.newInSec + min(s.estimate(), s.rec.Packets)
		c.newInSec = 0
		c.emitStorm(true)
		s.on = false
	}
}
