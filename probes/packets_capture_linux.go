package probes

import (
	"context"
	"fmt"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/aligned"
	"github.com/stakeout/stakeout/packet"
)

const (
	ringBlockSize = 1 << 20
	statsEvery    = time.Second
)

// ifaceCapture is one interface's ring, decoder, flow ids and batch. Only
// its own goroutine touches it.
type ifaceCapture struct {
	*packet.Batcher
	t    target
	ring *ring

	statsAt         time.Time
	statsDue        time.Time // the next statistics: a boundary the polling probes tick on too
	totPkts, totDrp uint64
	read            uint64 // packets read from the ring, since the start
	readUs          int64  // the last one's kernel timestamp
}

func openCapture(t target, cfg packet.PacketsConfig, snap uint32, ids *packet.FlowIDs, emit Emit) (*ifaceCapture, error) {
	user, err := userFilter(cfg, t.link)
	if err != nil {
		return nil, err
	}
	prog, err := kernelFilter(user, snap, t.loopback)
	if err != nil {
		return nil, fmt.Errorf("%s: filter: %w", t.name, err)
	}
	bs, n := ringBlocks(t.ringMB)
	r, err := openRing(t.name, bs, n, prog)
	if err != nil {
		return nil, fmt.Errorf("%s: opening capture: %w", t.name, err)
	}
	b := packet.NewBatcher(t.name, t.link, ids, emit, cfg.Payload)
	b.Reuse = true // only the engine sees a live batch: see ReleaseBatch
	now := time.Now()
	return &ifaceCapture{Batcher: b, t: t, ring: r, statsAt: now, statsDue: aligned.Next(now, statsEvery)}, nil
}

// ringBlocks splits a ring of mb MiB into blocks: 1 MiB each, but at
// least four, so the kernel always has a block to fill while stakeout reads
// one (a 1 MiB ring of a single block lost every packet that came while it
// was being read). A block holds a 65535-byte --payload packet.
func ringBlocks(mb int) (blockSize, blocks int) {
	total := max(mb, 1) << 20
	blockSize = ringBlockSize
	for blockSize > 128<<10 && total/blockSize < 4 {
		blockSize /= 2
	}
	return blockSize, total / blockSize
}

// ringMB is --ring-mb, or the default when unset (tests, DefaultConfig).
func ringMB(cfg packet.PacketsConfig) int {
	if cfg.RingMB <= 0 {
		return defaultRingMB
	}
	return cfg.RingMB
}

func (c *ifaceCapture) close() { c.ring.close() }

// run reads the ring a block at a time until ctx is done: under a flood a
// block holds thousands of packets, and the clock and ctx are looked at
// once per block. A quiet link wakes the loop only when something is due
// (the statistics each second, a started batch after batchSpan); ctx being
// done wakes it at once. The socket is closed here, by the goroutine that
// reads it, so no read can touch an unmapped ring.
func (c *ifaceCapture) run(ctx context.Context) error {
	defer c.close()
	defer context.AfterFunc(ctx, c.ring.wake)()
	add := func(p *ringPacket) {
		c.read++
		c.readUs = p.us
		c.AddPacket(p.data, p.us, p.wire, p.tag, p.out)
	}
	for {
		due := c.statsDue
		if len(c.Batch.Flow) > 0 {
			if b := c.FirstT.Add(packet.BatchSpan); b.Before(due) {
				due = b
			}
		}
		if err := c.ring.next(due, add); err != nil && err != errRingTimeout {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%s: reading packets: %w", c.t.name, err)
		}
		now := time.Now()
		if len(c.Batch.Flow) > 0 && now.Sub(c.FirstT) >= packet.BatchSpan {
			c.Flush()
		}
		if !now.Before(c.statsDue) {
			c.stats(now)
		}
		if ctx.Err() != nil {
			c.Finish()
			c.stats(now)
			return nil
		}
	}
}

// stats reads PACKET_STATISTICS (the kernel zeroes its counters on every
// read) and emits the interval's counts, after the batch so far, on the
// second boundaries the polling probes and the engine tick on
// (internal/aligned): one wake-up a second for every interface and probe
// together, not one more for each interface at the moment it opened. With
// Through, they tell the detectors how far the interface's packets are
// all known, the clock by which a periodic flow's silence is judged even
// on an interface where nothing else is sent.
func (c *ifaceCapture) stats(now time.Time) {
	c.Flush()
	pk, dr, fr, err := c.ring.stats()
	if err != nil {
		return
	}
	st := packet.CaptureStats{
		Iface: c.t.name, IntervalS: now.Sub(c.statsAt).Seconds(),
		Packets: uint64(pk), Drops: uint64(dr), Freezes: uint64(fr),
		Seen: c.Seen, Bytes: c.Bytes,
	}
	c.totPkts += st.Packets
	c.totDrp += st.Drops
	st.TotalPackets, st.TotalDrops = c.totPkts, c.totDrp
	st.Through = c.through(now)
	if !st.Through.IsZero() {
		c.Tick(st.Through.UnixMicro()) // a storm's second that is over, when no packet ends it
	}
	c.Seen, c.Bytes, c.statsAt, c.statsDue = 0, 0, now, aligned.Next(now, statsEvery)
	c.Emit(event.New(now, packet.PacketsName, &st))
}

// through is how far every packet the kernel captured on the interface has
// been emitted, just after a flush at now. If every packet the kernel
// queued (its count less its drops) has been read, that is now (less a
// little for a packet stamped but not yet queued); if a filled block is
// still unread, as far as the last packet read; otherwise, the block the
// kernel is filling holds packets of at most its retire timeout.
func (c *ifaceCapture) through(now time.Time) time.Time {
	switch {
	case c.totPkts-c.totDrp == c.read:
		return now.Add(-5 * time.Millisecond)
	case c.ring.ready():
		if c.readUs == 0 {
			return time.Time{}
		}
		return time.UnixMicro(c.readUs)
	}
	return now.Add(-2 * ringBlockTov * time.Millisecond)
}
