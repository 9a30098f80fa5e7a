package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
)

// stormFixture is the packets fixture, then from 12 s a SYN flood on veth1:
// each second a batch of 20,000 packets under flow 0 and its storm event;
// the last one, at 15 s, is the quiet second that ends it when ended is set.
func stormFixture(ended bool) []event.Event {
	evs := packetsFixture()
	for s := 12; s <= 15; s++ {
		at := t0.Add(time.Duration(s) * time.Second)
		b := &packet.PacketBatch{Iface: "veth1", Start: at}
		for range 20_000 {
			b.DtUs = append(b.DtUs, 50)
			b.Flow = append(b.Flow, 0)
			b.Flags = append(b.Flags, packet.FlagSYN)
			b.Len = append(b.Len, 54)
		}
		st := &packet.Storm{Iface: "veth1", Start: at, IntervalS: 1, NewFlows: 40_000, Packets: 40_000, SYN: 20_000, Handshakes: 20,
			Sources:  []packet.StormSource{{Addr: "10.9.0.1", Flows: 20_000, Packets: 20_000}, {Addr: "198.18.7.0/24", Flows: 90, Packets: 90, SYN: 90}},
			DstPorts: []packet.StormPort{{Port: 80, Flows: 20_000}, {Port: 31337, Flows: 3}},
			SYNDsts:  []packet.StormDst{{Dst: "10.9.0.1:80", SYN: 20_000}}}
		if s == 15 {
			st.NewFlows, st.Ended = 12, ended
		}
		evs = append(evs, event.New(at.Add(time.Second), "packets", b), event.New(at.Add(time.Second), "packets", st))
	}
	return evs
}

// TestPacketsPaneShowsAStormAsASummary: while a storm is on the pane shows
// its new flows a second, SYN rate and completion, destination, top
// sources and ports instead of the timeline (whose rows the storm's
// packets never became); once its last event says it ended, the timeline
// is back. The flows table (the heartbeat) stays throughout.
func TestPacketsPaneShowsAStormAsASummary(t *testing.T) {
	o := testOptions()
	o.Probes = []string{"packets"}
	on := stormFixture(false)
	s := screen(t, update(NewLive(o), tea.WindowSizeMsg{Width: 100, Height: 30}, EventsMsg(on[:len(on)-2])))
	for _, want := range []string{"flow storm on veth1: 40.0k new flows/s", "20.0k SYN/s to 10.9.0.1:80, 0% of handshakes completed",
		"top sources", "198.18.7.0/24", "31337", "vrrp 10.9.0.1 > 224.0.0.18"} {
		if !strings.Contains(s, want) {
			t.Errorf("storm screen lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "tcpdump -ttt") {
		t.Errorf("the timeline is shown during the storm:\n%s", s)
	}
	s = screen(t, update(NewLive(o), tea.WindowSizeMsg{Width: 100, Height: 30}, EventsMsg(stormFixture(true))))
	if strings.Contains(s, "flow storm on") || !strings.Contains(s, "tcpdump -ttt") || !strings.Contains(s, "[R.]") {
		t.Errorf("after the storm ended: want the timeline back, as it was:\n%s", s)
	}
}

// TestPacketsPaneStormGoesStale: a storm whose events stop (the capture
// stopped mid-storm) gives the timeline back after stormStale.
func TestPacketsPaneStormGoesStale(t *testing.T) {
	evs := stormFixture(false)
	evs = evs[:len(evs)-2]
	evs = append(evs, event.New(t0.Add(19*time.Second), "packets", &packet.CaptureStats{Iface: "veth1", IntervalS: 1}))
	o := testOptions()
	o.Probes = []string{"packets"}
	s := screen(t, update(NewLive(o), tea.WindowSizeMsg{Width: 100, Height: 30}, EventsMsg(evs)))
	if strings.Contains(s, "flow storm on") {
		t.Errorf("a storm with no event for 4 s still shown:\n%s", s)
	}
}
