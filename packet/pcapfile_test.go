package packet

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testframes"
)

// ngFile builds a pcapng file block by block, in either byte order, for
// what pcapgo's writer can't make: big-endian sections, several sections,
// other timestamp resolutions and offsets, simple and obsolete packet
// blocks, blocks to skip.
type ngFile struct {
	b     []byte
	order ngOrder
}

type ngOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

func (f *ngFile) block(typ uint32, body []byte) {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	f.b = f.order.AppendUint32(f.b, typ)
	f.b = f.order.AppendUint32(f.b, n)
	f.b = append(f.b, body...)
	f.b = f.order.AppendUint32(f.b, n)
}

func (f *ngFile) section(order ngOrder) {
	f.order = order
	var b []byte
	b = order.AppendUint32(b, ngByteOrderMagic)
	b = order.AppendUint16(b, 1)
	b = order.AppendUint16(b, 0)
	b = order.AppendUint64(b, ^uint64(0))
	b = f.opt(b, 4, []byte("stakeout test")) // shb_userappl
	b = f.opt(b, 0, nil)
	f.block(ngBlockSection, b)
}

func (f *ngFile) opt(b []byte, code uint16, v []byte) []byte {
	b = f.order.AppendUint16(b, code)
	b = f.order.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// iface adds an interface block; tsresol < 0 leaves the option out.
func (f *ngFile) iface(link uint16, name string, tsresol int, offset int64) {
	var b []byte
	b = f.order.AppendUint16(b, link)
	b = append(b, 0, 0)
	b = f.order.AppendUint32(b, 65535)
	if name != "" {
		b = f.opt(b, 2, []byte(name))
	}
	if tsresol >= 0 {
		b = f.opt(b, 9, []byte{byte(tsresol)})
	}
	if offset != 0 {
		b = f.opt(b, 14, f.order.AppendUint64(nil, uint64(offset)))
	}
	b = f.opt(b, 1, []byte("a comment")) // opt_comment, ignored
	b = f.opt(b, 0, nil)
	f.block(ngBlockIface, b)
}

// packet adds an enhanced packet block (or, if old, an obsolete one).
func (f *ngFile) packet(iface int, ts uint64, wire int, data []byte, old bool) {
	var b []byte
	typ := uint32(ngBlockEnhanced)
	if old {
		typ = ngBlockPacketOld
		b = f.order.AppendUint16(b, uint16(iface))
		b = f.order.AppendUint16(b, 0)
	} else {
		b = f.order.AppendUint32(b, uint32(iface))
	}
	b = f.order.AppendUint32(b, uint32(ts>>32))
	b = f.order.AppendUint32(b, uint32(ts))
	b = f.order.AppendUint32(b, uint32(len(data)))
	b = f.order.AppendUint32(b, uint32(wire))
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	b = f.opt(b, 2, f.order.AppendUint32(nil, 1)) // epb_flags: inbound
	b = f.opt(b, 0, nil)
	f.block(typ, b)
}

func (f *ngFile) simple(wire int, data []byte) {
	f.block(ngBlockSimple, append(f.order.AppendUint32(nil, uint32(wire)), data...))
}

// testFrames are a few real frames of different lengths (padding 0-3).
func testFrames(t *testing.T) [][]byte {
	eth := &layers.Ethernet{SrcMAC: testframes.MacA, DstMAC: net6MAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: []byte{10, 0, 0, 1}, DstIP: []byte{10, 0, 0, 2}}
	var out [][]byte
	for n := range 4 {
		udp := &layers.UDP{SrcPort: layers.UDPPort(5000 + n), DstPort: 53}
		udp.SetNetworkLayerForChecksum(ip)
		out = append(out, testframes.Frame(t, eth, ip, udp, gopacket.Payload(bytes.Repeat([]byte{byte(n)}, 17+n))))
	}
	return out
}

var net6MAC = []byte{2, 0, 0, 0, 0, 2}

// readAll reads every packet of b with the capture reader.
func readAll(t *testing.T, b []byte) ([]capPacket, error) {
	t.Helper()
	cr, err := newCapReader(bufio.NewReader(bytes.NewReader(b)))
	if err != nil {
		return nil, err
	}
	var out []capPacket
	for {
		p, err := cr.next()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return out, err
		}
		p.Data = bytes.Clone(p.Data)
		out = append(out, p)
	}
}

// oraclePacket is what pcapgo reads of a packet.
type oraclePacket struct {
	data       []byte
	ci         gopacket.CaptureInfo
	link       layers.LinkType
	name       string
	section    int
	ifaceIndex int
}

// pcapgoAll reads b with pcapgo, the oracle.
func pcapgoAll(t *testing.T, b []byte) []oraclePacket {
	t.Helper()
	var out []oraclePacket
	if binary.LittleEndian.Uint32(b) != ngBlockSection {
		r, err := pcapgo.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		for {
			data, ci, err := r.ReadPacketData()
			if err == io.EOF {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, oraclePacket{data: data, ci: ci, link: r.LinkType()})
		}
	}
	section := 0
	r, err := pcapgo.NewNgReader(bytes.NewReader(b), pcapgo.NgReaderOptions{WantMixedLinkType: true,
		SectionEndCallback: func([]pcapgo.NgInterface, pcapgo.NgSectionInfo) { section++ }})
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		ifc, err := r.Interface(ci.InterfaceIndex)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, oraclePacket{data: data, ci: ci, link: ci.AncillaryData[0].(layers.LinkType), name: ifc.Name,
			section: section, ifaceIndex: ci.InterfaceIndex})
	}
}

// TestCapReaderMatchesPcapgo reads pcap files in both byte orders and both
// resolutions, pcapng written by pcapgo (several interfaces of different
// link types), and pcapng built here (two sections of opposite byte order,
// ms/µs/ns resolutions, timestamp offsets, obsolete packet blocks, blocks
// to skip), and checks every packet against what pcapgo reads: bytes, time
// to the ns, length, interface, its link type and name.
func TestCapReaderMatchesPcapgo(t *testing.T) {
	frames := testFrames(t)
	at := time.Date(2026, 11, 23, 4, 0, 0, 123456789, time.UTC)
	files := map[string][]byte{}

	for _, nano := range []bool{false, true} {
		var b bytes.Buffer
		w := pcapgo.NewWriter(&b)
		if nano {
			w = pcapgo.NewWriterNanos(&b)
		}
		w.WriteFileHeader(65535, layers.LinkTypeEthernet)
		for i, fr := range frames {
			w.WritePacket(gopacket.CaptureInfo{Timestamp: at.Add(time.Duration(i) * 1001 * time.Microsecond), CaptureLength: len(fr), Length: len(fr) + i}, fr)
		}
		files[fmt.Sprintf("pcap nano=%v", nano)] = bytes.Clone(b.Bytes())
		files[fmt.Sprintf("pcap big-endian nano=%v", nano)] = swapPcap(b.Bytes())
	}

	var ngb bytes.Buffer
	ng, err := pcapgo.NewNgWriterInterface(&ngb, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, SnapLength: 65535}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	tun, _ := ng.AddInterface(pcapgo.NgInterface{Name: "tun0", LinkType: layers.LinkTypeRaw})
	anon, _ := ng.AddInterface(pcapgo.NgInterface{LinkType: layers.LinkTypeLinuxSLL})
	for i, fr := range frames {
		ng.WritePacket(gopacket.CaptureInfo{Timestamp: at.Add(time.Duration(i) * time.Nanosecond), CaptureLength: len(fr), Length: len(fr), InterfaceIndex: 0}, fr)
		ng.WritePacket(gopacket.CaptureInfo{Timestamp: at.Add(time.Second), CaptureLength: len(fr) - 14, Length: len(fr) - 14, InterfaceIndex: tun}, fr[14:])
		ng.WritePacket(gopacket.CaptureInfo{Timestamp: at.Add(2 * time.Second), CaptureLength: 20, Length: len(fr), InterfaceIndex: anon}, fr[:20])
	}
	ng.Flush()
	files["pcapng by pcapgo"] = ngb.Bytes()

	var f ngFile
	base := uint64(at.Unix())
	for s, order := range []ngOrder{binary.LittleEndian, binary.BigEndian, binary.LittleEndian} {
		f.section(order)
		f.iface(linkTypeEthernet, fmt.Sprintf("s%d-ms", s), 3, 0)
		f.block(5, make([]byte, 12))                // interface statistics of interface 0, skipped
		f.block(0x00000bad, []byte("custom block")) // skipped
		f.iface(LinkTypeRaw, "", 6, -3600)
		f.iface(linkTypeEthernet, fmt.Sprintf("s%d-ns", s), 9, 1<<20)
		f.iface(linkTypeEthernet, "default µs", -1, 0)
		for i, fr := range frames {
			f.packet(0, base*1e3+uint64(i)*7, len(fr), fr, false)
			f.packet(1, base*1e6+123456+uint64(s), len(fr)-14, fr[14:], i%2 == 1)
			f.packet(2, base*1e9+uint64(at.Nanosecond())+uint64(i), len(fr)+4, fr, i == 0)
			f.packet(3, base*1e6+999999, len(fr), fr[:30+i], false)
		}
	}
	files["pcapng built"] = f.b

	for name, b := range files {
		t.Run(name, func(t *testing.T) {
			got, err := readAll(t, b)
			if err != nil {
				t.Fatal(err)
			}
			want := pcapgoAll(t, b)
			if len(got) != len(want) || len(got) < len(frames) {
				t.Fatalf("read %d packets, pcapgo %d", len(got), len(want))
			}
			for i, w := range want {
				g := got[i]
				if !bytes.Equal(g.Data, w.data) || !g.Time.Equal(w.ci.Timestamp) || g.Len != w.ci.Length ||
					g.Iface.index != w.ifaceIndex || g.Iface.link != uint16(w.link) || g.Iface.name != w.name {
					t.Errorf("packet %d: %s len %d iface %+v, pcapgo %s len %d iface %d link %d %q", i,
						g.Time.Format(time.RFC3339Nano), g.Len, *g.Iface, w.ci.Timestamp.Format(time.RFC3339Nano), w.ci.Length, w.ifaceIndex, w.link, w.name)
				}
				// Interfaces of different sections are different ones.
				if i > 0 && (got[i-1].Iface.index == g.Iface.index) != (got[i-1].Iface.id == g.Iface.id) && want[i-1].section == w.section {
					t.Errorf("packet %d: interface ids %d and %d in one section", i, got[i-1].Iface.id, g.Iface.id)
				}
				if i > 0 && want[i-1].section != w.section && got[i-1].Iface.id >= g.Iface.id {
					t.Errorf("packet %d: interface id %d of a new section not after %d", i, g.Iface.id, got[i-1].Iface.id)
				}
			}
		})
	}
}

// swapPcap turns a little-endian pcap file into the same file written
// big-endian.
func swapPcap(le []byte) []byte {
	b := bytes.Clone(le)
	sw32 := func(o int) { binary.BigEndian.PutUint32(b[o:], binary.LittleEndian.Uint32(b[o:])) }
	sw16 := func(o int) { binary.BigEndian.PutUint16(b[o:], binary.LittleEndian.Uint16(b[o:])) }
	sw32(0)
	sw16(4)
	sw16(6)
	for _, o := range []int{8, 12, 16, 20} {
		sw32(o)
	}
	for o := 24; o+16 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[o+8:]))
		for k := range 4 {
			sw32(o + 4*k)
		}
		o += 16 + n
	}
	return b
}

// TestCapReaderBinaryResolution: if_tsresol as a power of 2 (pcapgo rounds
// its scale to whole ns per unit, so it is not the oracle here) is read
// exactly, checked with big-number arithmetic and, if tcpdump is there,
// against `tcpdump --nano -tt -r`. A simple packet block is interface 0's,
// at the previous packet's time, its captured bytes what the block holds.
func TestCapReaderBinaryResolution(t *testing.T) {
	frames := testFrames(t)
	var f ngFile
	f.section(binary.BigEndian)
	f.iface(linkTypeEthernet, "bin", 0x80|20, -7) // 2^-20 s
	start := uint64(1_700_000_000) << 20
	ticks := []uint64{start, start + 1, start + 3<<19 + 12345, start + 1<<20 - 1}
	for i, tk := range ticks {
		f.packet(0, tk, len(frames[i]), frames[i], false)
	}
	f.simple(len(frames[1]), frames[1])
	valid := bytes.Clone(f.b)
	// A packet longer than the block holds (and than libpcap accepts): the
	// bytes the block holds, padding included, since it can't say.
	f.simple(len(frames[2])+100, frames[2])

	got, err := readAll(t, f.b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ticks)+2 {
		t.Fatalf("%d packets", len(got))
	}
	for i, tk := range ticks {
		// floor(tk * 1e9 / 2^20) ns, minus 7 s.
		ns := new(big.Int).Mul(new(big.Int).SetUint64(tk), big.NewInt(1e9))
		ns.Rsh(ns, 20)
		want := time.Unix(0, 0).Add(-7 * time.Second).Add(time.Duration(ns.Int64() - 1_700_000_000*1e9)).Add(1_700_000_000 * time.Second)
		if !got[i].Time.Equal(want) {
			t.Errorf("packet %d at %s, want %s", i, got[i].Time.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
		}
	}
	for i, p := range got[len(ticks):] {
		fr := frames[1+i]
		if i == 1 {
			fr = append(bytes.Clone(fr), make([]byte, 3)...)
		}
		if !p.Time.Equal(got[len(ticks)-1].Time) || !bytes.Equal(p.Data, fr) || p.Iface.index != 0 || p.Len != len(frames[1+i])+100*i {
			t.Errorf("simple packet %d: %s %d bytes of %d", i, p.Time, len(p.Data), p.Len)
		}
	}

	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump not installed (make test installs it)")
	}
	path := filepath.Join(t.TempDir(), "bin.pcapng")
	os.WriteFile(path, valid, 0o600)
	out, err := exec.Command("tcpdump", "--nano", "-tt", "-n", "-r", path).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump: %v\n%s", err, out)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 && !strings.HasPrefix(l, "reading from") {
			lines = append(lines, f[0])
		}
	}
	if len(lines) != len(got)-1 {
		t.Fatalf("tcpdump read %d packets, we %d:\n%s", len(lines), len(got), out)
	}
	for i := range ticks {
		if s := fmt.Sprintf("%d.%09d", got[i].Time.Unix(), got[i].Time.Nanosecond()); s != lines[i] {
			t.Errorf("packet %d at %s, tcpdump says %s", i, s, lines[i])
		}
	}
}

// TestCapReaderCutAnywhere: a capture cut at any byte reads up to the last
// whole packet, with no error once the file header is whole.
func TestCapReaderCutAnywhere(t *testing.T) {
	frames := testFrames(t)
	var pb bytes.Buffer
	w := pcapgo.NewWriter(&pb)
	w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	var pcapEnds []int
	for i, fr := range frames {
		w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(int64(i), 0), CaptureLength: len(fr), Length: len(fr)}, fr)
		pcapEnds = append(pcapEnds, pb.Len())
	}
	var f ngFile
	f.section(binary.LittleEndian)
	f.iface(linkTypeEthernet, "eth0", 9, 0)
	headEnd := len(f.b)
	var ngEnds []int
	for i, fr := range frames {
		f.packet(0, uint64(i), len(fr), fr, false)
		ngEnds = append(ngEnds, len(f.b))
	}
	for name, c := range map[string]struct {
		b          []byte
		head       int
		packetEnds []int
	}{"pcap": {pb.Bytes(), 24, pcapEnds}, "pcapng": {f.b, 28, ngEnds}} {
		for n := 4; n <= len(c.b); n++ {
			got, err := readAll(t, c.b[:n])
			want := 0
			for _, e := range c.packetEnds {
				if e <= n {
					want++
				}
			}
			if n < c.head && !errors.Is(err, io.ErrUnexpectedEOF) || n >= c.head && err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%s cut at %d: %v", name, n, err)
			}
			if name == "pcapng" && n >= headEnd && len(got) != want || name == "pcap" && len(got) != want {
				t.Fatalf("%s cut at %d: %d packets, want %d", name, n, len(got), want)
			}
			// PcapEvents reads it up to the cut without an error.
			if n >= headEnd || name == "pcap" && n >= c.head {
				if err := PcapEvents(bytes.NewReader(c.b[:n]), true, func(event.Event) {}); err != nil {
					t.Fatalf("%s cut at %d: PcapEvents: %v", name, n, err)
				}
			}
		}
	}
}

// TestCapReaderRefusesHostileInput: lengths a file can lie about are
// refused with an error that says which (before anything is allocated for
// them), not read into memory.
func TestCapReaderRefusesHostileInput(t *testing.T) {
	pcapHead := pcapFileHeader(65535, linkTypeEthernet)
	bigPcap := append(bytes.Clone(pcapHead), make([]byte, 16)...)
	binary.LittleEndian.PutUint32(bigPcap[24+8:], 1<<31)
	binary.LittleEndian.PutUint32(bigPcap[24+12:], 1<<31)
	shortWire := append(bytes.Clone(pcapHead), make([]byte, 16+4)...)
	binary.LittleEndian.PutUint32(shortWire[24+8:], 4)
	binary.LittleEndian.PutUint32(shortWire[24+12:], 2)
	badVersion := bytes.Clone(pcapHead)
	badVersion[4] = 3

	ng := func(build func(f *ngFile)) []byte {
		var f ngFile
		f.section(binary.LittleEndian)
		build(&f)
		return f.b
	}
	bigEPB := ng(func(f *ngFile) {
		f.iface(1, "", -1, 0)
		f.b = append(f.b, 6, 0, 0, 0, 0xf0, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		f.b = binary.LittleEndian.AppendUint32(f.b, 1<<30)
		f.b = binary.LittleEndian.AppendUint32(f.b, 1<<30)
	})
	bigIDB := ng(func(f *ngFile) { f.b = append(f.b, 1, 0, 0, 0, 0, 0, 0, 0x10) })
	odd := ng(func(f *ngFile) { f.b = append(f.b, 0xad, 0x0b, 0, 0, 13, 0, 0, 0) })
	noIface := ng(func(f *ngFile) { f.packet(0, 0, 60, make([]byte, 60), false) })
	fineRes := ng(func(f *ngFile) { f.iface(1, "", 20, 0) })
	longOpt := ng(func(f *ngFile) {
		b := []byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 200, 0, 'e', 't', 'h', '0'}
		f.block(ngBlockIface, b)
	})
	for name, c := range map[string]struct {
		b    []byte
		want string
	}{
		"pcap caplen":        {bigPcap, "pcap: a packet of 2147483648 captured bytes, over the 262144-byte limit"},
		"pcap caplen > len":  {shortWire, "pcap: a packet of 4 captured bytes but 2 on the wire"},
		"pcap version":       {badVersion, "pcap: version 3.4, not 2.4"},
		"pcapng caplen":      {bigEPB, "over the 262144-byte limit"},
		"pcapng idb":         {bigIDB, "pcapng: an interface block of 268435456 bytes (the limit is 1048576)"},
		"pcapng odd length":  {odd, "not a multiple of 4"},
		"pcapng no iface":    {noIface, "pcapng: a packet of interface 0, of 0 described in its section"},
		"pcapng resolution":  {fineRes, "pcapng: interface 0: timestamp resolution 10^-20"},
		"pcapng long option": {longOpt, "pcapng: interface 0: option 2 runs past its block"},
	} {
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		err := PcapEvents(bytes.NewReader(c.b), false, func(event.Event) {})
		runtime.ReadMemStats(&ms1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
		if a := ms1.TotalAlloc - ms0.TotalAlloc; a > 1<<20 {
			t.Errorf("%s: allocated %d bytes", name, a)
		}
	}
}
