package packet

// Reading and writing capture files without gopacket. gopacket's pcapgo
// imports its layers package, whose 65536-entry metadata tables are 5 MB
// of globals that every GC cycle scans and the pacer counts into the heap
// goal: linked into stakeout they cost about 6 MB of RSS idle and 10 MB
// under a flood (issue 4). No other Go pcap reader stands without them, and
// the formats are small: classic pcap (a 24-byte header, then a 16-byte
// header per packet) and pcapng (blocks of type, length, body, length).
// gopacket stays the oracle the tests compare against.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strings"
	"time"
)

// Link types (LINKTYPE_*) the capture reader and the export know.
const (
	linkTypeEthernet  = 1
	linkTypeRawOld    = 12 // DLT_RAW's number on some BSDs, written by old tools
	linkTypeLinuxSLL  = 113
	linkTypeIPv4      = 228
	linkTypeIPv6      = 229
	linkTypeLinuxSLL2 = 276
)

// Limits on what a capture file makes the reader hold. A captured length
// above libpcap's MAXIMUM_SNAPLEN is refused, as tcpdump refuses it; the
// interface block, the one block read whole, is bounded, and so are the
// interfaces of a section and the length of their names.
const (
	maxCapturedLen   = 262144
	maxIfaceBlock    = 1 << 20
	maxSectionIfaces = 4096
	maxIfaceName     = 256
)

const (
	ngBlockSection   = 0x0a0d0d0a
	ngBlockIface     = 1
	ngBlockPacketOld = 2 // the obsolete Packet Block
	ngBlockSimple    = 3
	ngBlockEnhanced  = 6
	ngByteOrderMagic = 0x1a2b3c4d
)

// capIface is one interface of a capture: a classic pcap file's only one,
// or an interface description block of pcapng.
type capIface struct {
	id    int    // 0, 1, ... over the whole file, every section's interfaces in turn
	index int    // the number packets of its section give it
	link  uint16 // LINKTYPE_*
	name  string // pcapng's if_name, else ""
	label string // what stakeout calls it: the name, else "pcapN" (pcapng) or "pcap"
	snap  uint32
	// A timestamp counts units per second from offset (if_tsresol and
	// if_tsoffset).
	units  uint64
	offset int64
	// skipped: its packets are not read (more interfaces in use at once
	// than PcapEvents holds); counted once.
	skipped bool
}

// capPacket is one packet of a capture file. Data is only valid until the
// next call to next.
type capPacket struct {
	Data  []byte
	Time  time.Time
	Len   int // on the wire
	Iface *capIface
}

// capReader reads the packets of a pcap or pcapng file in order.
type capReader struct {
	r     *bufio.Reader
	ng    bool
	order binary.ByteOrder
	hdr   [28]byte
	buf   []byte // the packet's bytes, reused
	// pcap
	nsPerFrac int64 // 1000 for µs files, 1 for ns files
	pcapIface capIface
	// pcapng: the current section's interfaces, and how many came before it
	ifaces  []*capIface
	nextID  int
	started bool      // the first section header has been read
	last    time.Time // the previous packet's time, for a simple packet block
}

// newCapReader reads the file header (pcap) or first section header
// (pcapng) from r.
func newCapReader(r *bufio.Reader) (*capReader, error) {
	c := &capReader{r: r}
	head, err := r.Peek(4)
	if err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint32(head) == ngBlockSection {
		c.ng = true
		if err := c.nextBlock(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("pcapng: %w", err)
		}
		return c, nil
	}
	if err := c.pcapHeader(); err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	return c, nil
}

func (c *capReader) pcapHeader() error {
	h := c.hdr[:24]
	if _, err := io.ReadFull(c.r, h); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	switch magic := binary.LittleEndian.Uint32(h); magic {
	case 0xa1b2c3d4:
		c.order, c.nsPerFrac = binary.LittleEndian, 1000
	case 0xd4c3b2a1:
		c.order, c.nsPerFrac = binary.BigEndian, 1000
	case 0xa1b23c4d:
		c.order, c.nsPerFrac = binary.LittleEndian, 1
	case 0x4d3cb2a1:
		c.order, c.nsPerFrac = binary.BigEndian, 1
	default:
		return fmt.Errorf("unknown magic %#x", magic)
	}
	if major, minor := c.order.Uint16(h[4:]), c.order.Uint16(h[6:]); major != 2 || minor != 4 {
		return fmt.Errorf("version %d.%d, not 2.4", major, minor)
	}
	// The link type's upper bits carry FCS information (LT_FCS_DATAFLAG).
	c.pcapIface = capIface{link: uint16(c.order.Uint32(h[20:])), snap: c.order.Uint32(h[16:]), label: "pcap"}
	return nil
}

// next returns the next packet; io.EOF at the end of the file, and
// io.ErrUnexpectedEOF (perhaps wrapped) where it was cut short.
func (c *capReader) next() (capPacket, error) {
	if c.ng {
		return c.nextNg()
	}
	h := c.hdr[:16]
	if n, err := io.ReadFull(c.r, h); err != nil {
		if err == io.EOF && n == 0 {
			return capPacket{}, io.EOF
		}
		return capPacket{}, io.ErrUnexpectedEOF
	}
	sec, frac := c.order.Uint32(h), c.order.Uint32(h[4:])
	caplen, wire := c.order.Uint32(h[8:]), c.order.Uint32(h[12:])
	if caplen > maxCapturedLen {
		return capPacket{}, fmt.Errorf("pcap: a packet of %d captured bytes, over the %d-byte limit", caplen, maxCapturedLen)
	}
	if caplen > wire {
		return capPacket{}, fmt.Errorf("pcap: a packet of %d captured bytes but %d on the wire", caplen, wire)
	}
	data, err := c.read(int(caplen))
	if err != nil {
		return capPacket{}, err
	}
	t := time.Unix(int64(sec), int64(frac)*c.nsPerFrac).UTC()
	return capPacket{Data: data, Time: t, Len: int(wire), Iface: &c.pcapIface}, nil
}

// read reads n bytes into the reused buffer.
func (c *capReader) read(n int) ([]byte, error) {
	if cap(c.buf) < n {
		c.buf = make([]byte, max(n, 2048))
	}
	data := c.buf[:n]
	if _, err := io.ReadFull(c.r, data); err != nil {
		return nil, io.ErrUnexpectedEOF
	}
	return data, nil
}

// discard skips n bytes of the file.
func (c *capReader) discard(n uint32) error {
	if _, err := c.r.Discard(int(n)); err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

// nextNg reads blocks up to the next packet.
func (c *capReader) nextNg() (capPacket, error) {
	for {
		p, ok, err := c.block()
		if err != nil || ok {
			if err != nil && err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("pcapng: %w", err)
			}
			return p, err
		}
	}
}

// nextBlock reads the first section header.
func (c *capReader) nextBlock() error {
	_, _, err := c.block()
	return err
}

// block reads one block: a packet (ok), or a section or interface header,
// or a block skipped.
func (c *capReader) block() (p capPacket, ok bool, err error) {
	h := c.hdr[:8]
	if n, err := io.ReadFull(c.r, h); err != nil {
		if err == io.EOF && n == 0 {
			return p, false, io.EOF // only between blocks may the file end
		}
		return p, false, io.ErrUnexpectedEOF
	}
	if binary.LittleEndian.Uint32(h) == ngBlockSection {
		return p, false, c.section()
	}
	if !c.started {
		return p, false, errors.New("the file does not begin with a section header")
	}
	typ, total := c.order.Uint32(h), c.order.Uint32(h[4:])
	if total < 12 || total%4 != 0 {
		return p, false, fmt.Errorf("a block of type %#x is %d bytes long, not a multiple of 4 of at least 12", typ, total)
	}
	body := total - 12 // between the length and the trailing length
	switch typ {
	case ngBlockIface:
		return p, false, c.iface(body)
	case ngBlockEnhanced, ngBlockPacketOld:
		return c.packet(typ, body)
	case ngBlockSimple:
		return c.simple(body)
	}
	return p, false, c.discard(body + 4) // statistics, names, secrets, custom
}

// section reads a section header: its byte order and version. Interfaces
// of the sections before are gone.
func (c *capReader) section() error {
	h := c.hdr[8:20] // byte-order magic, version, and 4 bytes of the section length
	if _, err := io.ReadFull(c.r, h); err != nil {
		return io.ErrUnexpectedEOF
	}
	switch {
	case binary.LittleEndian.Uint32(h) == ngByteOrderMagic:
		c.order = binary.LittleEndian
	case binary.BigEndian.Uint32(h) == ngByteOrderMagic:
		c.order = binary.BigEndian
	default:
		return errors.New("a section header with no byte-order magic")
	}
	total := c.order.Uint32(c.hdr[4:])
	if total < 28 || total%4 != 0 {
		return fmt.Errorf("a section header %d bytes long", total)
	}
	// 1.2 was written by early tools for the same format; libpcap reads it.
	if major, minor := c.order.Uint16(h[4:]), c.order.Uint16(h[6:]); major != 1 || minor != 0 && minor != 2 {
		return fmt.Errorf("section version %d.%d, not 1.0", major, minor)
	}
	c.started = true
	c.nextID += len(c.ifaces)
	c.ifaces = c.ifaces[:0]
	return c.discard(total - 20) // the rest of the section length, options, trailer
}

// iface reads an interface description block of body bytes.
func (c *capReader) iface(body uint32) error {
	if body < 8 || body > maxIfaceBlock {
		return fmt.Errorf("an interface block of %d bytes (the limit is %d)", body+12, maxIfaceBlock)
	}
	if len(c.ifaces) >= maxSectionIfaces {
		return fmt.Errorf("more than %d interfaces in a section", maxSectionIfaces)
	}
	b, err := c.readGrowing(int(body) + 4)
	if err != nil {
		return err
	}
	b = b[:body]
	f := &capIface{id: c.nextID + len(c.ifaces), index: len(c.ifaces), link: c.order.Uint16(b), snap: c.order.Uint32(b[4:]), units: 1e6}
	for o := b[8:]; len(o) >= 4; {
		code, n := c.order.Uint16(o), int(c.order.Uint16(o[2:]))
		if code == 0 { // opt_endofopt
			break
		}
		if 4+n > len(o) {
			return fmt.Errorf("interface %d: option %d runs past its block", f.index, code)
		}
		v := o[4 : 4+n]
		switch code {
		case 2: // if_name
			f.name = ifaceName(v)
		case 9: // if_tsresol: 10^-v, or 2^-(v&0x7f) with the top bit set
			if n < 1 {
				break
			}
			if f.units, err = tsUnits(v[0]); err != nil {
				return fmt.Errorf("interface %d: %w", f.index, err)
			}
		case 14: // if_tsoffset, seconds
			if n >= 8 {
				f.offset = int64(c.order.Uint64(v))
			}
		}
		o = o[min(len(o), 4+(n+3)&^3):]
	}
	f.label = f.name
	if f.label == "" {
		f.label = fmt.Sprintf("pcap%d", f.index)
	}
	c.ifaces = append(c.ifaces, f)
	return nil
}

// readGrowing reads n bytes into the reused buffer, growing it as the bytes
// arrive, so a short file claiming a large block can't make it large.
func (c *capReader) readGrowing(n int) ([]byte, error) {
	b := c.buf[:0]
	for len(b) < n {
		m := min(n-len(b), 64<<10)
		b = slices.Grow(b, m)
		if _, err := io.ReadFull(c.r, b[len(b):len(b)+m]); err != nil {
			return nil, io.ErrUnexpectedEOF
		}
		b = b[:len(b)+m]
	}
	c.buf = b[:0]
	return b, nil
}

func ifaceName(v []byte) string {
	// A name is NUL-terminated in some writers.
	if i := bytes.IndexByte(v, 0); i >= 0 {
		v = v[:i]
	}
	if len(v) > maxIfaceName {
		v = v[:maxIfaceName]
	}
	return strings.ToValidUTF8(string(v), "")
}

// tsUnits is how many units a second an if_tsresol value counts.
func tsUnits(res byte) (uint64, error) {
	if res&0x80 != 0 {
		if e := res & 0x7f; e <= 63 {
			return 1 << e, nil
		}
		return 0, fmt.Errorf("timestamp resolution 2^-%d is finer than a 64-bit count can hold", res&0x7f)
	}
	if res > 19 {
		return 0, fmt.Errorf("timestamp resolution 10^-%d is finer than a 64-bit count can hold", res)
	}
	u := uint64(1)
	for range res {
		u *= 10
	}
	return u, nil
}

// maxCapSec is the last second of year 9999: a capture's timestamp (64 bits
// of units, plus a 64-bit offset) is held between 1970 and it, so that
// neither the sum wraps nor a time comes out that JSON cannot write.
const maxCapSec = 253402300799

// time converts a timestamp of the interface's units to a time.
func (f *capIface) time(ts uint64) time.Time {
	sec, frac := ts/f.units, ts%f.units
	// frac*1e9/units, exact for any units: 128 bits in between.
	hi, lo := bits.Mul64(frac, 1e9)
	ns, _ := bits.Div64(hi, lo, f.units)
	s := int64(min(sec, maxCapSec))
	s = min(max(s+min(max(f.offset, -maxCapSec), maxCapSec), 0), maxCapSec)
	return time.Unix(s, int64(ns)).UTC()
}

// packet reads an enhanced (or obsolete) packet block of body bytes.
func (c *capReader) packet(typ, body uint32) (p capPacket, ok bool, err error) {
	if body < 20 {
		return p, false, fmt.Errorf("a packet block of %d bytes", body+12)
	}
	h := c.hdr[8:28]
	if _, err := io.ReadFull(c.r, h); err != nil {
		return p, false, io.ErrUnexpectedEOF
	}
	idx := int(c.order.Uint32(h))
	if typ == ngBlockPacketOld {
		idx = int(c.order.Uint16(h)) // then a 16-bit drop count
	}
	if idx >= len(c.ifaces) {
		return p, false, fmt.Errorf("a packet of interface %d, of %d described in its section", idx, len(c.ifaces))
	}
	f := c.ifaces[idx]
	caplen, wire := c.order.Uint32(h[12:]), c.order.Uint32(h[16:])
	if caplen > maxCapturedLen {
		return p, false, fmt.Errorf("a packet of %d captured bytes, over the %d-byte limit", caplen, maxCapturedLen)
	}
	if caplen > body-20 {
		return p, false, fmt.Errorf("a packet of %d captured bytes in a block of %d", caplen, body+12)
	}
	data, err := c.read(int(caplen))
	if err != nil {
		return p, false, err
	}
	if err := c.discard(body - 20 - caplen + 4); err != nil { // padding, options, trailer
		return p, false, err
	}
	t := f.time(uint64(c.order.Uint32(h[4:]))<<32 | uint64(c.order.Uint32(h[8:])))
	c.last = t
	return capPacket{Data: data, Time: t, Len: max(int(wire), len(data)), Iface: f}, true, nil
}

// simple reads a simple packet block: interface 0, no timestamp (the
// previous packet's time is kept, so the timeline does not jump back to
// year 1), the captured bytes what the block holds up to the snap length.
func (c *capReader) simple(body uint32) (p capPacket, ok bool, err error) {
	if body < 4 {
		return p, false, fmt.Errorf("a simple packet block of %d bytes", body+12)
	}
	if len(c.ifaces) == 0 {
		return p, false, errors.New("a simple packet block before any interface block")
	}
	f := c.ifaces[0]
	if _, err := io.ReadFull(c.r, c.hdr[8:12]); err != nil {
		return p, false, io.ErrUnexpectedEOF
	}
	wire := c.order.Uint32(c.hdr[8:])
	caplen := min(wire, body-4)
	if f.snap != 0 {
		caplen = min(caplen, f.snap)
	}
	if caplen > maxCapturedLen {
		return p, false, fmt.Errorf("a packet of %d captured bytes, over the %d-byte limit", caplen, maxCapturedLen)
	}
	data, err := c.read(int(caplen))
	if err != nil {
		return p, false, err
	}
	if err := c.discard(body - 4 - caplen + 4); err != nil {
		return p, false, err
	}
	return capPacket{Data: data, Time: c.last, Len: int(wire), Iface: f}, true, nil
}

// pcapFileHeader is a classic pcap file header: little-endian, microsecond
// timestamps, version 2.4.
func pcapFileHeader(snaplen uint32, link uint16) []byte {
	h := make([]byte, 24)
	binary.LittleEndian.PutUint32(h, 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], snaplen)
	binary.LittleEndian.PutUint32(h[20:], uint32(link))
	return h
}

// appendPcapRecord appends a classic pcap packet header (µs) and data.
func appendPcapRecord(b []byte, t time.Time, wire int, data []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(t.Unix()))
	b = binary.LittleEndian.AppendUint32(b, uint32(t.Nanosecond()/1000))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = binary.LittleEndian.AppendUint32(b, uint32(max(wire, len(data))))
	return append(b, data...)
}
