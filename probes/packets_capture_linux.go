package probes

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/stakeout/stakeout/event"
)

const (
	// batchSpan and batchMax bound a "packets" event: the pane is at most a
	// quarter second behind, and a flood makes a few events per second,
	// not one per packet (Emit drops when the engine's queue is full).
	batchSpan = 250 * time.Millisecond
	batchMax  = 16384
	// batchMaxData keeps a --payload batch well under the session file's
	// 1 MiB record limit once base64 has grown it by a third.
	batchMaxData = 512 << 10
	// MaxCaptureFlows caps the flow ids one interface remembers; past it
	// the idlest eighth is forgotten (it gets a new id if it comes back).
	MaxCaptureFlows = 16384
	ringBlockSize   = 1 << 20
	pollTimeout     = 100 * time.Millisecond // how often an idle loop looks at ctx and the clock
	statsEvery      = time.Second
)

// ifaceCapture is one interface's socket, decoder, flow ids and batch. Only
// its own goroutine touches it.
type ifaceCapture struct {
	*batcher
	t  target
	tp *afpacket.TPacket

	statsAt           time.Time
	prevPkts, prevDrp uint32 // gopacket's running totals are 32-bit and wrap
	prevFrz           uint32
	totPkts, totDrp   uint64
}

func openCapture(t target, cfg PacketsConfig, snap uint32, ids *atomic.Uint32, emit Emit) (*ifaceCapture, error) {
	user, err := userFilter(cfg, t.link)
	if err != nil {
		return nil, err
	}
	prog, err := kernelFilter(user, snap, t.loopback)
	if err != nil {
		return nil, fmt.Errorf("%s: filter: %w", t.name, err)
	}
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(t.name),
		afpacket.TPacketVersion3,
		afpacket.OptBlockSize(ringBlockSize),
		afpacket.OptNumBlocks(t.ringMB*(1<<20)/ringBlockSize),
		afpacket.OptPollTimeout(pollTimeout),
		afpacket.OptAddVLANHeader(true),
	)
	if err != nil {
		return nil, fmt.Errorf("%s: opening capture: %w", t.name, err)
	}
	if err := tp.SetBPF(prog); err != nil {
		tp.Close()
		return nil, fmt.Errorf("%s: attaching filter: %w", t.name, err)
	}
	return &ifaceCapture{
		batcher: newBatcher(t.name, t.link, ids, emit, cfg.Payload),
		t:       t, tp: tp, statsAt: time.Now(),
	}, nil
}

// ringMB is --ring-mb, or the default when unset (tests, DefaultConfig).
func ringMB(cfg PacketsConfig) int {
	if cfg.RingMB <= 0 {
		return defaultRingMB
	}
	return cfg.RingMB
}

func (c *ifaceCapture) close() { c.tp.Close() }

// run reads packets until ctx is done. The socket is closed here, by the
// goroutine that reads it, so no read can touch an unmapped ring.
func (c *ifaceCapture) run(ctx context.Context) error {
	defer c.close()
	for n := 0; ; n++ {
		data, ci, err := c.tp.ZeroCopyReadPacketData()
		switch {
		case err == afpacket.ErrTimeout:
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%s: reading packets: %w", c.t.name, err)
		default:
			c.add(data, ci.Timestamp, uint32(ci.Length))
			if n&255 != 0 {
				continue // look at the clock and ctx every 256 packets
			}
		}
		now := time.Now()
		if len(c.batch.Flow) > 0 && now.Sub(c.firstT) >= batchSpan {
			c.flush()
		}
		if now.Sub(c.statsAt) >= statsEvery {
			c.stats(now)
		}
		if ctx.Err() != nil {
			c.flush()
			c.stats(now)
			return nil
		}
	}
}

// stats reads PACKET_STATISTICS (the kernel zeroes its counters on every
// read; gopacket adds them up in 32 bits, which wrap after 4G packets, so
// deltas are taken modulo 2^32) and emits the interval's share.
func (c *ifaceCapture) stats(now time.Time) {
	_, v3, err := c.tp.SocketStats()
	if err != nil {
		return
	}
	pk, dr, fr := uint32(v3.Packets()), uint32(v3.Drops()), uint32(v3.QueueFreezes())
	st := CaptureStats{
		Iface: c.t.name, IntervalS: now.Sub(c.statsAt).Seconds(),
		Packets: uint64(pk - c.prevPkts), Drops: uint64(dr - c.prevDrp), Freezes: uint64(fr - c.prevFrz),
		Seen: c.seen, Bytes: c.bytes,
	}
	c.totPkts += st.Packets
	c.totDrp += st.Drops
	st.TotalPackets, st.TotalDrops = c.totPkts, c.totDrp
	c.prevPkts, c.prevDrp, c.prevFrz = pk, dr, fr
	c.seen, c.bytes, c.statsAt = 0, 0, now
	c.emit(event.New(now, packetsName, &st))
}
