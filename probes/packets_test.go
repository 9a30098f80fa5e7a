package probes

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testframes"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/sessions"
	"golang.org/x/net/bpf"
)

func TestDecodeFlows(t *testing.T) {
	ip4 := func(proto layers.IPProtocol, dst string) *layers.IPv4 {
		return &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.ParseIP(dst)}
	}
	eth4 := &layers.Ethernet{SrcMAC: testframes.MacA, DstMAC: testframes.MacB, EthernetType: layers.EthernetTypeIPv4}
	tcpRST := &layers.TCP{SrcPort: 8080, DstPort: 40000, RST: true, ACK: true, Window: 0}
	tcpIP := ip4(layers.IPProtocolTCP, "10.0.0.2")
	tcpRST.SetNetworkLayerForChecksum(tcpIP)
	udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
	udpIP := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: net.ParseIP("fe80::1"), DstIP: net.ParseIP("ff02::fb")}
	udp.SetNetworkLayerForChecksum(udpIP)
	cases := []struct {
		name  string
		link  packet.LinkKind
		data  []byte
		want  packet.FlowInfo
		flags uint8
	}{
		{"tcp rst", packet.LinkEthernet, testframes.Frame(t, eth4, tcpIP, tcpRST),
			packet.FlowInfo{Proto: "tcp", Src: "10.0.0.1:8080", Dst: "10.0.0.2:40000"}, packet.FlagRST | packet.FlagACK},
		{"vrrp", packet.LinkEthernet, testframes.Frame(t, eth4, ip4(112, "224.0.0.18"), gopacket.Payload([]byte{0x21, 1, 100, 0})),
			packet.FlowInfo{Proto: "vrrp", Src: "10.0.0.1", Dst: "224.0.0.18"}, 0},
		{"udp over ipv6", packet.LinkEthernet, testframes.Frame(t, &layers.Ethernet{SrcMAC: testframes.MacA, DstMAC: testframes.MacB, EthernetType: layers.EthernetTypeIPv6}, udpIP, udp),
			packet.FlowInfo{Proto: "udp", Src: "[fe80::1]:5353", Dst: "[ff02::fb]:53"}, 0},
		{"vlan", packet.LinkEthernet, testframes.Frame(t, &layers.Ethernet{SrcMAC: testframes.MacA, DstMAC: testframes.MacB, EthernetType: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolICMPv4, "10.0.0.3"), gopacket.Payload([]byte{8, 0, 0, 0})),
			packet.FlowInfo{Proto: "icmp", Src: "10.0.0.1", Dst: "10.0.0.3", VLAN: 7}, 0},
		{"arp", packet.LinkEthernet, testframes.Frame(t, &layers.Ethernet{SrcMAC: testframes.MacA, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
			&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
				Operation: 1, SourceHwAddress: testframes.MacA, SourceProtAddress: []byte{10, 0, 0, 1}, DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 0, 0, 2}}),
			packet.FlowInfo{Proto: "arp", Src: "02:00:00:00:00:01", Dst: "ff:ff:ff:ff:ff:ff"}, 0},
		{"mld behind hop-by-hop", packet.LinkEthernet, testframes.MLD(t),
			packet.FlowInfo{Proto: "icmp6", Src: "fe80::1", Dst: "ff02::16"}, 0},
		{"raw ip (tun)", packet.LinkRawIP, testframes.Frame(t, ip4(47, "10.9.9.9"), gopacket.Payload([]byte{0, 0, 8, 0})),
			packet.FlowInfo{Proto: "gre", Src: "10.0.0.1", Dst: "10.9.9.9"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, flags, ok := packet.NewPacketDecoder(c.link).Decode(c.data)
			if !ok {
				t.Fatal("not decoded")
			}
			got := k.Info(0, "")
			if got != c.want || flags != c.flags {
				t.Errorf("got %+v flags %d, want %+v flags %d", got, flags, c.want, c.flags)
			}
		})
	}
	// Cut to the snap length, a TCP header still decodes.
	full := testframes.Frame(t, eth4, tcpIP, tcpRST, gopacket.Payload(make([]byte, 1400)))
	if k, flags, _ := packet.NewPacketDecoder(packet.LinkEthernet).Decode(full[:defaultSnaplen]); k.SrcPort != 8080 || flags&packet.FlagRST == 0 {
		t.Errorf("snapped packet: %+v %d", k, flags)
	}
}

func TestKernelFilterCapsSnaplen(t *testing.T) {
	pkt := make([]byte, 1500)
	prog, err := kernelFilter(nil, 128, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := runBPF(t, prog, pkt); n != 128 {
		t.Errorf("no filter: accepts %d bytes, want 128", n)
	}
	// A tcpdump -ddd program returns 262144 to accept: capped to snaplen.
	user := []bpf.RawInstruction{{Op: 0x28, K: 12}, {Op: 0x15, Jt: 0, Jf: 1, K: 0x800}, {Op: 0x06, K: 262144}, {Op: 0x06, K: 0}}
	prog, _ = kernelFilter(user, 128, false)
	pkt[12] = 8
	if n := runBPF(t, prog, pkt); n != 128 {
		t.Errorf("IPv4 through user filter: %d, want 128", n)
	}
	pkt[12] = 0x86
	if n := runBPF(t, prog, pkt); n != 0 {
		t.Errorf("non-IPv4 accepted: %d", n)
	}
	// On loopback the program first drops outgoing copies by pkt_type.
	lo, _ := kernelFilter(nil, 128, true)
	want, _ := bpf.Assemble([]bpf.Instruction{bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 4, SkipFalse: 1}, bpf.RetConstant{Val: 0}, bpf.RetConstant{Val: 128}})
	if !reflect.DeepEqual(lo, want) {
		t.Errorf("loopback program %v, want %v", lo, want)
	}
}

func runBPF(t *testing.T, raw []bpf.RawInstruction, pkt []byte) int {
	t.Helper()
	var ins []bpf.Instruction
	for _, r := range raw {
		ins = append(ins, r.Disassemble())
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	n, err := vm.Run(pkt)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestUserFilter(t *testing.T) {
	for _, c := range []packet.PacketsConfig{{Filter: "vrrp or"}, {Filter: "vlan 7"}, {BPFFile: "/nonexistent.ddd"}, {Filter: "tcp", BPFFile: "x"}} {
		if _, err := userFilter(c, packet.LinkEthernet); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	prog, err := userFilter(packet.PacketsConfig{Filter: "vrrp"}, packet.LinkEthernet)
	if err != nil {
		t.Fatal(err)
	}
	prog, _ = kernelFilter(prog, 128, false)
	eth := func(etype byte, proto byte) []byte {
		p := make([]byte, 60)
		p[12], p[13], p[14], p[23] = 8, etype, 0x45, proto
		return p
	}
	if n := runBPF(t, prog, eth(0, 112)); n != 128 {
		t.Errorf("vrrp packet: %d, want 128", n)
	}
	if n := runBPF(t, prog, eth(0, 6)); n != 0 {
		t.Errorf("tcp packet accepted by vrrp: %d", n)
	}
	ddd := filepath.Join(t.TempDir(), "f.ddd")
	os.WriteFile(ddd, []byte("4\n40 0 0 12\n21 0 1 2048\n6 0 0 262144\n6 0 0 0\n"), 0o600)
	prog, err = userFilter(packet.PacketsConfig{BPFFile: ddd}, packet.LinkEthernet)
	if err != nil || len(prog) != 4 {
		t.Fatalf("--bpf: %v %v", prog, err)
	}
}

func TestPacketBatchRoundTrip(t *testing.T) {
	start := time.Date(2026, 11, 23, 4, 0, 0, 123456000, time.UTC)
	b := &packet.PacketBatch{Iface: "eth0", Start: start, DtUs: []int64{0, 1000000, 3500000}, Flow: []uint32{1, 1, 2},
		Flags: packet.ByteNums{0, packet.FlagRST | packet.FlagACK, 255}, Len: []uint32{54, 60, 1514}}
	js, err := json.Marshal(event.New(start.Add(4500*time.Millisecond), packet.PacketsName, b))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-11-23T04:00:04.623456Z","probe":"packets","kind":"packets","iface":"eth0","start":"2026-11-23T04:00:00.123456Z","dt_us":[0,1000000,3500000],"flow":[1,1,2],"flags":[0,20,255],"len":[54,60,1514]}`
	if string(js) != want {
		t.Errorf("JSON\n%s\nwant\n%s", js, want)
	}
	var ev event.Event
	if err := json.Unmarshal(js, &ev); err != nil {
		t.Fatal(err)
	}
	got, ok := event.As[packet.PacketBatch](ev)
	if !ok || !reflect.DeepEqual(got, b) {
		t.Fatalf("decoded %+v", ev.Body)
	}
	var times []time.Duration
	got.Each(func(p packet.Packet) { times = append(times, p.Time.Sub(start)) })
	if !reflect.DeepEqual(times, []time.Duration{0, time.Second, 4500 * time.Millisecond}) {
		t.Errorf("times %v", times)
	}
}

func TestCheckNamesMissingInterface(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Packets.Ifaces = []string{"eth9"}
	err := (&packetsProbe{cfg: cfg}).Check()
	var u *Unavailable
	if !errors.As(err, &u) || !strings.Contains(u.Reason, "no interface eth9 (have: ") {
		t.Fatalf("Check: %v", err)
	}
	if err := validatePackets(Config{Packets: packet.PacketsConfig{RingMB: 8, Ifaces: []string{"eth9"}}}); err == nil {
		t.Error("Validate accepted eth9")
	}
}

// TestRecordedBytesPerPacket writes what the probe emits for a mixed
// workload through the real session writer: the budget is 40 bytes
// per packet in the .stk file.
func TestRecordedBytesPerPacket(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	path := filepath.Join(t.TempDir(), "b.stk")
	w, err := sessions.Create(path, sessions.Header{}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	const flows, total = 500, 200000
	for id := range flows {
		w.Write(event.New(at, packet.PacketsName, &packet.FlowInfo{ID: hashID(id), Iface: "eth0", Proto: "tcp",
			Src: "10.0.0.1:" + packet.Itoa(uint64(30000+id)), Dst: "10.0.0.2:443"}))
	}
	b := &packet.PacketBatch{Iface: "eth0", Start: at}
	for i := range total {
		// Mixed traffic: random flows, gaps of 0-200 µs, TCP flags, sizes.
		b.DtUs = append(b.DtUs, rng.Int64N(200))
		b.Flow = append(b.Flow, hashID(rng.IntN(flows)))
		b.Flags = append(b.Flags, []uint8{packet.FlagACK, packet.FlagACK | packet.FlagPSH, packet.FlagACK}[rng.IntN(3)])
		b.Len = append(b.Len, []uint32{66, 1514, 1514, 590}[rng.IntN(4)])
		if len(b.Flow) == packet.BatchMax || i == total-1 {
			w.Write(event.New(at, packet.PacketsName, b))
			w.Flush()
			b = &packet.PacketBatch{Iface: "eth0", Start: at}
		}
	}
	w.Close()
	per := float64(w.Size()) / total
	t.Logf("%d mixed packets: %d bytes, %.1f bytes per packet", total, w.Size(), per)
	if per > 40 {
		t.Errorf("%.1f bytes per packet, budget 40", per)
	}
}

// hashID is an id spread over 32 bits as the capture's are (flowIDs), not
// a small number: they cost a little more to record (4.6 bytes per packet
// here against 4.0 for ids 1 to 500).
func hashID(i int) uint32 { return uint32(i+1) * 2654435761 }
