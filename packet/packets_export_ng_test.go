package packet

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/stakeout/stakeout/event"
)

// TestPcapNgPerHost: two hosts both have a flow 2 on eth0, between other
// addresses; the pcapng file has one interface per host and interface,
// "r1:eth0", "r2:eth0" (the recording's own host by the name given), and
// each packet carries its own host's flow's addresses. gopacket's pcapng
// reader is the oracle, and stakeout reads the file back alike.
func TestPcapNgPerHost(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 123456789, time.UTC)
	on := func(host string, ev event.Event) event.Event { ev.Host = host; return ev }
	flow := func(src string) *FlowInfo {
		return &FlowInfo{ID: 2, Iface: "eth0", Proto: "udp", Src: src + ":5000", Dst: "10.9.0.9:53"}
	}
	batch := func(at time.Time, n int) *PacketBatch {
		b := &PacketBatch{Iface: "eth0", Start: at}
		for i := range n {
			b.DtUs = append(b.DtUs, int64(i*1000))
			b.Flow = append(b.Flow, 2)
			b.Flags = append(b.Flags, 0)
			b.Len = append(b.Len, 80)
		}
		return b
	}
	evs := []event.Event{
		on("r1", event.New(t0, "packets", flow("10.0.0.1"))),
		on("r2", event.New(t0, "packets", flow("10.0.0.2"))),
		event.New(t0, "packets", flow("10.0.0.3")),
		on("r1", event.New(t0, "packets", batch(t0, 2))),
		on("r2", event.New(t0.Add(time.Millisecond), "packets", batch(t0.Add(time.Millisecond), 1))),
		event.New(t0.Add(2*time.Millisecond), "packets", batch(t0.Add(2*time.Millisecond), 1)),
	}
	var buf bytes.Buffer
	w, err := NewPcapNgWriter(&buf, "local", 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if err := w.Observe(ev); err != nil {
			t.Fatal(err)
		}
	}
	if w.Packets() != 4 {
		t.Fatalf("%d packets written", w.Packets())
	}
	r, err := pcapgo.NewNgReader(bytes.NewReader(buf.Bytes()), pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		ifc, err := r.Interface(ci.InterfaceIndex)
		if err != nil {
			t.Fatal(err)
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if ip == nil {
			t.Fatalf("packet on %s is not IPv4: %v", ifc.Name, p)
		}
		got = append(got, ifc.Name+" "+ip.SrcIP.String()+" "+ci.Timestamp.UTC().Format("05.000000000"))
	}
	want := []string{"r1:eth0 10.0.0.1 00.123456789", "r1:eth0 10.0.0.1 00.124456789", "r2:eth0 10.0.0.2 00.124456789", "local:eth0 10.0.0.3 00.125456789"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("packets:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// stakeout's own reader names its interfaces the same.
	ifaces := map[string]int{}
	if err := PcapEvents(bytes.NewReader(buf.Bytes()), false, func(ev event.Event) {
		if b, ok := event.As[PacketBatch](ev); ok {
			ifaces[b.Iface] += b.N()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(ifaces) != 3 || ifaces["r1:eth0"] != 2 || ifaces["local:eth0"] != 1 {
		t.Fatalf("read back: %v", ifaces)
	}
	// And tcpdump, where it is installed.
	if tcpdump, err := exec.LookPath("tcpdump"); err == nil {
		path := filepath.Join(t.TempDir(), "x.pcapng")
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(tcpdump, "-nr", path).CombinedOutput()
		if err != nil || strings.Count(string(out), "10.9.0.9.53: ") != 4 || !strings.Contains(string(out), "10.0.0.2.5000 >") {
			t.Fatalf("tcpdump -r: %v\n%s", err, out)
		}
	}
}
