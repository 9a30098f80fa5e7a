package packet

import (
	"encoding/binary"
	"io"
	"slices"

	"github.com/stakeout/stakeout/event"
)

// PcapNgWriter writes the recorded packets of several hosts as one pcapng
// file: one interface per host and interface, named "host:iface", so
// Wireshark tells r1's eth0 from r2's. Flow ids are per host (each host's
// capture gives its own), so a flow is looked up on its host. Packets are
// framed as PcapWriter frames them, all interfaces with one link type
// (libpcap refuses a file whose interfaces differ), and stamped in
// nanoseconds.
type PcapNgWriter struct {
	w      io.Writer
	link   uint16
	own    string // the name of the host of events with no Host
	ifaces map[hostIface]uint32
	flows  map[hostFlow]FlowInfo
	n      int
	rec    []byte
	pkt    []byte
}

type hostIface struct{ host, iface string }

type hostFlow struct {
	host string
	id   uint32
}

// NewPcapNgWriter writes the section header for packets of the given link
// types (as NewPcapWriter takes them). own names the recording's own host,
// whose events carry no Host.
func NewPcapNgWriter(w io.Writer, own string, links ...uint16) (*PcapNgWriter, error) {
	p := &PcapNgWriter{w: w, link: 1, own: own, ifaces: map[hostIface]uint32{}, flows: map[hostFlow]FlowInfo{}}
	if links = slices.Compact(slices.Sorted(slices.Values(links))); len(links) == 1 {
		p.link = links[0]
	}
	// Section header: byte-order magic, version 1.0, section length
	// unknown (-1), no options.
	body := binary.LittleEndian.AppendUint32(nil, ngByteOrderMagic)
	body = binary.LittleEndian.AppendUint16(body, 1)
	body = binary.LittleEndian.AppendUint16(body, 0)
	body = binary.LittleEndian.AppendUint64(body, ^uint64(0))
	if _, err := w.Write(ngBlock(nil, ngBlockSection, body)); err != nil {
		return nil, err
	}
	return p, nil
}

// Packets is how many packets were written.
func (p *PcapNgWriter) Packets() int { return p.n }

// IfaceName is the interface name a host's interface gets: "host:iface".
func IfaceName(host, iface string) string { return host + ":" + iface }

// Observe writes the packets of a "packets" event and learns "flow"
// events, each on its event's host.
func (p *PcapNgWriter) Observe(ev event.Event) error {
	host := ev.Host
	if host == "" {
		host = p.own
	}
	if fi, ok := event.As[FlowInfo](ev); ok {
		if len(p.flows) >= 4*MaxTrackedFlows {
			clear(p.flows) // flows are announced again every minute
		}
		p.flows[hostFlow{host, fi.ID}] = *fi
		return nil
	}
	b, ok := event.As[PacketBatch](ev)
	if !ok || b.N() == 0 {
		return nil
	}
	id, err := p.iface(host, b.Iface)
	if err != nil {
		return err
	}
	ferr := eachFramed(b, p.link, &p.pkt, func(f uint32) FlowInfo { return p.flows[hostFlow{host, f}] }, func(pk Packet, data []byte) {
		if err != nil {
			return
		}
		p.rec = appendNgPacket(p.rec[:0], id, pk, data)
		if _, err = p.w.Write(p.rec); err == nil {
			p.n++
		}
	})
	if ferr != nil {
		return ferr
	}
	return err
}

// iface is the interface id of a host's interface, its description
// written the first time.
func (p *PcapNgWriter) iface(host, name string) (uint32, error) {
	k := hostIface{host, name}
	if id, ok := p.ifaces[k]; ok {
		return id, nil
	}
	id := uint32(len(p.ifaces))
	body := binary.LittleEndian.AppendUint16(nil, p.link)
	body = binary.LittleEndian.AppendUint16(body, 0)
	body = binary.LittleEndian.AppendUint32(body, PayloadSnaplen)
	body = ngOption(body, 2, []byte(IfaceName(host, name))) // if_name
	body = ngOption(body, 9, []byte{9})                     // if_tsresol: nanoseconds
	body = ngOption(body, 0, nil)                           // opt_endofopt
	if _, err := p.w.Write(ngBlock(nil, ngBlockIface, body)); err != nil {
		return 0, err
	}
	p.ifaces[k] = id
	return id, nil
}

// ngBlock appends a block: type, total length, body (padded to 4 bytes),
// total length again.
func ngBlock(b []byte, typ uint32, body []byte) []byte {
	pad := (4 - len(body)%4) % 4
	total := uint32(12 + len(body) + pad)
	b = binary.LittleEndian.AppendUint32(b, typ)
	b = binary.LittleEndian.AppendUint32(b, total)
	b = append(b, body...)
	b = append(b, make([]byte, pad)...)
	return binary.LittleEndian.AppendUint32(b, total)
}

// ngOption appends an option: code, length, value padded to 4 bytes.
func ngOption(b []byte, code uint16, v []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, code)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	return append(b, make([]byte, (4-len(v)%4)%4)...)
}

// appendNgPacket appends an enhanced packet block of interface id, its
// timestamp in nanoseconds.
func appendNgPacket(b []byte, id uint32, pk Packet, data []byte) []byte {
	pad := (4 - len(data)%4) % 4
	total := uint32(12 + 20 + len(data) + pad)
	ts := uint64(max(pk.Time.UnixNano(), 0))
	b = binary.LittleEndian.AppendUint32(b, ngBlockEnhanced)
	b = binary.LittleEndian.AppendUint32(b, total)
	b = binary.LittleEndian.AppendUint32(b, id)
	b = binary.LittleEndian.AppendUint32(b, uint32(ts>>32))
	b = binary.LittleEndian.AppendUint32(b, uint32(ts))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = binary.LittleEndian.AppendUint32(b, uint32(max(int(pk.Len), len(data))))
	b = append(b, data...)
	b = append(b, make([]byte, pad)...)
	return binary.LittleEndian.AppendUint32(b, total)
}
