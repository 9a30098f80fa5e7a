package packet

import (
	"bytes"
	"math/rand/v2"
	"net"
	"testing"
	"time"
	"unsafe"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testframes"
)

// TestVLANsAreSeparateFlows reads a pcap with the same 5-tuple untagged, on
// VLAN 10, on VLAN 20 and QinQ 100.10: four flows, each named with its
// tags, each with its own packets.
func TestVLANsAreSeparateFlows(t *testing.T) {
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	at := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	frames := [][]byte{testframes.VLAN(t), testframes.VLAN(t, 10), testframes.VLAN(t, 20), testframes.VLAN(t, 100, 10)}
	for i := range 12 {
		d := frames[i%4]
		w.WritePacket(gopacket.CaptureInfo{Timestamp: at.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(d), Length: len(d)}, d)
	}
	flows := map[uint32]FlowInfo{}
	count := map[uint32]int{}
	err := PcapEvents(&buf, false, func(ev event.Event) {
		switch b := ev.Body.(type) {
		case *FlowInfo:
			flows[b.ID] = *b
		case *PacketBatch:
			b.Each(func(p Packet) { count[p.Flow]++ })
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"10.0.0.1:5000 > 10.0.0.2:53":             true,
		"10.0.0.1:5000 > 10.0.0.2:53 vlan 10":     true,
		"10.0.0.1:5000 > 10.0.0.2:53 vlan 20":     true,
		"10.0.0.1:5000 > 10.0.0.2:53 vlan 100.10": true,
	}
	if len(flows) != 4 {
		t.Fatalf("%d flows, want 4: %v", len(flows), flows)
	}
	for id, f := range flows {
		if !want[f.String()] || f.Proto != "udp" {
			t.Errorf("unexpected flow %q (%s)", f.String(), f.Proto)
		}
		if count[id] != 3 {
			t.Errorf("%s: %d packets, want 3", f, count[id])
		}
	}
}

// TestKernelStrippedTagIsTheOuterVLAN: a live capture gets the outer tag
// beside the frame (VLAN offload), and any tag left in the frame is inner.
func TestKernelStrippedTagIsTheOuterVLAN(t *testing.T) {
	d := NewPacketDecoder(LinkEthernet)
	var k flowKey
	d.decodeInto(testframes.VLAN(t), VlanTag{Tpid: EtherDot1Q, Tci: 0x2000 | 30}, &k) // priority 1, VLAN 30
	if k.vlan != 30 || k.innerVLAN != 0 || k.SrcPort != 5000 {
		t.Errorf("stripped tag 30: %+v", k)
	}
	d.decodeInto(testframes.VLAN(t, 7), VlanTag{Tpid: etherQinQ, Tci: 300}, &k)
	if k.vlan != 300 || k.innerVLAN != 7 || k.dstPort != 53 {
		t.Errorf("stripped 300, inner 7 in the frame: %+v", k)
	}
	// With --payload the tag goes back into the bytes, as libpcap does.
	ids := NewFlowIDs()
	var got []byte
	b := NewBatcher("eth0", LinkEthernet, ids, func(ev event.Event) {
		if pb, ok := ev.Body.(*PacketBatch); ok && len(pb.Data) > 0 {
			got = pb.Data[0]
		}
	}, true)
	plain := testframes.VLAN(t)
	b.AddUs(plain, 1, uint32(len(plain)), VlanTag{Tpid: EtherDot1Q, Tci: 30})
	b.Flush()
	// Both frames carry Ethernet padding after the 47 bytes that matter.
	if want := testframes.VLAN(t, 30); len(got) != len(plain)+4 || !bytes.Equal(got[:47], want[:47]) {
		t.Errorf("payload with the tag put back:\n got %x\nwant %x", got, want)
	}
}

// refDecode is the flow key as gopacket's layers give it: the reference the
// fixed-offset decoder must agree with.
// nofb is gopacket's no-op decode feedback, for the reference decoder.
var nofb = gopacket.NilDecodeFeedback

func refDecode(link LinkKind, data []byte) (k flowKey, flags uint8, ok bool) {
	var eth layers.Ethernet
	var dot1q layers.Dot1Q
	var ip4 layers.IPv4
	var ip6 layers.IPv6
	var tcp layers.TCP
	var udp layers.UDP
	et := layers.EthernetType(0)
	if link == LinkRawIP {
		switch {
		case len(data) > 0 && data[0]>>4 == 4:
			et = layers.EthernetTypeIPv4
		case len(data) > 0 && data[0]>>4 == 6:
			et = layers.EthernetTypeIPv6
		default:
			return k, 0, false
		}
	} else {
		if eth.DecodeFromBytes(data, nofb) != nil {
			return k, 0, false
		}
		copy(k.src[:], eth.SrcMAC)
		copy(k.dst[:], eth.DstMAC)
		et, data = eth.EthernetType, eth.Payload
		for tags := 0; (et == layers.EthernetTypeDot1Q || et == layers.EthernetTypeQinQ) && tags < 2; tags++ {
			if dot1q.DecodeFromBytes(data, nofb) != nil {
				k.etherType = uint16(et)
				return k, 0, true
			}
			if tags == 0 {
				k.vlan = dot1q.VLANIdentifier
			} else {
				k.innerVLAN = dot1q.VLANIdentifier
			}
			et, data = dot1q.Type, dot1q.Payload
		}
	}
	k.etherType = uint16(et)
	var l4 []byte
	switch et {
	case layers.EthernetTypeIPv4:
		if ip4.DecodeFromBytes(data, nofb) != nil {
			return k, 0, true
		}
		k.ipVer, k.proto = 4, uint8(ip4.Protocol)
		k.src, k.dst = [16]byte{}, [16]byte{}
		copy(k.src[:], ip4.SrcIP)
		copy(k.dst[:], ip4.DstIP)
		if ip4.Flags&layers.IPv4MoreFragments == 0 && ip4.FragOffset == 0 {
			l4 = ip4.Payload
		}
	case layers.EthernetTypeIPv6:
		if ip6.DecodeFromBytes(data, nofb) != nil {
			return k, 0, true
		}
		k.ipVer, k.proto, l4 = 6, uint8(ip6.NextHeader), ip6.Payload
		if ip6.HopByHop != nil {
			k.proto = uint8(ip6.HopByHop.NextHeader)
		}
		copy(k.src[:], ip6.SrcIP)
		copy(k.dst[:], ip6.DstIP)
	default:
		return k, 0, true
	}
	switch {
	case k.proto == 6 && l4 != nil:
		if tcp.DecodeFromBytes(l4, nofb) == nil {
			k.SrcPort, k.dstPort = uint16(tcp.SrcPort), uint16(tcp.DstPort)
			flags = l4[13]
		}
	case k.proto == 17 && l4 != nil:
		if udp.DecodeFromBytes(l4, nofb) == nil {
			k.SrcPort, k.dstPort = uint16(udp.SrcPort), uint16(udp.DstPort)
		}
	}
	return k, flags, true
}

// TestDecoderAgreesWithGopacket runs the fixed-offset decoder and gopacket's
// layers over a corpus of frames (every header kind the fast path reads
// and the ones it hands to gopacket) and over 200,000 random mutations of
// them: same flow key, same flags, same verdict on every one.
func TestDecoderAgreesWithGopacket(t *testing.T) {
	src4, dst4 := net.IPv4(10, 0, 0, 1), net.IPv4(192, 168, 7, 9)
	src6, dst6 := net.ParseIP("2001:db8::1"), net.ParseIP("ff02::fb")
	tcp := func() *layers.TCP {
		return &layers.TCP{SrcPort: 443, DstPort: 40000, SYN: true, ACK: true, Window: 1, DataOffset: 8,
			Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: make([]byte, 8)}}}
	}
	udp := func() *layers.UDP { return &layers.UDP{SrcPort: 5353, DstPort: 53} }
	eth := func(et layers.EthernetType) *layers.Ethernet {
		return &layers.Ethernet{SrcMAC: testframes.MacA, DstMAC: testframes.MacB, EthernetType: et}
	}
	v4 := func(p layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, TTL: 64, Protocol: p, SrcIP: src4, DstIP: dst4}
	}
	v6 := func(p layers.IPProtocol) *layers.IPv6 {
		return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: p, SrcIP: src6, DstIP: dst6}
	}
	with := func(l4 interface {
		gopacket.SerializableLayer
		SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
	}, nl gopacket.NetworkLayer) gopacket.SerializableLayer {
		l4.SetNetworkLayerForChecksum(nl)
		return l4
	}
	ip4t, ip4u, ip6t, ip6u := v4(6), v4(17), v6(6), v6(17)
	opts := v4(17)
	opts.Options = []layers.IPv4Option{{OptionType: 148, OptionLength: 4, OptionData: []byte{0, 0}}}
	frag := v4(17)
	frag.Flags = layers.IPv4MoreFragments
	corpus := []struct {
		link LinkKind
		data []byte
	}{
		{LinkEthernet, testframes.Frame(t, eth(layers.EthernetTypeIPv4), ip4t, with(tcp(), ip4t), gopacket.Payload("x"))},
		{LinkEthernet, testframes.Frame(t, eth(layers.EthernetTypeIPv4), ip4u, with(udp(), ip4u), gopacket.Payload("x"))},
		{LinkEthernet, testframes.Frame(t, eth(layers.EthernetTypeIPv6), ip6t, with(tcp(), ip6t))},
		{LinkEthernet, testframes.Frame(t, eth(layers.EthernetTypeIPv6), ip6u, with(udp(), ip6u), gopacket.Payload("y"))},
		{LinkEthernet, testframes.Frame(t, eth(layers.EthernetTypeIPv4), opts, with(udp(), opts))},
		{LinkEthernet, testframes.Frame(t, eth(layers.EthernetTypeIPv4), frag, gopacket.Payload(make([]byte, 16)))},
		{LinkEthernet, testframes.Frame(t, eth(layers.EthernetTypeIPv4), v4(112), gopacket.Payload([]byte{0x21, 1, 100, 0}))},
		{LinkEthernet, testframes.MLD(t)},
		{LinkEthernet, testframes.VLAN(t, 10)},
		{LinkEthernet, testframes.VLAN(t, 100, 20)},
		{LinkEthernet, testframes.Frame(t, eth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
			HwAddressSize: 6, ProtAddressSize: 4, Operation: 1, SourceHwAddress: testframes.MacA, SourceProtAddress: []byte{10, 0, 0, 1},
			DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 0, 0, 2}})},
		{LinkEthernet, testframes.Frame(t, &layers.Ethernet{SrcMAC: testframes.MacA, DstMAC: testframes.MacB, Length: 7, EthernetType: layers.EthernetTypeLLC},
			&layers.LLC{DSAP: 0x42, SSAP: 0x42, Control: 3})},
		{LinkRawIP, testframes.Frame(t, ip4t, with(tcp(), ip4t))},
		{LinkRawIP, testframes.Frame(t, ip6u, with(udp(), ip6u))},
		{LinkRawIP, jumbogram()},
		{LinkRawIP, ip4Options()},
		{LinkRawIP, jumbogramOf(0xffff)}, // too small for a jumbogram
	}
	// A TSO frame: the IPv4 total length is 0.
	tso := append([]byte(nil), corpus[0].data...)
	tso[14+2], tso[14+3] = 0, 0
	corpus = append(corpus, struct {
		link LinkKind
		data []byte
	}{LinkEthernet, tso})
	rng := rand.New(rand.NewPCG(4, 4))
	check := func(link LinkKind, data []byte) {
		t.Helper()
		var got flowKey
		d := NewPacketDecoder(link)
		gf, gok := d.decodeInto(data, VlanTag{}, &got)
		want, wf, wok := refDecode(link, data)
		if got != want || gf != wf || gok != wok {
			t.Fatalf("frame %x (link %d):\n got %+v flags %d ok %v\nwant %+v flags %d ok %v", data, link, got, gf, gok, want, wf, wok)
		}
	}
	// The rare headers decode to their ports, not just to the same verdict.
	for _, data := range [][]byte{jumbogram(), ip4Options()} {
		k, _, ok := NewPacketDecoder(LinkRawIP).Decode(data)
		if !ok || k.proto != 17 || k.SrcPort == 0 || k.dstPort == 0 {
			t.Fatalf("%x: got %+v ok %v, want a UDP flow with ports", data, k, ok)
		}
	}
	for _, c := range corpus {
		check(c.link, c.data)
		for n := 1; n < len(c.data); n++ {
			check(c.link, c.data[:n]) // every snap length
		}
	}
	// Every single-byte change of every frame.
	for _, c := range corpus {
		data := append([]byte(nil), c.data...)
		for i := range data {
			was := data[i]
			for v := range 256 {
				data[i] = byte(v)
				check(c.link, data)
			}
			data[i] = was
		}
	}
	interesting := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x3a, 0x40, 0x45, 0x46, 0x47, 0x4f, 0x60, 0x81, 0x86, 0x88, 0x94, 0xa8, 0xc2, 0xdd, 0xff}
	for range 200000 {
		c := corpus[rng.IntN(len(corpus))]
		data := append([]byte(nil), c.data...)
		for range 1 + rng.IntN(4) {
			i := rng.IntN(len(data))
			if rng.IntN(2) == 0 {
				data[i] = interesting[rng.IntN(len(interesting))]
			} else {
				data[i] = byte(rng.Uint32())
			}
		}
		if rng.IntN(4) == 0 {
			data = data[:rng.IntN(len(data)+1)]
		}
		check(c.link, data)
	}
}

// jumbogram is a raw IPv6 packet with a payload length of 0 and a
// hop-by-hop jumbogram option (RFC 2675) giving the length, carrying UDP.
func jumbogram() []byte { return jumbogramOf(65552) }

func jumbogramOf(n uint32) []byte {
	b := []byte{0x60, 0, 0, 0, 0, 0, 0 /* hop-by-hop */, 64}
	b = append(b, net.ParseIP("2001:db8::1")...)
	b = append(b, net.ParseIP("2001:db8::2")...)
	b = append(b, 17, 0, ipv6Jumbogram, 4, byte(n>>24), byte(n>>16), byte(n>>8), byte(n)) // next: UDP
	b = append(b, 0x14, 0xe9, 0, 53, 0, 0, 0, 0)                                          // UDP 5353 > 53, length 0 (jumbo)
	return append(b, "payload"...)
}

// ip4Options is a raw IPv4 UDP packet whose header has two no-ops, a
// router alert and an end-of-options with padding after it.
func ip4Options() []byte {
	b := []byte{0x47, 0, 0, 28 + 8 + 2, 0, 1, 0, 0, 1, 17, 0, 0, 10, 0, 0, 1, 224, 0, 0, 22}
	b = append(b, 1, 1, 148, 4, 0, 0, 0, 0)
	b = append(b, 0x13, 0x88, 0x13, 0x89, 0, 10, 0, 0) // UDP 5000 > 5001
	return append(b, "hi"...)
}

// TestFlowKeySame checks the flow key has no padding (same compares its
// bytes) and that same agrees with == whichever field differs.
func TestFlowKeySame(t *testing.T) {
	if n := unsafe.Sizeof(flowKey{}); n != flowKeySize {
		t.Fatalf("flowKey is %d bytes, same compares %d", n, flowKeySize)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		var a flowKey
		b := (*[flowKeySize]byte)(unsafe.Pointer(&a))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		o := a
		if !a.same(&o) {
			t.Fatalf("%+v: not the same as its copy", a)
		}
		c := (*[flowKeySize]byte)(unsafe.Pointer(&o))
		c[rng.IntN(flowKeySize)] ^= 1 << rng.IntN(8)
		if a.same(&o) != (a == o) || a.same(&o) {
			t.Fatalf("%+v vs %+v: same says %v", a, o, a.same(&o))
		}
	}
}
