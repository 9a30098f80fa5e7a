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
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(4)
	if !IsPcap(head) {
		return PcapSkipped{}, ErrNotPcap
	}
	cr, err := newCapReader(br)
	if err != nil {
		return PcapSkipped{}, err
	}
	ifaces := &pcapIfaces{per: map[ifaceKey]*pcapIface{}, max: maxIfaces, ids: NewFlowIDs(), emit: fn, payload: payload}
	var last *capIface // the previous packet's interface, and its batcher
	var cur *pcapIface
	started := false
	for {
		p, err := cr.next()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break // a capture cut short (tcpdump killed) is read up to the cut
		}
		if err != nil {
			return ifaces.skipped, err
		}
		if f := p.Iface; f != last {
			// cur stays the previous interface's until f has room: a
			// skipped packet must not leave the next one of that
			// interface without its batcher.
			next := ifaces.of(f, cr.nextID)
			if next == nil {
				continue
			}
			cur, last = next, f
		}
		if !started {
			fn(event.New(p.Time, PacketsName, &event.ProbeStatus{Status: event.StatusOK}))
			started = true
		}
		cur.add(p)
	}
	ifaces.flush()
	return ifaces.skipped, nil
}

// ifaceKey names an interface of a capture file. Each interface of a
// pcapng file has its own link type (Wireshark's captures, stakeout
// export's of an Ethernet and a tun), and its own batcher. An interface of
// a later section (captures put end to end) with the name and link type of
// an earlier one is the same one.
type ifaceKey struct {
	link uint16
	name string
}

// pcapIfaces holds the interfaces of a capture file being read, at most
// max at once, and counts the packets it had no room for.
type pcapIfaces struct {
	per     map[ifaceKey]*pcapIface
	max     int
	ids     *FlowIDs
	emit    func(event.Event)
	payload bool
	skipped PcapSkipped
}

// of returns f's interface, making it if there is room (or room can be
// freed), else nil: the packet is skipped, and counted. sectionStart is
// the id of the current section's first interface.
func (t *pcapIfaces) of(f *capIface, sectionStart int) *pcapIface {
	k := ifaceKey{f.link, f.label}
	pi := t.per[k]
	if pi == nil && len(t.per) >= t.max {
		t.freeOldest(sectionStart)
	}
	if pi == nil {
		if len(t.per) >= t.max {
			t.skipped.Packets++
			if !f.skipped {
				f.skipped = true
				t.skipped.Ifaces++
			}
			return nil
		}
		pi = newPcapIface(f.link, f.label, t.ids, t.emit, t.payload)
		t.per[k] = pi
		t.skipped.peak = max(t.skipped.peak, len(t.per))
	}
	pi.lastID = f.id
	return pi
}

// freeOldest reuses the room of the interface used longest ago, if no
// packet of the current section (whose interfaces' ids start at
// sectionStart) used it: its section is over. Its batch is flushed.
func (t *pcapIfaces) freeOldest(sectionStart int) {
	var oldest ifaceKey
	at := sectionStart
	for ok, old := range t.per {
		if old.lastID < at {
			oldest, at = ok, old.lastID
		}
	}
	if old := t.per[oldest]; at < sectionStart {
		if old.b != nil {
			old.b.Finish()
		}
		delete(t.per, oldest)
	}
}

// flush sends every interface's last batch.
func (t *pcapIfaces) flush() {
	for _, pi := range t.per {
		if pi.b != nil {
			pi.b.Finish()
		}
	}
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
