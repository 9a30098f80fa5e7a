package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
)

// packetsFixture is 12 s on veth1 (after 10 s of VRRP alone): VRRP adverts
// every second with a 3.5 s hole, a TCP connection that freezes and is
// reset, and 127 kernel drops.
func packetsFixture() []event.Event {
	vrrp := packet.FlowInfo{ID: 1, Iface: "veth1", Proto: "vrrp", Src: "10.9.0.1", Dst: "224.0.0.18"}
	syn := packet.FlowInfo{ID: 2, Iface: "veth1", Proto: "tcp", Src: "10.9.0.2:40000", Dst: "10.9.0.1:8080"}
	ack := packet.FlowInfo{ID: 3, Iface: "veth1", Proto: "tcp", Src: "10.9.0.1:8080", Dst: "10.9.0.2:40000"}
	evs := []event.Event{event.New(t0, "packets", &event.ProbeStatus{Status: event.StatusOK})}
	for _, fi := range []packet.FlowInfo{vrrp, syn, ack} {
		evs = append(evs, event.New(t0, "packets", &fi))
	}
	pkt := func(at time.Duration, fi packet.FlowInfo, flags uint8, n uint32) event.Event {
		t := t0.Add(at)
		return event.New(t, "packets", &packet.PacketBatch{Iface: "veth1", Start: t, DtUs: []int64{0},
			Flow: []uint32{fi.ID}, Flags: packet.ByteNums{flags}, Len: []uint32{n}})
	}
	// Twelve intervals make a period: adverts from 10 s before.
	for _, s := range []time.Duration{-10000, -9000, -8000, -7000, -6000, -5000, -4000, -3000, -2000, -1000,
		0, 1000, 2000, 3001, 4000, 5000, 8500, 9500, 10500} {
		evs = append(evs, pkt(s*time.Millisecond+100*time.Millisecond, vrrp, 0, 54))
	}
	evs = append(evs,
		pkt(6*time.Second, syn, packet.FlagSYN, 74),
		pkt(6*time.Second+120*time.Microsecond, ack, packet.FlagSYN|packet.FlagACK, 74),
		pkt(6*time.Second+180*time.Microsecond, syn, packet.FlagACK, 66),
		pkt(8*time.Second+200*time.Millisecond, ack, packet.FlagRST|packet.FlagACK, 54))
	for s := 1; s <= 11; s++ {
		st := &packet.CaptureStats{Iface: "veth1", IntervalS: 1, Packets: 2, Seen: 2, Bytes: 120}
		if s == 9 {
			st.Drops, st.Packets = 127, 129
		}
		evs = append(evs, event.New(t0.Add(time.Duration(s)*time.Second), "packets", st))
	}
	// The pane sees events in time order, as the engine hands them over.
	sortByTime(evs)
	return evs
}

func sortByTime(evs []event.Event) {
	for i := 1; i < len(evs); i++ {
		for j := i; j > 0 && evs[j].Time.Before(evs[j-1].Time); j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
}

func packetsModel(w, h int) Model {
	o := testOptions()
	o.Probes = []string{"packets"}
	return update(NewLive(o), tea.WindowSizeMsg{Width: w, Height: h}, EventsMsg(packetsFixture()))
}

func TestGoldenPackets(t *testing.T) {
	golden.RequireEqual(t, screen(t, packetsModel(80, 24)))
}

func TestPacketsPaneMarksGapAndSorts(t *testing.T) {
	s := screen(t, packetsModel(100, 30))
	for _, want := range []string{"▲ gap 00:00:03.500000 (usually 1.00s) vrrp 10.9.0.1 > 224.0.0.18",
		"kernel drops 127 of 149", "[R.]", "[S.]", "flows by pps"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q:\n%s", want, s)
		}
	}
	m := update(packetsModel(100, 30), tea.KeyPressMsg{Code: 'o', Text: "o"})
	if s := screen(t, m); !strings.Contains(s, "flows by gap") {
		t.Errorf("o did not sort by gap:\n%s", s)
	}
	m = update(m, tea.KeyPressMsg{Code: 'o', Text: "o"})
	s = screen(t, m)
	i := strings.Index(s, "flows by rst")
	if i < 0 || !strings.Contains(s[i:strings.Index(s[i:], "\n")+i+200], "tcp 10.9.0.1:8080") {
		t.Errorf("sorted by RSTs, the reset flow should lead:\n%s", s)
	}
}

func TestSIFormat(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 54: "54", 180742: "180.7k", 19.2e6: "19.2M", 3e9: "3.0G"} {
		if got := fmtSI(v); got != want {
			t.Errorf("fmtSI(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestTTTFormat(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Second + 123*time.Microsecond: "00:00:01.000123",
		3500 * time.Millisecond:            "00:00:03.500000",
		61 * time.Minute:                   "01:01:00.000000",
	} {
		if got := fmtTTT(d); got != want {
			t.Errorf("fmtTTT(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestPacketsPaneNamesInterfacesWhenSeveral(t *testing.T) {
	evs := packetsFixture()
	lo := packet.FlowInfo{ID: 9, Iface: "lo", Proto: "udp", Src: "127.0.0.1:5000", Dst: "127.0.0.1:53"}
	at := t0.Add(11 * time.Second)
	evs = append(evs, event.New(at, "packets", &lo), event.New(at, "packets", &packet.PacketBatch{Iface: "lo", Start: at,
		DtUs: []int64{0}, Flow: []uint32{9}, Flags: packet.ByteNums{0}, Len: []uint32{60}}))
	o := testOptions()
	o.Probes = []string{"packets"}
	s := screen(t, update(NewLive(o), tea.WindowSizeMsg{Width: 100, Height: 30}, EventsMsg(evs)))
	for _, want := range []string{"lo udp 127.0.0.1:5000 > 127.0.0.1:53", "veth1 vrrp 10.9.0.1 > 224.0.0.18"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q:\n%s", want, s)
		}
	}
}

// TestPacketsPaneFlagsAnOverdueFlow: capture_stats keep time going while the
// VRRP flow is silent; once it is overdue its row is marked, before any
// next packet could make a packet.gap.
func TestPacketsPaneFlagsAnOverdueFlow(t *testing.T) {
	evs := packetsFixture()
	for s := 12; s <= 14; s++ {
		evs = append(evs, event.New(t0.Add(time.Duration(s)*time.Second), "packets",
			&packet.CaptureStats{Iface: "veth1", IntervalS: 1}))
	}
	o := testOptions()
	o.Probes = []string{"packets"}
	s := screen(t, update(NewLive(o), tea.WindowSizeMsg{Width: 100, Height: 30}, EventsMsg(evs)))
	if !strings.Contains(s, "▲ vrrp 10.9.0.1 > 224.0.0.18") {
		t.Errorf("overdue VRRP flow not marked 3.4 s after its last advert:\n%s", s)
	}
	if s := screen(t, packetsModel(100, 30)); strings.Contains(s, "▲ vrrp") {
		t.Errorf("marked while on time:\n%s", s)
	}
}

// TestPacketsPaneLeavesAClosedConnectionUnmarked: a TCP connection with 1 s
// keepalives that closed is quiet afterwards, and that is not overdue.
func TestPacketsPaneLeavesAClosedConnectionUnmarked(t *testing.T) {
	ka := packet.FlowInfo{ID: 5, Iface: "veth1", Proto: "tcp", Src: "10.9.0.5:6000", Dst: "10.9.0.6:7000"}
	evs := []event.Event{event.New(t0, "packets", &ka)}
	for s := range 16 {
		fl := uint8(packet.FlagACK)
		if s == 15 {
			fl |= packet.FlagFIN
		}
		at := t0.Add(time.Duration(s) * time.Second)
		evs = append(evs, event.New(at, "packets", &packet.PacketBatch{Iface: "veth1", Start: at, DtUs: []int64{0},
			Flow: []uint32{5}, Flags: packet.ByteNums{fl}, Len: []uint32{66}}))
	}
	evs = append(evs, event.New(t0.Add(25*time.Second), "packets", &packet.CaptureStats{Iface: "veth1", IntervalS: 1}))
	o := testOptions()
	o.Probes = []string{"packets"}
	s := screen(t, update(NewLive(o), tea.WindowSizeMsg{Width: 100, Height: 30}, EventsMsg(evs)))
	if !strings.Contains(s, "tcp 10.9.0.5:6000 > 10.9.0.6:7000") || strings.Contains(s, "▲ tcp") {
		t.Errorf("closed connection marked overdue, or missing:\n%s", s)
	}
}

func TestPacketsViewFilter(t *testing.T) {
	m := typeKeys(packetsModel(100, 30), "f")
	for _, r := range "vrrp" {
		m = typeKeys(m, string(r))
	}
	m = typeKeys(m, "enter")
	s := screen(t, m)
	if !strings.Contains(s, "filter: vrrp") || strings.Contains(s, "[S.]") || !strings.Contains(s, "vrrp 10.9.0.1 > 224.0.0.18") {
		t.Fatalf("vrrp should leave only the VRRP rows:\n%s", s)
	}
	// Flags come from the record: the rebuilt TCP header carries them.
	m = typeKeys(m, "f", "ctrl+u")
	for _, r := range "tcp[tcpflags] & tcp-rst != 0" {
		m = typeKeys(m, string(r))
	}
	m = typeKeys(m, "enter")
	tl := timelineOf(screen(t, m))
	if !strings.Contains(tl, "[R.]") || strings.Contains(tl, "[S]") || strings.Contains(tl, "vrrp") {
		t.Fatalf("only the reset should pass:\n%s", tl)
	}
	// A bad expression: its error in the pane, the filter in force kept.
	m = typeKeys(m, "f", "ctrl+u")
	for _, r := range "port banana" {
		m = typeKeys(m, string(r))
	}
	m = typeKeys(m, "enter")
	s = screen(t, m)
	if !strings.Contains(s, "filter › port banana") || !strings.Contains(s, "esc keeps the filter") || !m.panes.Editing() {
		t.Fatalf("a bad expression should show its error and keep the line open:\n%s", s)
	}
	m = typeKeys(m, "esc")
	if s := screen(t, m); !strings.Contains(s, "filter: tcp[tcpflags] & tcp-rst != 0") || !strings.Contains(timelineOf(s), "[R.]") {
		t.Fatalf("esc should keep the filter in force:\n%s", s)
	}
	m = typeKeys(m, "f", "ctrl+u", "enter")
	if s := screen(t, m); strings.Contains(s, "filter:") || !strings.Contains(timelineOf(s), "[S.]") {
		t.Fatalf("an empty filter shows every row again:\n%s", s)
	}
}

// timelineOf is the screen from the timeline's header down.
func timelineOf(s string) string { return s[strings.Index(s, "Δ (tcpdump"):] }

// TestPacketsViewFilterReadsRecordedBytes: with --payload the filter runs
// over the packet's own bytes, a VLAN tag taken out as the kernel does.
func TestPacketsViewFilterReadsRecordedBytes(t *testing.T) {
	fi := packet.FlowInfo{ID: 7, Iface: "eth0", Proto: "udp", Src: "10.0.0.1:5353", Dst: "10.0.0.2:53", VLAN: 10}
	frame := packet.AppendHeaders(nil, fi, packet.Packet{Len: 60}, true)
	if frame[12] != 0x81 {
		t.Fatalf("want a tagged frame, got % x", frame[:16])
	}
	frame[len(frame)-1] = 0xee // a byte only the recording has
	at := t0.Add(time.Second)
	evs := []event.Event{event.New(t0, "packets", &event.ProbeStatus{Status: event.StatusOK}), event.New(t0, "packets", &fi),
		event.New(at, "packets", &packet.PacketBatch{Iface: "eth0", Start: at, DtUs: []int64{0}, Flow: []uint32{7},
			Flags: packet.ByteNums{0}, Len: []uint32{64}, Data: [][]byte{frame}})}
	o := testOptions()
	o.Probes = []string{"packets"}
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 100, Height: 30}, EventsMsg(evs))
	p := m.panes.slots[0].pane.(packetsPane)
	r := p.all.at(0)
	if r.data == nil || r.caplen != len(frame) {
		t.Fatalf("the row should keep its bytes: %d of %d", len(r.data), r.caplen)
	}
	last := fmt.Sprintf("ether[%d] = 0xee", len(frame)-4-1) // the tag out
	for expr, want := range map[string]bool{"udp dst port 53": true, "tcp": false, last: true} {
		f, err := newPktFilter(expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.match(p.info(7), r, r.link); got != want {
			t.Errorf("%s: %v, want %v", expr, got, want)
		}
	}
}

// TestPacketsFilterTakesAPaste: a filter expression is often pasted.
func TestPacketsFilterTakesAPaste(t *testing.T) {
	m := typeKeys(packetsModel(100, 30), "f")
	m = update(m, tea.PasteMsg{Content: "tcp and port 8080\n"}, press("enter"))
	if s := screen(t, m); !strings.Contains(s, "filter: tcp and port 8080") || strings.Contains(timelineOf(s), "vrrp") {
		t.Errorf("the pasted filter should apply:\n%s", s)
	}
}
