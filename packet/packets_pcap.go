package packet

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"time"

	"github.com/stakeout/stakeout/event"
)

// ErrNotPcap is returned by PcapEvents for input that is neither pcap nor
// pcapng.
var ErrNotPcap = errors.New("not a pcap or pcapng file")

// IsPcap reports whether the first bytes of a file are a pcap or pcapng
// signature.
func IsPcap(head []byte) bool {
	if len(head) < 4 {
		return false
	}
	switch binary.LittleEndian.Uint32(head) {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a:
		return true
	}
	return false
}

// PcapEvents reads a capture written by tcpdump -w (pcap or pcapng, on
// another box as well) and hands fn what the packets probe would have
// recorded live: a probe status, then "flow" events and "packets" batches
// (cut every batchSpan of capture time), so the same detectors and pane
// give the same timeline and findings. Interfaces are named from pcapng's
// interface blocks, else "pcap". Payloads are kept only if payload is set.
func PcapEvents(r io.Reader, payload bool, fn func(event.Event)) error {
	_, err := PcapEventsSkipping(r, payload, fn)
	return err
}

// MaxPcapIfaces is how many interfaces of a capture file are read at once,
// each with its own batcher: a hostile file must not make stakeout hold one
// per interface it describes.
const MaxPcapIfaces = 256

// PcapSkipped counts what PcapEventsSkipping could not read: the packets of
// interfaces past MaxPcapIfaces in use at once, which only a pcapng section
// describing more than that many, all of them carrying packets, can have.
type PcapSkipped struct {
	Packets, Ifaces int
	peak            int // interfaces held at once, at most (for tests)
}

// PcapEventsSkipping is PcapEvents that also says what it skipped.
// Interfaces belong to their section, so when a new section's interface
// needs room, the batcher of one that only an earlier section used is
// flushed and its room reused: a file of any number of sections, each with
// its own interfaces, is read whole.
func PcapEventsSkipping(r io.Reader, payload bool, fn func(event.Event)) (PcapSkipped, error) {
	return pcapEvents(r, payload, fn, MaxPcapIfaces)
}

func pcapEvents(r io.Reader, payload bool, fn func(event.Event), maxIfaces int) (PcapSkipped, error) {
	var skipped PcapSkipped
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(4)
	if !IsPcap(head) {
		return skipped, ErrNotPcap
	}
	cr, err := newCapReader(br)
	if err != nil {
		return skipped, err
	}
	ids := NewFlowIDs()
	// Each interface of a pcapng file has its own link type (Wireshark's
	// captures, stakeout export's of an Ethernet and a tun), and its own
	// batcher. An interface of a later section (captures put end to end)
	// with the name and link type of an earlier one is the same one.
	type ifaceKey struct {
		link uint16
		name string
	}
	per := map[ifaceKey]*pcapIface{}
	var last *capIface // the previous packet's interface, and its batcher
	var cur *pcapIface
	started := false
	for {
		p, err := cr.next()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break // a capture cut short (tcpdump killed) is read up to the cut
		}
		if err != nil {
			return skipped, err
		}
		if f := p.Iface; f != last {
			k := ifaceKey{f.link, f.label}
			cur = per[k]
			if cur == nil && len(per) >= maxIfaces {
				// Reuse the room of the interface used longest ago, if no
				// packet of this section used it: its section is over.
				var oldest ifaceKey
				at := cr.nextID
				for ok, old := range per {
					if old.lastID < at {
						oldest, at = ok, old.lastID
					}
				}
				if old := per[oldest]; at < cr.nextID {
					if old.b != nil {
						old.b.Finish()
					}
					delete(per, oldest)
				}
			}
			if cur == nil {
				if len(per) >= maxIfaces {
					skipped.Packets++
					if !f.skipped {
						f.skipped = true
						skipped.Ifaces++
					}
					continue
				}
				cur = newPcapIface(f.link, f.label, ids, fn, payload)
				per[k] = cur
				skipped.peak = max(skipped.peak, len(per))
			}
			cur.lastID = f.id
			last = f
		}
		if !started {
			fn(event.New(p.Time, PacketsName, &event.ProbeStatus{Status: event.StatusOK}))
			started = true
		}
		cur.add(p)
	}
	for _, pi := range per {
		if pi.b != nil {
			pi.b.Finish()
		}
	}
	return skipped, nil
}

// pcapIface is one interface of a capture file: its framing and batcher.
type pcapIface struct {
	b      *Batcher // nil: a link type we can't decode (its packets are skipped)
	lastID int      // the capIface.id that used it last: older than its section's, it is free
}

func newPcapIface(lt uint16, name string, ids *FlowIDs, emit func(event.Event), payload bool) *pcapIface {
	var link LinkKind
	skip := 0
	switch lt {
	case linkTypeEthernet:
		link = LinkEthernet
	case LinkTypeRaw, linkTypeRawOld, linkTypeIPv4, linkTypeIPv6:
		link = LinkRawIP
	case linkTypeLinuxSLL: // tcpdump -i any: a 16-byte cooked header
		link, skip = LinkRawIP, 16
	case linkTypeLinuxSLL2: // 20 bytes
		link, skip = LinkRawIP, 20
	default:
		return &pcapIface{}
	}
	b := NewBatcher(name, link, ids, emit, payload)
	// Recorded bytes keep the capture's own framing, so export writes them
	// back under the same link type.
	b.skip = skip
	if lt != linkTypeEthernet {
		b.linkType = lt
	}
	return &pcapIface{b: b}
}

func (p *pcapIface) add(pk capPacket) {
	if p.b == nil {
		return
	}
	// Cut batches by capture time, as a live capture would have.
	if len(p.b.Batch.Flow) > 0 && pk.Time.Sub(p.b.Batch.Start) >= BatchSpan {
		p.b.Flush()
	}
	p.b.add(pk.Data, pk.Time.Truncate(time.Microsecond), uint32(pk.Len))
}
