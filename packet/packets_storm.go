package packet

import (
	"cmp"
	"encoding/binary"
	"math"
	"math/bits"
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
//     up to stormPromotePerSecond new flows a second that send a RST or go
//     to a multicast or broadcast address (a new VRRP master's adverts);
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
	// stormHLLBits: the second's distinct flows are counted in a
	// HyperLogLog of 2^14 one-byte registers (16 KiB, so it stays in cache
	// at flood rates), with a 0.8% standard error (so within 2.5% nearly
	// always; a test run at 100,000 flows a second once read 2.45% low).
	stormHLLBits = 14
	// The busiest sources, ports and SYN destinations, and the handshakes,
	// are counted over a sample of the storm's flows (those whose hash has
	// its sample bits clear), one in N, N a power of two chosen each second
	// so that about stormSampleTarget packets a second are sampled: counting
	// every packet of a 400,000 packets/s flood into tables of 100s of KiB
	// was a third of the capture's CPU, all of it cache misses. Sampling by
	// flow keeps a flow's packets together, so counts times N estimate the
	// whole; below stormSampleTarget packets a second every flow counts.
	stormSampleTarget = 16384
	stormMaxSample    = 256
	// stormSeenBits is the bitmap that says whether a sampled flow was
	// seen before in the second (linear counting corrects for collisions).
	stormSeenBits = 1 << 16
	// stormHSBits: the handshake table has 2^14 entries. At 100,000 SYNs a
	// second an entry lasts about 160 ms before another SYN takes it, far
	// longer than a handshake takes.
	stormHSBits = 14
)

// KindStorm is the "storm" event.
const KindStorm = "storm"

// Storm is the "storm" event: what one interface's packets recorded under
// flow 0 were, over one second of a flow storm. Start is the second's
// start; the event's time its end. NewFlows is the number of distinct
// flows the capture's table did not hold (estimated: 0.8% standard error);
// Packets and Bytes theirs; SYN counts their SYNs without ACK (connection
// attempts), RST their resets, Handshakes their ACKs (without SYN or RST)
// that came from a flow after its SYN (the third step of a handshake).
// Handshakes and the lists are counted over a sample of one flow in N
// (N a power of two, so that about 16,384 packets a second are sampled)
// and scaled up: estimates, exact below that rate. Sources are the busiest source prefixes (IPv4 /24, IPv6 /64; an
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
	promoted int    // new flows recorded one by one this second (RST, group address)
	rec      Storm  // this second's counts; the lists are made at its end
	hll      [1 << stormHLLBits]uint8
	sample   uint64 // N-1: a flow is sampled when its hash's sample bits are clear
	hsSYN    uint64 // sampled SYNs
	hsDone   uint64 // sampled completed handshakes
	seen     [stormSeenBits / 64]uint64
	set      int                      // bits set in seen
	hs       [1 << stormHSBits]uint32 // a sampled flow's tag after its SYN, until its handshake completes
	ports    [65536]uint32            // new sampled flows per destination port
	portsHit []uint16                 // ports counted this second, to list and clear them
	src      stormTable
	dsts     stormTable
	lastSrc  *stormEntry // the previous packet's source, in src
}

// stormEntry is one source prefix or SYN destination.
type stormEntry struct {
	key     stormKey
	one     [16]byte // the first address seen in the prefix
	fam     uint8    // 4, 6; 0 for a MAC address
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

// stormKey is a source prefix (its family and up to 64 bits) or a SYN
// destination (family, address and port), as words compared and hashed
// with a few instructions: they are looked up per packet.
type stormKey struct {
	a, b uint64
	c    uint32
}

func (k *stormKey) hash() uint64 {
	h := k.a*0x9e3779b97f4a7c15 ^ k.b*0xc2b2ae3d27d4eb4f ^ uint64(k.c)*0x165667b19e3779f9
	return h ^ h>>29
}

func (t *stormTable) get(key *stormKey, fam uint8) *stormEntry {
	if t.ix == nil {
		t.ix = make([]int32, 2*t.max)
	}
	mask := uint64(len(t.ix) - 1)
	for i := key.hash() & mask; ; i = (i + 1) & mask {
		e := t.ix[i]
		if e == 0 {
			if len(t.ent) >= t.max {
				return nil
			}
			t.ent = append(t.ent, stormEntry{key: *key, fam: fam})
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
	nf := s.rec.NewFlows
	// A storm ends after a quiet second, when nothing came in the next, or
	// when time went back (another capture follows).
	ended := nf < stormEndFlows || us >= c.secEnd+1e6 || us < c.secEnd-1e6
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
	// A sampled source's or port's flows are those whose bit in seen was
	// not set yet: flows whose bits collide are missed, as linear counting
	// corrects for. Scale them alike, and by the sampling.
	n := float64(s.sample + 1)
	flows := n
	if s.set > 0 && s.set < stormSeenBits {
		flows *= -stormSeenBits * math.Log(1-float64(s.set)/stormSeenBits) / float64(s.set)
	}
	r.Handshakes = uint64(math.Round(float64(s.hsDone) * n))
	if s.hsSYN > 0 {
		// The sample's share of completed handshakes, over all SYNs.
		r.Handshakes = uint64(math.Round(float64(r.SYN) * float64(s.hsDone) / float64(s.hsSYN)))
	}
	r.Sources = s.topSources(flows, n)
	r.DstPorts = s.topPorts(flows)
	r.SYNDsts = s.topDsts(n)
	// Sample about stormSampleTarget packets next second.
	next := uint64(1)
	for next < stormMaxSample && r.Packets/next > stormSampleTarget {
		next *= 2
	}
	s.sample = next - 1
	s.rec, s.promoted, s.hsSYN, s.hsDone = Storm{}, 0, 0, 0
	clear(s.hll[:])
	clear(s.seen[:])
	s.set = 0
	s.src.reset()
	s.dsts.reset()
	s.lastSrc = nil
	c.Emit(event.New(time.UnixMicro(c.secEnd), PacketsName, &r))
}

// estimate is the second's distinct flows: the HyperLogLog estimate, with
// linear counting over the registers while few are set.
func (s *stormState) estimate() uint64 {
	const m = 1 << stormHLLBits
	sum, zeros := 0.0, 0
	for _, r := range s.hll {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	e := 0.7213 / (1 + 1.079/m) * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(float64(m)/float64(zeros))
	}
	return uint64(math.Round(e))
}

// startStorm begins a storm in the second ending at c.secEnd: the flows the
// table took in that second are the storm's from now on.
func (c *Batcher) startStorm(us int64) {
	if c.storm == nil {
		c.storm = &stormState{src: stormTable{max: stormSources}, dsts: stormTable{max: stormDsts}}
	}
	s := c.storm
	s.on = true
	s.gen++
	onset := c.secEnd - 1e6
	// Sample as the rate the storm began at asks, until its first second
	// says better.
	rate := StormNewFlows * 1e6 / uint64(max(us-onset, 1000))
	n := uint64(1)
	for n < stormMaxSample && rate/n > stormSampleTarget {
		n *= 2
	}
	s.sample = n - 1
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
	if r := uint8(bits.LeadingZeros64(h<<stormHLLBits|1<<(stormHLLBits-1))) + 1; r > s.hll[h>>(64-stormHLLBits)] {
		s.hll[h>>(64-stormHLLBits)] = r
	}
	syn := k.proto == 6 && flags&(FlagSYN|FlagACK) == FlagSYN
	if syn {
		s.rec.SYN++
	}
	if k.proto == 6 && flags&FlagRST != 0 {
		s.rec.RST++
	}
	if (h>>8)&s.sample != 0 {
		return // not in the sample
	}
	bit := (h >> 16) & (stormSeenBits - 1)
	first := s.seen[bit/64]&(1<<(bit%64)) == 0
	if first {
		s.seen[bit/64] |= 1 << (bit % 64)
		s.set++
	}
	if k.proto == 6 {
		tag := uint32(h) | 1
		slot := &s.hs[(h>>32)&(1<<stormHSBits-1)]
		switch {
		case syn:
			s.hsSYN++
			*slot = tag
		case flags&(FlagSYN|FlagRST|FlagACK) == FlagACK && *slot == tag:
			s.hsDone++
			*slot = 0
		}
	}
	be := binary.BigEndian
	key := stormKey{a: uint64(k.ipVer) << 56}
	switch k.ipVer {
	case 4:
		key.a |= uint64(be.Uint32(k.src[:4]) >> 8)
	case 6:
		key.b = be.Uint64(k.src[:8])
	default:
		key.a |= be.Uint64(k.src[:8]) >> 16
	}
	if e := s.lastSrc; e != nil && e.key == key {
		s.srcPacket(e, k, first, syn)
	} else if e := s.src.get(&key, k.ipVer); e != nil {
		s.lastSrc = e
		s.srcPacket(e, k, first, syn)
	}
	if first && (k.proto == 6 || k.proto == 17) {
		if s.ports[k.dstPort] == 0 {
			s.portsHit = append(s.portsHit, k.dstPort)
		}
		s.ports[k.dstPort]++
	}
	if syn {
		dk := stormKey{a: be.Uint64(k.dst[:8]), b: be.Uint64(k.dst[8:]), c: uint32(k.dstPort) | uint32(k.ipVer)<<16}
		if e := s.dsts.get(&dk, k.ipVer); e != nil {
			if e.syn == 0 {
				e.one, e.port = k.dst, k.dstPort
			}
			e.syn++
		}
	}
}

// srcPacket counts a packet of the storm from source prefix e.
func (s *stormState) srcPacket(e *stormEntry, k *flowKey, first, syn bool) {
	if e.packets == 0 {
		e.one = k.src
	} else if !e.mixed && e.one != k.src {
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

// groupDst says whether the flow goes to a multicast or broadcast
// address: VRRP adverts, OSPF and PIM hellos, HSRP. During a storm those
// are recorded one by one (within stormPromotePerSecond): the new VRRP
// master's adverts start with the reconnect storm its failover causes, and
// a gap in them is what the on-call engineer needs to see.
func (k *flowKey) groupDst() bool {
	switch k.ipVer {
	case 4:
		return k.dst[0]&0xf0 == 0xe0 || k.dst[0] == 255 && k.dst[1] == 255 && k.dst[2] == 255 && k.dst[3] == 255
	case 6:
		return k.dst[0] == 0xff
	}
	return k.dst[0]&1 == 1 // a group MAC address
}

// promote says whether one more new flow with a RST, or to a group
// address, may be recorded one by one this second.
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
	switch ver := e.fam; {
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

func (s *stormState) topSources(flows, n float64) []StormSource {
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
		out = append(out, e.source(e.name(), flows, n))
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
			out = append(out, e.source(name, flows, n))
		}
	}
	return out
}

func (s *stormState) topPorts(scale float64) []StormPort {
	// The busiest stormTop in one pass: a flood's replies hit tens of
	// thousands of ports a second, and sorting them all was a tenth of the
	// capture's CPU.
	top := make([]StormPort, 0, stormTop)
	for _, p := range s.portsHit {
		n := uint64(s.ports[p])
		s.ports[p] = 0
		if len(top) == stormTop && n <= top[stormTop-1].Flows {
			continue
		}
		if len(top) < stormTop {
			top = append(top, StormPort{})
		}
		i := len(top) - 1
		for ; i > 0 && (top[i-1].Flows < n || top[i-1].Flows == n && top[i-1].Port > p); i-- {
			top[i] = top[i-1]
		}
		top[i] = StormPort{Port: p, Flows: n}
	}
	s.portsHit = s.portsHit[:0]
	for i := range top {
		top[i].Flows = scaled(uint32(top[i].Flows), scale)
	}
	return top
}

// scaled is n×scale rounded, for a sampled count.
func scaled(n uint32, scale float64) uint64 { return uint64(math.Round(float64(n) * scale)) }

// source is e as listed, its sampled counts scaled: flows by flows (never
// more than its packets), packets and SYNs by n.
func (e *stormEntry) source(name string, flows, n float64) StormSource {
	p := scaled(e.packets, n)
	return StormSource{Addr: name, Flows: min(scaled(e.flows, flows), p), Packets: p, SYN: scaled(e.syn, n)}
}

func (s *stormState) topDsts(n float64) []StormDst {
	ent := s.dsts.ent
	slices.SortFunc(ent, func(a, b stormEntry) int {
		if a.syn != b.syn {
			return cmp.Compare(b.syn, a.syn)
		}
		return cmp.Or(cmp.Compare(a.key.a, b.key.a), cmp.Compare(a.key.b, b.key.b), cmp.Compare(a.key.c, b.key.c))
	})
	out := make([]StormDst, 0, min(len(ent), stormTopDsts))
	for i := range ent[:min(len(ent), stormTopDsts)] {
		e := &ent[i]
		out = append(out, StormDst{Dst: netip.AddrPortFrom(addrString(e.fam, e.one), e.port).String(), SYN: scaled(e.syn, n)})
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

// Retime moves the storm's start by d (event.Retimer).
func (s *Storm) Retime(d time.Duration) { s.Start = s.Start.Add(d) }
