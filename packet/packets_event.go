package packet

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/stakeout/stakeout/event"
)

// Event kinds of the packets probe. A recording holds no packet bytes by
// default, only one small header record per packet, so that a busy link
// stays within a few bytes per packet in the .stk file (the budget
// is 40; a 64-byte UDP flood records under 1):
//
//   - "flow" names a flow id the first time it is seen, and again every
//     FlowReannounce while it is active, so a replay that seeks into the
//     middle (panes get 2 min of history) can still name it.
//   - "packets" is a batch of per-packet records for one interface, in
//     columns (dt_us, flow, flags, len), which zstd compresses well.
//   - "capture_stats" is the kernel's PACKET_STATISTICS, once a second.
const (
	KindFlow         = "flow"
	KindPackets      = "packets"
	KindCaptureStats = "capture_stats"
)

// FlowReannounce is how often an active flow's "flow" event is repeated.
const FlowReannounce = 60 * time.Second

// FlowInfo names one flow: the 5-tuple for TCP and UDP, (src, dst, proto)
// otherwise. Flows are directional, like tcpdump's lines.
type FlowInfo struct {
	ID    uint32 `json:"id"`
	Iface string `json:"iface"`
	// Proto is tcp, udp, icmp, icmp6, igmp, vrrp, gre, esp, sctp, ipN (other
	// IP protocol N), arp, or ethertype-0xNNNN for other frames.
	Proto string `json:"proto"`
	// Src and Dst are "addr:port" for TCP and UDP ("[v6]:port" for IPv6),
	// the address for other IP, and the MAC address for non-IP frames.
	Src string `json:"src"`
	Dst string `json:"dst"`
	// VLAN is the 802.1Q VLAN ID the flow was tagged with (the outer tag of
	// 802.1ad QinQ, InnerVLAN the inner one); absent when untagged. The same
	// 5-tuple on two VLANs is two flows.
	VLAN      uint16 `json:"vlan,omitempty"`
	InnerVLAN uint16 `json:"inner_vlan,omitempty"`
	// Out says the capture saw the flow's first packet leave the host
	// (the kernel's PACKET_OUTGOING): this host sent it. False for one it
	// received or forwarded in, and for flows read from a capture file.
	Out bool `json:"out,omitempty"`
}

func (FlowInfo) EventKind() string { return KindFlow }

// String is how a flow is shown: "10.0.0.1:5000 > 10.0.0.2:80", with
// " vlan 10" (" vlan 10.20" for QinQ) after a tagged one.
func (f FlowInfo) String() string {
	if f.Src == "" && f.Dst == "" {
		return "flow #" + Itoa(uint64(f.ID))
	}
	s := f.Src + " > " + f.Dst
	if f.VLAN != 0 || f.InnerVLAN != 0 {
		s += " vlan " + Itoa(uint64(f.VLAN))
		if f.InnerVLAN != 0 {
			s += "." + Itoa(uint64(f.InnerVLAN))
		}
	}
	return s
}

// TCP flag bits as they sit in the TCP header's 13th byte.
const (
	FlagFIN = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)

// PacketBatch is the "packets" event: packets seen on one interface, oldest
// first, as parallel columns. The event's time is the last packet's.
//
//	start   time of the first packet (µs precision)
//	dt_us   µs since the previous packet of the batch (the first is 0)
//	flow    flow id, named by a "flow" event
//	flags   TCP flags (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ECE 64, CWR 128); 0 if not TCP
//	len        length on the wire, bytes
//	link_type  how the interface frames packets, as a pcap LINKTYPE_ number:
//	           absent for Ethernet (1); 101 for raw IP (tun, wireguard, GRE);
//	           a capture file's own (113 Linux cooked, 228/229 IPv4/IPv6) for
//	           one read from elsewhere. data is in this framing.
//	data       only with --payload: the captured bytes, base64
type PacketBatch struct {
	Iface    string    `json:"iface"`
	Start    time.Time `json:"start"`
	DtUs     []int64   `json:"dt_us"`
	Flow     []uint32  `json:"flow"`
	Flags    ByteNums  `json:"flags"`
	Len      []uint32  `json:"len"`
	LinkType uint16    `json:"link_type,omitempty"`
	Data     [][]byte  `json:"data,omitempty"`

	// reuse marks columns a live capture took from colPool: ReleaseBatch
	// hands them back once every consumer is done with them.
	reuse bool
}

// LinkTypeRaw is LINKTYPE_RAW: packets that begin with the IP header.
const LinkTypeRaw = 101

// PcapLinkType is the pcap link type of the batch's data: Ethernet unless
// LinkType says otherwise.
func (b *PacketBatch) PcapLinkType() uint16 {
	if b.LinkType == 0 {
		return 1
	}
	return b.LinkType
}

func (PacketBatch) EventKind() string { return KindPackets }

// Packet is one decoded record of a batch.
type Packet struct {
	Time  time.Time
	Flow  uint32
	Flags uint8
	Len   uint32
}

// N is the number of packets in the batch; short columns (a damaged or
// hand-made event) are cut to the shortest.
func (b *PacketBatch) N() int {
	return min(len(b.DtUs), len(b.Flow), len(b.Flags), len(b.Len))
}

// maxBatchDtUs bounds a decoded batch's time steps: a batch holds a quarter
// second of packets, and a step of more than a day is no capture's. It keeps
// the running time of a hostile batch (dt_us of ±2^63) from wrapping.
const maxBatchDtUs = int64(24 * time.Hour / time.Microsecond)

// BoundNumbers clamps the time steps of a batch read from a file to ±1 day
// (event.Bounder).
func (b *PacketBatch) BoundNumbers() {
	for i, dt := range b.DtUs {
		if dt > maxBatchDtUs || dt < -maxBatchDtUs {
			b.DtUs[i] = min(max(dt, -maxBatchDtUs), maxBatchDtUs)
		}
	}
}

// Each calls fn for every packet in order, with absolute times.
func (b *PacketBatch) Each(fn func(p Packet)) {
	t := b.Start
	for i := range b.N() {
		t = t.Add(time.Duration(b.DtUs[i]) * time.Microsecond)
		fn(Packet{Time: t, Flow: b.Flow[i], Flags: b.Flags[i], Len: b.Len[i]})
	}
}

// CaptureStats is the "capture_stats" event: PACKET_STATISTICS of one
// interface's socket over the last interval. Packets counts what passed
// the socket's filter, drops included; Drops were lost because the ring was
// full; Freezes counts times the ring filled up. Seen is what stakeout
// read (after dropping lo's outgoing copies in the kernel filter). Totals
// run since the capture started. Through says that every packet the
// interface carried before it is in a "packets" batch sent before this
// event (a batch still being filled is sent first), so a flow without a
// packet until then was silent until then; absent if that is not known.
type CaptureStats struct {
	Iface        string    `json:"iface"`
	IntervalS    float64   `json:"interval_s"`
	Packets      uint64    `json:"packets"`
	Drops        uint64    `json:"drops"`
	Freezes      uint64    `json:"freezes"`
	Seen         uint64    `json:"seen"`
	Bytes        uint64    `json:"bytes"`
	TotalPackets uint64    `json:"total_packets"`
	TotalDrops   uint64    `json:"total_drops"`
	Through      time.Time `json:"through,omitzero"`
}

func (CaptureStats) EventKind() string { return KindCaptureStats }

func init() {
	event.Register(KindFlow, func() event.Body { return &FlowInfo{} })
	event.Register(KindPackets, func() event.Body { return &PacketBatch{} }, event.Traits{Occurrence: true})
	event.Register(KindCaptureStats, func() event.Body { return &CaptureStats{} }, event.Traits{Entity: func(b event.Body) string {
		if c, ok := event.As[CaptureStats](event.Event{Body: b}); ok {
			return c.Iface
		}
		return ""
	}})
}

// PacketsConfig holds the packets probe's flags.
type PacketsConfig struct {
	Ifaces  []string // --iface, repeatable; empty: every interface that is up
	RingMB  int      // --ring-mb, per interface
	Snaplen int      // bytes kept per packet; 128 unless --payload
	Payload bool     // --payload: keep and record packet bytes
	Filter  string   // --filter EXPR (tcpdump syntax)
	BPFFile string   // --bpf FILE (tcpdump -ddd output)
}

// ByteNums is a []uint8 written as a JSON array of numbers; encoding/json
// would write base64, which jq users can't read and zstd compresses worse.
type ByteNums []uint8

func (b ByteNums) MarshalJSON() ([]byte, error) {
	return b.appendJSON(make([]byte, 0, 2+len(b)*4)), nil
}

func (b ByteNums) appendJSON(dst []byte) []byte {
	dst = append(dst, '[')
	for blk := range slices.Chunk(b, jsonBlock) {
		dst = slices.Grow(dst, len(blk)*4)
		buf, n := dst[:cap(dst)], len(dst)
		for _, v := range blk {
			n = putSmall(buf, n, uint32(v))
		}
		dst = buf[:n]
	}
	return closeList(dst, len(b))
}

func (b *ByteNums) UnmarshalJSON(data []byte) error {
	var nums []uint16
	if err := json.Unmarshal(data, &nums); err != nil {
		return err
	}
	out := make(ByteNums, len(nums))
	for i, n := range nums {
		if n > 255 {
			return fmt.Errorf("flags value %d out of range", n)
		}
		out[i] = uint8(n)
	}
	*b = out
	return nil
}

func Itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return string(b[i:])
}

// Retime moves the batch's start, and with it every packet's time, by d
// (event.Retimer: a clock correction of another host's events).
func (b *PacketBatch) Retime(d time.Duration) { b.Start = b.Start.Add(d) }

// Retime moves Through by d (event.Retimer).
func (s *CaptureStats) Retime(d time.Duration) {
	if !s.Through.IsZero() {
		s.Through = s.Through.Add(d)
	}
}
