package ui

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testframes"
	"github.com/stakeout/stakeout/packet"
)

// payloadFixture is the packets fixture recorded with --payload, plus a
// SYN with options and the ICMP port unreachable a DNS query got.
func payloadFixture(t testing.TB) []event.Event {
	evs := packetsFixture()
	a, b := net.IPv4(10, 9, 0, 2).To4(), net.IPv4(10, 9, 0, 1).To4()
	ip := &layers.IPv4{Version: 4, TTL: 64, Id: 0x1c46, Flags: layers.IPv4DontFragment, Protocol: layers.IPProtocolTCP, SrcIP: a, DstIP: b}
	syn := &layers.TCP{SrcPort: 40001, DstPort: 8080, Seq: 1234, SYN: true, Window: 64240, Options: []layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
		{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
		{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0, 1, 0, 0, 0, 0}},
		{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
		{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
	}}
	syn.SetNetworkLayerForChecksum(ip)
	eth := &layers.Ethernet{SrcMAC: testframes.MacA, DstMAC: testframes.MacB, EthernetType: layers.EthernetTypeIPv4}
	synFrame := testframes.Frame(t, eth, ip, syn)

	qip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: a, DstIP: b}
	qudp := &layers.UDP{SrcPort: 5000, DstPort: 53}
	qudp.SetNetworkLayerForChecksum(qip)
	query := testframes.Frame(t, qip, qudp, &layers.DNS{ID: 7, RD: true,
		Questions: []layers.DNSQuestion{{Name: []byte("db.internal"), Type: layers.DNSTypeA, Class: layers.DNSClassIN}}})
	unreach := testframes.Frame(t, &layers.Ethernet{SrcMAC: testframes.MacB, DstMAC: testframes.MacA, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: b, DstIP: a},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodePort)},
		gopacket.Payload(query))

	synFlow := packet.FlowInfo{ID: 4, Iface: "veth1", Proto: "tcp", Src: "10.9.0.2:40001", Dst: "10.9.0.1:8080"}
	icmpFlow := packet.FlowInfo{ID: 5, Iface: "veth1", Proto: "icmp", Src: "10.9.0.1", Dst: "10.9.0.2"}
	at := t0.Add(10*time.Second + 700*time.Millisecond)
	evs = append(evs, event.New(at, "packets", &synFlow), event.New(at, "packets", &icmpFlow),
		event.New(at, "packets", &packet.PacketBatch{Iface: "veth1", Start: at, DtUs: []int64{0, 250}, Flow: []uint32{4, 5},
			Flags: packet.ByteNums{packet.FlagSYN, 0}, Len: []uint32{uint32(len(synFrame)), uint32(len(unreach))},
			Data: [][]byte{synFrame, unreach}}))
	sortByTime(evs)
	return evs
}

func payloadModel(t testing.TB, w, h int) Model {
	o := testOptions()
	o.Probes = []string{"packets"}
	return update(NewLive(o), tea.WindowSizeMsg{Width: w, Height: h}, EventsMsg(payloadFixture(t)))
}

// TestGoldenPacketDetail drives the program: select the SYN (two rows up
// from the newest), open it; at 80×24 and 120×40.
func TestGoldenPacketDetail(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			tm := teatest.NewTestModel(t, payloadModel(t, size[0], size[1]),
				teatest.WithInitialTermSize(size[0], size[1]),
				teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.ASCII)))
			tm.Send(press("up"))
			tm.Send(press("up"))
			tm.Send(press("enter"))
			tm.Type("q")
			final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
			s := screen(t, final)
			for _, want := range []string{"▸ TCP", "mss 1460, sackOK, TS val 1 ecr 0, nop, wscale 7", "hex · 74 bytes recorded"} {
				if !strings.Contains(s, want) {
					t.Errorf("detail lacks %q:\n%s", want, s)
				}
			}
			golden.RequireEqual(t, s)
		})
	}
}

func TestPacketDetailQuotesAndCloses(t *testing.T) {
	m := typeKeys(payloadModel(t, 120, 40), "up", "enter")
	s := screen(t, m)
	for _, want := range []string{"▸ ICMP", "type destination unreachable (3)", "code port unreachable (3)",
		"▸ quoted IPv4", "▸ quoted UDP", "dst port 53", "zoomed"} {
		if !strings.Contains(s, want) {
			t.Errorf("ICMP detail lacks %q:\n%s", want, s)
		}
	}
	if !m.panes.Zoomed() {
		t.Error("a packet opens zoomed")
	}
	m = typeKeys(m, "esc")
	if m.panes.Zoomed() || strings.Contains(screen(t, m), "▸ ICMP") {
		t.Errorf("esc should close the packet and give the grid back:\n%s", screen(t, m))
	}
	if !m.panes.slots[0].pane.(packetsPane).tl.pinned {
		t.Error("the row should stay selected")
	}
	// With nothing selected, enter zooms as before.
	m = typeKeys(m, "F", "enter")
	if !m.panes.Zoomed() || m.panes.slots[0].pane.(packetsPane).detail != nil {
		t.Error("enter with no row selected should zoom the pane")
	}
}

// TestPacketDetailWithoutBytes: recorded without --payload, the detail
// says what the record holds and how to get more.
func TestPacketDetailWithoutBytes(t *testing.T) {
	m := typeKeys(packetsModel(100, 30), "up", "enter")
	s := screen(t, m)
	for _, want := range []string{"its bytes were not recorded (stakeout --payload keeps them)", "vrrp 10.9.0.1 > 224.0.0.18", "54 bytes on the wire"} {
		if !strings.Contains(s, want) {
			t.Errorf("detail lacks %q:\n%s", want, s)
		}
	}
}
