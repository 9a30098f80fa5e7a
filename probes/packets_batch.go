package probes

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/stakeout/stakeout/event"
)

type flowSlot struct {
	id                 uint32
	lastUs, announceUs int64
}

// batcher turns decoded packets into "flow" events and "packets" batches
// for one interface. The live capture and the pcap reader share it, so a
// file from tcpdump records exactly what a live capture would have.
type batcher struct {
	iface   string
	dec     *packetDecoder
	ids     *atomic.Uint32
	flows   map[flowKey]*flowSlot
	last    *flowSlot // the previous packet's flow, nil after forgetIdle
	lastKey flowKey
	key     flowKey // the packet being added
	emit    Emit
	payload bool
	// linkType is the batches' link_type (0: Ethernet); skip is how many
	// bytes of a link header come before what the decoder reads (a Linux
	// cooked capture's), kept in --payload bytes.
	linkType uint16
	skip     int

	batch  PacketBatch
	data   int       // payload bytes in the batch
	lastUs int64     // previous packet's µs timestamp in the batch
	firstT time.Time // wall clock when the batch began (live flushing)

	lastN       int    // packets in the previous batch
	seen, bytes uint64 // since the last capture_stats
}

func newBatcher(iface string, link linkKind, ids *atomic.Uint32, emit Emit, payload bool) *batcher {
	b := &batcher{iface: iface, dec: newPacketDecoder(link), ids: ids, emit: emit, payload: payload,
		flows: make(map[flowKey]*flowSlot)}
	if link == linkRawIP {
		b.linkType = LinkTypeRaw
	}
	return b
}

// add records one packet.
func (c *batcher) add(data []byte, ts time.Time, wire uint32) {
	c.addUs(data, ts.UnixMicro(), wire, vlanTag{})
}

// addUs records one packet captured at us (µs since the epoch), with the
// VLAN tag the kernel took off it, if any.
func (c *batcher) addUs(data []byte, us int64, wire uint32, tag vlanTag) {
	if len(data) < c.skip {
		return
	}
	k := &c.key
	flags, ok := c.dec.decodeInto(data[c.skip:], tag, k)
	if !ok {
		return
	}
	if tag.tpid != 0 && c.dec.link == linkEthernet && len(data) >= 12 {
		// On the wire (and in what libpcap hands out) the tag is there.
		wire += 4
		if c.payload {
			data = withTag(data, tag)
		}
	}
	// Packets come in runs of one flow (a flood, a bulk transfer): the
	// previous packet's slot saves the map lookup.
	slot := c.last
	if slot == nil || !k.same(&c.lastKey) {
		slot = c.flows[*k]
		if slot == nil {
			if len(c.flows) >= MaxCaptureFlows {
				c.forgetIdle()
			}
			slot = &flowSlot{id: c.ids.Add(1), announceUs: us}
			c.flows[*k] = slot
			c.announce(*k, slot, us)
		}
		c.last, c.lastKey = slot, *k
	}
	if us-slot.announceUs >= FlowReannounce.Microseconds() {
		slot.announceUs = us
		c.announce(*k, slot, us)
	}
	slot.lastUs = us
	if len(c.batch.Flow) == 0 {
		// Size the columns like the last batch: growing them by doubling
		// at flood rates cost more than filling them.
		n := min(max(c.lastN, 64), batchMax)
		c.batch = PacketBatch{Iface: c.iface, Start: time.UnixMicro(us), LinkType: c.linkType, DtUs: make([]int64, 0, n),
			Flow: make([]uint32, 0, n), Flags: make(ByteNums, 0, n), Len: make([]uint32, 0, n)}
		c.lastUs, c.firstT = us, time.Now()
	}
	c.batch.DtUs = append(c.batch.DtUs, us-c.lastUs)
	c.batch.Flow = append(c.batch.Flow, slot.id)
	c.batch.Flags = append(c.batch.Flags, flags)
	c.batch.Len = append(c.batch.Len, wire)
	if c.payload {
		c.batch.Data = append(c.batch.Data, append([]byte(nil), data...))
		c.data += len(data)
	}
	c.lastUs = us
	c.seen++
	c.bytes += uint64(wire)
	if len(c.batch.Flow) >= batchMax || c.data >= batchMaxData {
		c.flush()
	}
}

// withTag is an Ethernet frame with tag put back after the MAC addresses.
func withTag(data []byte, tag vlanTag) []byte {
	out := make([]byte, 0, len(data)+4)
	out = append(out, data[:12]...)
	out = append(out, byte(tag.tpid>>8), byte(tag.tpid), byte(tag.tci>>8), byte(tag.tci))
	return append(out, data[12:]...)
}

func (c *batcher) announce(k flowKey, slot *flowSlot, us int64) {
	// A flow event must come before the batch that uses its id.
	fi := k.info(slot.id, c.iface)
	c.emit(event.New(time.UnixMicro(us), packetsName, &fi))
}

// forgetIdle drops the idlest eighth of the flows, in one pass (amortised
// over the next MaxCaptureFlows/8 new flows).
func (c *batcher) forgetIdle() {
	var cut int64 = 1<<63 - 1
	// Approximate the 1/8 quantile of last-seen times from a sample.
	i, sample := 0, make([]int64, 0, 64)
	for _, s := range c.flows {
		if i%(len(c.flows)/64+1) == 0 {
			sample = append(sample, s.lastUs)
		}
		i++
	}
	if len(sample) > 0 {
		slices.Sort(sample)
		cut = sample[len(sample)/8]
	}
	for k, s := range c.flows {
		if s.lastUs <= cut {
			delete(c.flows, k)
		}
	}
	c.last = nil
}

func (c *batcher) flush() {
	if len(c.batch.Flow) == 0 {
		return
	}
	b := c.batch
	c.batch, c.data, c.lastN = PacketBatch{}, 0, len(b.Flow)
	c.emit(event.New(time.UnixMicro(c.lastUs), packetsName, &b))
}
