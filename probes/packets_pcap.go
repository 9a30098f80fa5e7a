package probes

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
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

// pcapSource is what pcapgo's two readers have in common.
type pcapSource interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// PcapEvents reads a capture written by tcpdump -w (pcap or pcapng, on
// another box as well) and hands fn what the packets probe would have
// recorded live: a probe status, then "flow" events and "packets" batches
// (cut every batchSpan of capture time), so the same detectors and pane
// give the same timeline and findings. Interfaces are named from pcapng's
// interface blocks, else "pcap". Payloads are kept only if payload is set.
func PcapEvents(r io.Reader, payload bool, fn func(event.Event)) error {
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(4)
	if !IsPcap(head) {
		return ErrNotPcap
	}
	var (
		src   pcapSource
		ng    *pcapgo.NgReader
		links func(idx int) (layers.LinkType, string)
	)
	if binary.LittleEndian.Uint32(head) == 0x0a0d0d0a {
		// Interfaces of several link types (Wireshark's, stakeout export's
		// of an Ethernet and a tun) are each read with their own.
		r, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return fmt.Errorf("pcapng: %w", err)
		}
		src, ng = r, r
		links = func(idx int) (layers.LinkType, string) {
			ifc, err := ng.Interface(idx)
			if err != nil {
				return ng.LinkType(), "pcap"
			}
			name := ifc.Name
			if name == "" {
				name = fmt.Sprintf("pcap%d", idx)
			}
			return ifc.LinkType, name
		}
	} else {
		r, err := pcapgo.NewReader(br)
		if err != nil {
			return fmt.Errorf("pcap: %w", err)
		}
		src = r
		links = func(int) (layers.LinkType, string) { return r.LinkType(), "pcap" }
	}

	var ids atomic.Uint32
	per := map[int]*pcapIface{}
	started := false
	for {
		data, ci, err := src.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break // a capture cut short (tcpdump killed) is read up to the cut
		}
		if err != nil {
			return err
		}
		pi := per[ci.InterfaceIndex]
		if pi == nil {
			if len(per) >= 256 {
				continue
			}
			lt, name := links(ci.InterfaceIndex)
			pi = newPcapIface(lt, name, &ids, fn, payload)
			per[ci.InterfaceIndex] = pi
		}
		if !started {
			fn(event.New(ci.Timestamp, packetsName, &event.ProbeStatus{Status: event.StatusOK}))
			started = true
		}
		pi.add(data, ci)
	}
	for _, pi := range per {
		if pi.b != nil {
			pi.b.flush()
		}
	}
	return nil
}

// pcapIface is one interface of a capture file: its framing and batcher.
type pcapIface struct {
	b *batcher // nil: a link type we can't decode (its packets are skipped)
}

func newPcapIface(lt layers.LinkType, name string, ids *atomic.Uint32, emit Emit, payload bool) *pcapIface {
	var link linkKind
	skip := 0
	switch lt {
	case layers.LinkTypeEthernet:
		link = linkEthernet
	case layers.LinkTypeRaw, 12, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		link = linkRawIP
	case layers.LinkTypeLinuxSLL: // tcpdump -i any: a 16-byte cooked header
		link, skip = linkRawIP, 16
	case 276: // LINKTYPE_LINUX_SLL2: 20 bytes
		link, skip = linkRawIP, 20
	default:
		return &pcapIface{}
	}
	b := newBatcher(name, link, ids, emit, payload)
	// Recorded bytes keep the capture's own framing, so export writes them
	// back under the same link type.
	b.skip = skip
	if lt != layers.LinkTypeEthernet {
		b.linkType = uint16(lt)
	}
	return &pcapIface{b: b}
}

func (p *pcapIface) add(data []byte, ci gopacket.CaptureInfo) {
	if p.b == nil {
		return
	}
	// Cut batches by capture time, as a live capture would have.
	if len(p.b.batch.Flow) > 0 && ci.Timestamp.Sub(p.b.batch.Start) >= batchSpan {
		p.b.flush()
	}
	p.b.add(data, ci.Timestamp.Truncate(time.Microsecond), uint32(ci.Length))
}
