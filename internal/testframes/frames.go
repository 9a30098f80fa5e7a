// Package testframes builds link-layer frames for tests of the packet
// decoder and the capture. Only tests import it, so gopacket stays out of
// the binary (cmd/stakeout's nogopacket test checks that).
package testframes

import (
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// MacA and MacB are the two locally administered MACs tests use.
var (
	MacA = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	MacB = net.HardwareAddr{2, 0, 0, 0, 0, 2}
)

// Frame serializes layers with lengths and checksums filled in.
func Frame(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// MLD is an MLDv2 report: IPv6, a hop-by-hop router alert, ICMPv6.
func MLD(t testing.TB) []byte {
	hbh := []byte{58, 0, 5, 2, 0, 0, 1, 0} // next: ICMPv6; router alert; PadN
	icmp := []byte{143, 0, 0, 0, 0, 0, 0, 0}
	ip := &layers.IPv6{Version: 6, HopLimit: 1, NextHeader: 0, SrcIP: net.ParseIP("fe80::1"), DstIP: net.ParseIP("ff02::16"),
		Length: uint16(len(hbh) + len(icmp))}
	return Frame(t, &layers.Ethernet{SrcMAC: MacA, DstMAC: MacB, EthernetType: layers.EthernetTypeIPv6}, ip,
		gopacket.Payload(append(hbh, icmp...)))
}

// VLAN is a UDP datagram 10.0.0.1:5000 > 10.0.0.2:53 behind the given
// 802.1Q/802.1ad tags (outermost first).
func VLAN(t testing.TB, tags ...uint16) []byte {
	t.Helper()
	ls := []gopacket.SerializableLayer{}
	et := layers.EthernetTypeIPv4
	for i := len(tags) - 1; i >= 0; i-- {
		ls = append([]gopacket.SerializableLayer{&layers.Dot1Q{VLANIdentifier: tags[i], Type: et}}, ls...)
		et = layers.EthernetTypeDot1Q
		if i == 0 && len(tags) == 2 {
			et = layers.EthernetTypeQinQ
		}
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)}
	udp := &layers.UDP{SrcPort: 5000, DstPort: 53}
	udp.SetNetworkLayerForChecksum(ip)
	ls = append([]gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: MacA, DstMAC: MacB, EthernetType: et}}, ls...)
	return Frame(t, append(ls, ip, udp, gopacket.Payload([]byte("q")))...)
}
