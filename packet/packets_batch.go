package packet

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"sync"
	"time"
	"unsafe"

	"github.com/stakeout/stakeout/event"
)

const (
	// batchSpan and batchMax bound a "packets" event: the pane is at most a
	// quarter second behind, and a flood makes a few events per second,
	// not one per packet (Emit drops when the engine's queue is full).
	BatchSpan = 250 * time.Millisecond
	BatchMax  = 16384
	// batchMaxData keeps a --payload batch well under the session file's
	// 1 MiB record limit once base64 has grown it by a third.
	batchMaxData = 512 << 10
	// MaxCaptureFlows caps the flows one interface remembers; past it the
	// idlest is forgotten for each new one (it keeps its id, and is
	// announced again if it comes back: see flowIDs).
	MaxCaptureFlows = 16384
)

// packetsName is the packets probe's name, the "probe" of its events.
const PacketsName = "packets"

// payloadSnaplen is the capture length with --payload.
const PayloadSnaplen = 65535

// flowSlot is one flow the batcher remembers. Slots live in one slice and
// link to each other by index, so the table holds no pointers for the
// garbage collector to scan.
type flowSlot struct {
	key                flowKey
	hash               uint64 // FlowIDs.keyHash(key)
	id                 uint32
	prev, next         int32 // the LRU list, by slot index; slot 0 is its sentinel
	lastUs, announceUs int64
	firstUs            int64  // when the table took it
	storm              uint32 // the storm (stormState.gen) that took it, if any: see startStorm
	out                bool   // its first packet was outgoing (FlowInfo.Out)
}

// flowIDs gives flows their ids: one per capture (all its interfaces) or
// capture file, shared by its batchers.
//
// A flow's id is a hash of its interface and 5-tuple (VLANs included),
// seeded once per capture, rather than a counter: a batcher's table is
// bounded (MaxCaptureFlows) and forgets idle flows under a flood of others,
// and a counter gave a heartbeat that came back a new id each time (one
// 5-tuple got ids 3, 43065, 56393 … 4084427 in a minute), so the detectors
// lost its learned period and named it "flow #N". A hash needs no memory of
// flows gone, so the same 5-tuple has the same id for the whole capture
// however much the table churns; the table only decides when a flow is
// announced again (a flow that comes back after being forgotten is).
//
// Two flows known at once never share an id: one whose hash is taken by a
// live flow gets the next free id. That can move a flow's id only if its
// hash collides with another flow's (about one pair in 2^32) and the other
// holds the id when it comes back; the detectors then see the id renamed
// and start it afresh (FlowTable). The seed is random, so ids say nothing
// about the addresses of a redacted recording.
type FlowIDs struct {
	seed maphash.Seed
	key  [4]uint64 // keyHash's random key, from seed
	mu   sync.Mutex
	live idSet // ids the batchers' tables hold now
}

func NewFlowIDs() *FlowIDs {
	ids := &FlowIDs{seed: maphash.MakeSeed()}
	for i := range ids.key {
		ids.key[i] = maphash.Comparable(ids.seed, i) | 1
	}
	return ids
}

// keyHash hashes a flow's key. The batcher looks flows up by it, and a
// flow's id is made from it, so a new flow is hashed once. It is the
// key's six words, each xored with a random key and multiplied out to 128
// bits and folded (as wyhash does): during a flow storm every packet is
// hashed, and maphash.Bytes cost 11% of the capture's CPU there, this a
// few multiplications.
func (ids *FlowIDs) keyHash(k *flowKey) uint64 {
	b := (*[flowKeySize]byte)(unsafe.Pointer(k))
	le := binary.LittleEndian
	key := &ids.key
	h := mum(le.Uint64(b[0:])^key[0], le.Uint64(b[8:])^key[1]) ^
		mum(le.Uint64(b[16:])^key[2], le.Uint64(b[24:])^key[3]) ^
		mum(le.Uint64(b[32:])^key[1], uint64(le.Uint32(b[40:]))^key[0])
	return mum(h^key[2], key[3])
}

// mum multiplies a and b to 128 bits and folds the halves.
func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// salt is what an interface's name adds to its flows' ids.
func (ids *FlowIDs) salt(iface string) uint64 { return maphash.String(ids.seed, iface) }

// idOf is the id of the flow whose keyHash is h on the interface of salt,
// unless another live flow has it: the two mixed (splitmix64's finalizer),
// folded to 32 bits.
func idOf(h, salt uint64) uint32 {
	v := h ^ salt
	v = (v ^ v>>30) * 0xbf58476d1ce4e5b9
	v = (v ^ v>>27) * 0x94d049bb133111eb
	v ^= v >> 31
	return uint32(v) ^ uint32(v>>32)
}

// hash is the id flow k on iface has unless another live flow has it.
func (ids *FlowIDs) hash(iface string, k *flowKey) uint32 {
	return idOf(ids.keyHash(k), ids.salt(iface))
}

// take returns id, or the next id no live flow holds, and holds it until
// release.
func (ids *FlowIDs) take(id uint32) uint32 {
	ids.mu.Lock()
	id = ids.live.addFree(id)
	ids.mu.Unlock()
	return id
}

// release lets other flows have these ids.
func (ids *FlowIDs) release(gone ...uint32) {
	ids.mu.Lock()
	for _, id := range gone {
		ids.live.remove(id)
	}
	ids.mu.Unlock()
}

// replace is release(gone) and take(id) under one lock: a batcher whose
// table is full does both for every new flow.
func (ids *FlowIDs) replace(gone, id uint32) uint32 {
	ids.mu.Lock()
	ids.live.remove(gone)
	id = ids.live.addFree(id)
	ids.mu.Unlock()
	return id
}

// batcher turns decoded packets into "flow" events and "packets" batches
// for one interface. The live capture and the pcap reader share it, so a
// file from tcpdump records exactly what a live capture would have.
type Batcher struct {
	iface   string
	dec     *packetDecoder
	ids     *FlowIDs
	salt    uint64            // ids.salt(iface)
	index   flowIndex         // slot of each flow remembered
	slots   []flowSlot        // slots[0] is the LRU list's sentinel: its next is the idlest flow
	last    int32             // the previous packet's slot, 0 if none
	key     flowKey           // the packet being added
	Emit    func(event.Event) `json:"-"`
	payload bool
	// reuse takes the batches' columns from colPool (a live capture, whose
	// batches only the engine and the TUI see; see ReleaseBatch).
	Reuse bool `json:"-"`
	// linkType is the batches' link_type (0: Ethernet); skip is how many
	// bytes of a link header come before what the decoder reads (a Linux
	// cooked capture's), kept in --payload bytes.
	linkType uint16
	skip     int

	Batch  PacketBatch `json:"-"`
	data   int         // payload bytes in the batch
	lastUs int64       // previous packet's µs timestamp in the batch
	FirstT time.Time   `json:"-"` // wall clock when the batch began (live flushing)

	lastN       int    // packets in the previous batch
	Seen, Bytes uint64 // since the last capture_stats

	secEnd   int64       // end (µs) of the second the last packet was in; 0 before the first
	newInSec uint64      // flows the table took in that second
	storm    *stormState // nil until the first storm
}

func NewBatcher(iface string, link LinkKind, ids *FlowIDs, emit func(event.Event), payload bool) *Batcher {
	b := &Batcher{iface: iface, dec: NewPacketDecoder(link), ids: ids, Emit: emit, payload: payload,
		salt: ids.salt(iface), slots: make([]flowSlot, 1, 64)}
	if link == LinkRawIP {
		b.linkType = LinkTypeRaw
	}
	return b
}

// add records one packet.
func (c *Batcher) add(data []byte, ts time.Time, wire uint32) {
	c.AddUs(data, ts.UnixMicro(), wire, VlanTag{})
}

// AddUs records one packet captured at us (µs since the epoch), with the
// VLAN tag the kernel took off it, if any, its direction unknown.
func (c *Batcher) AddUs(data []byte, us int64, wire uint32, tag VlanTag) {
	c.AddPacket(data, us, wire, tag, false)
}

// AddPacket is AddUs for a packet whose direction the capture knows: out
// if the host sent it (a live capture's PACKET_OUTGOING). A new flow's
// "flow" event says so (FlowInfo.Out); a flow keeps the direction of the
// packet it was first seen with.
func (c *Batcher) AddPacket(data []byte, us int64, wire uint32, tag VlanTag, out bool) {
	if len(data) < c.skip {
		return
	}
	k := &c.key
	flags, ok := c.dec.decodeInto(data[c.skip:], tag, k)
	if !ok {
		return
	}
	if tag.Tpid != 0 && c.dec.link == LinkEthernet && len(data) >= 12 {
		// On the wire (and in what libpcap hands out) the tag is there.
		wire += 4
		if c.payload {
			data = withTag(data, tag)
		}
	}
	if us >= c.secEnd || us < c.secEnd-2e6 {
		c.nextSecond(us) // a new second, or time went back (another capture)
	}
	// Packets come in runs of one flow (a flood, a bulk transfer): the
	// previous packet's slot saves the lookup, and is already the latest
	// in the LRU list.
	si := c.last
	if si == 0 || !k.same(&c.slots[si].key) {
		h := c.ids.keyHash(k)
		si = c.find(k, h)
		if s := c.storm; s != nil && s.on && (si == 0 || c.slots[si].storm == s.gen) &&
			(flags&FlagRST == 0 && !k.groupDst() || !s.promote()) {
			c.last = 0
			c.stormPacket(k, h, flags, wire)
			c.appendPacket(data, us, 0, flags, wire)
			return
		}
		if si == 0 {
			si = c.remember(k, h, us, out)
		} else {
			c.slots[si].storm = 0 // a storm's flow with a RST: one by one from now on
			c.latest(si)
		}
		c.last = si
	}
	slot := &c.slots[si]
	if us-slot.announceUs >= FlowReannounce.Microseconds() {
		slot.announceUs = us
		c.announce(slot, us)
	}
	slot.lastUs = us
	c.appendPacket(data, us, slot.id, flags, wire)
}

// appendPacket adds one packet of flow id to the batch.
func (c *Batcher) appendPacket(data []byte, us int64, id uint32, flags uint8, wire uint32) {
	if len(c.Batch.Flow) == 0 {
		// Size the columns like the last batch: growing them by doubling
		// at flood rates cost more than filling them.
		n := min(max(c.lastN, 64), BatchMax)
		c.Batch = PacketBatch{Iface: c.iface, Start: time.UnixMicro(us), LinkType: c.linkType}
		c.Batch.cols(n, c.Reuse)
		c.lastUs, c.FirstT = us, time.Now()
	}
	c.Batch.DtUs = append(c.Batch.DtUs, us-c.lastUs)
	c.Batch.Flow = append(c.Batch.Flow, id)
	c.Batch.Flags = append(c.Batch.Flags, flags)
	c.Batch.Len = append(c.Batch.Len, wire)
	if c.payload {
		c.Batch.Data = append(c.Batch.Data, append([]byte(nil), data...))
		c.data += len(data)
	}
	c.lastUs = us
	c.Seen++
	c.Bytes += uint64(wire)
	if len(c.Batch.Flow) >= BatchMax || c.data >= batchMaxData {
		c.Flush()
	}
}

// colPool holds the columns of live batches that were released
// (ReleaseBatch): a flood fills a 16384-packet batch every 65 ms, and
// making new columns for each (278 KiB) grew the heap by several MiB within
// the first second of a flood. Each new page of heap is a page fault, and
// 2,500 of them cost more CPU than the capture itself during the first
// million packets (perf stat: 2,510 faults and 173 ms against 52 and 110 ms
// for the next million).
var colPool sync.Pool // of *PacketBatch holding only columns

// cols gives b empty columns with room for n packets: pooled ones when
// reuse is set and the pool has them large enough.
func (b *PacketBatch) cols(n int, reuse bool) {
	if reuse {
		b.reuse = true
		if p, _ := colPool.Get().(*PacketBatch); p != nil && cap(p.Flow) >= n {
			b.DtUs, b.Flow, b.Flags, b.Len = p.DtUs[:0], p.Flow[:0], p.Flags[:0], p.Len[:0]
			return
		}
	}
	b.DtUs, b.Flow, b.Flags, b.Len = make([]int64, 0, n), make([]uint32, 0, n), make(ByteNums, 0, n), make([]uint32, 0, n)
}

// ReleaseBatch hands the columns of a live capture's batch back for reuse.
// It is called once per event by whoever is last to see it: the engine,
// after the recorder, the detectors and a sink that keeps nothing
// (snapshot's report); or the TUI, once it has applied the event
// (ui.Options.Done). The batch is left empty, so a reader that kept it by
// mistake sees no packets rather than another batch's, and a second call
// does nothing. Other events, and batches read from files, are left alone.
func ReleaseBatch(ev event.Event) {
	if b, ok := ev.Body.(*PacketBatch); ok {
		b.Release()
	}
}

// Release is ReleaseBatch for the batch itself: it makes *PacketBatch an
// event.Releaser, which is all the engine knows of it. A batch read from a
// file, or one already released, is left alone.
func (b *PacketBatch) Release() {
	if !b.reuse {
		return
	}
	cols := &PacketBatch{DtUs: b.DtUs, Flow: b.Flow, Flags: b.Flags, Len: b.Len}
	b.DtUs, b.Flow, b.Flags, b.Len, b.Data, b.reuse = nil, nil, nil, nil, nil, false
	colPool.Put(cols)
}

// withTag is an Ethernet frame with tag put back after the MAC addresses.
func withTag(data []byte, tag VlanTag) []byte {
	out := make([]byte, 0, len(data)+4)
	out = append(out, data[:12]...)
	out = append(out, byte(tag.Tpid>>8), byte(tag.Tpid), byte(tag.Tci>>8), byte(tag.Tci))
	return append(out, data[12:]...)
}

func (c *Batcher) announce(slot *flowSlot, us int64) {
	// A flow event must come before the batch that uses its id.
	fi := slot.key.Info(slot.id, c.iface)
	fi.Out = slot.out
	c.Emit(event.New(time.UnixMicro(us), PacketsName, &fi))
}

// remember gives flow k a slot, its id, and announces it. Past
// MaxCaptureFlows it takes the slot of the idlest flow, which is forgotten:
// that flow keeps its id (see flowIDs) and is announced again if it comes
// back. The LRU list makes that O(1): the batcher used to sort a sample and
// sweep the whole table each time it filled, 9% of the capture's CPU under
// a flood of new flows.
func (c *Batcher) remember(k *flowKey, h uint64, us int64, out bool) int32 {
	var si int32
	var id uint32
	if len(c.slots) > MaxCaptureFlows {
		si = c.slots[0].next
		c.forget(si)
		c.unlink(si)
		id = c.ids.replace(c.slots[si].id, idOf(h, c.salt))
	} else {
		si = int32(len(c.slots))
		c.slots = append(c.slots, flowSlot{})
		id = c.ids.take(idOf(h, c.salt))
	}
	c.slots[si] = flowSlot{key: *k, hash: h, id: id, announceUs: us, firstUs: us, out: out}
	c.insert(si)
	c.pushLatest(si)
	c.announce(&c.slots[si], us)
	if c.newInSec++; c.newInSec == StormNewFlows && (c.storm == nil || !c.storm.on) {
		c.startStorm(us)
	}
	return si
}

// latest moves slot si to the latest end of the LRU list.
func (c *Batcher) latest(si int32) {
	if c.slots[0].prev != si {
		c.unlink(si)
		c.pushLatest(si)
	}
}

func (c *Batcher) unlink(si int32) {
	s := &c.slots[si]
	c.slots[s.prev].next, c.slots[s.next].prev = s.next, s.prev
}

func (c *Batcher) pushLatest(si int32) {
	head := &c.slots[0]
	s := &c.slots[si]
	s.prev, s.next = head.prev, 0
	c.slots[head.prev].next = si
	head.prev = si
}

func (c *Batcher) Flush() {
	if len(c.Batch.Flow) == 0 {
		return
	}
	b := c.Batch
	c.Batch, c.data, c.lastN = PacketBatch{}, 0, len(b.Flow)
	c.Emit(event.New(time.UnixMicro(c.lastUs), PacketsName, &b))
}
