package findings

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
)

// stormSecond is a "storm" event for the second starting at t0+s: flows
// new flows, syn SYNs of which hs completed.
func stormSecond(iface string, s float64, flows, syn, hs uint64) event.Event {
	start := t0.Add(time.Duration(s * float64(time.Second)))
	st := &packet.Storm{Iface: iface, Start: start, IntervalS: 1, NewFlows: flows, Packets: flows, SYN: syn, Handshakes: hs,
		Sources: []packet.StormSource{
			{Addr: "198.18.7.0/24", Flows: flows / 3, Packets: flows / 3, SYN: syn / 3},
			{Addr: "10.0.0.2", Flows: flows / 2, Packets: flows / 2},
		},
		DstPorts: []packet.StormPort{{Port: 80, Flows: flows / 2}, {Port: 443, Flows: flows / 4}},
		Ended:    flows < packet.StormNewFlows}
	if syn > 0 {
		st.SYNDsts = []packet.StormDst{{Dst: "10.0.0.2:80", SYN: syn}}
	}
	return event.New(start.Add(time.Second), "packets", st)
}

// storming is a storm second every second from..to (exclusive) on eth0,
// the quiet second that ends it after, and capture_stats each second to
// until.
func storming(from, to, until float64, flows, syn, hs uint64) []event.Event {
	var evs []event.Event
	for s := from; s < to; s++ {
		evs = append(evs, stormSecond("eth0", s, flows, syn, hs))
	}
	evs = append(evs, stormSecond("eth0", to, 10, 0, 0))
	return evs
}

// stormFindings runs the packets detector over evs (with an idle
// interface's capture_stats each second for n seconds) and returns the
// findings of name, logged.
func stormFindings(t *testing.T, name string, n int, evs ...[]event.Event) []*event.Finding {
	t.Helper()
	var out []*event.Finding
	all := inTimeOrder(append(evs, ticks("eth0", 500*time.Millisecond, n))...)
	for _, ev := range Run([]Detector{NewPackets()}, all) {
		if f, _ := event.As[event.Finding](ev); f.Finding == name {
			out = append(out, f)
			t.Logf("%s %-7s %-8s %s", ev.Time.Format("15:04:05"), f.State, f.Severity, f.Summary)
		}
	}
	return out
}

func stateList(fs []*event.Finding) []string {
	var out []string
	for _, f := range fs {
		s := f.State
		if s == "" {
			s = "raised"
		}
		out = append(out, s+"/"+f.Severity.String())
	}
	return out
}

// TestFlowStormPersistsAsOneFinding: 30 s of storm is one packet.flow_storm:
// raised at its first second (warn), turned critical at 10 s, refreshed at
// most once a minute, cleared 10 s after its last second.
func TestFlowStormPersistsAsOneFinding(t *testing.T) {
	fs := stormFindings(t, FindingPacketFlowStorm, 60, storming(5, 35, 0, 5_000, 0, 0))
	if got, want := stateList(fs), []string{"raised/warn", "update/critical", "cleared/critical"}; !slices.Equal(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
	d := fs[0].Data.(PacketFlowStormData)
	if d.Iface != "eth0" || d.NewFlowsPerS != 5_000 || d.TopSources[0].Addr != "10.0.0.2" || d.TopDestPorts[0].Port != 80 || d.SynOnlyRatio != 0 {
		t.Errorf("data %+v", d)
	}
	if fs[0].Key != "packet.flow_storm eth0" || fs[2].Count != 30 {
		t.Errorf("key %q, count %d", fs[0].Key, fs[2].Count)
	}
	if len(findingsNamed(storming(5, 35, 0, 5_000, 0, 0), FindingPacketSynFlood)) != 0 {
		t.Errorf("a storm without SYNs is no SYN flood")
	}
}

// TestFlowStormFlapsAsOneFinding: a storm that stops for 3 s and comes
// back is the same storm, updated; one that comes back after 20 s of quiet
// is a new one, raised again. A storm filling the capture's table within a
// second is critical at once.
func TestFlowStormFlapsAsOneFinding(t *testing.T) {
	fs := stormFindings(t, FindingPacketFlowStorm, 80,
		storming(5, 9, 0, 5_000, 0, 0), storming(12, 15, 0, 5_000, 0, 0),
		storming(40, 43, 0, 2*packet.MaxCaptureFlows, 0, 0))
	if got, want := stateList(fs), []string{"raised/warn", "update/critical", "cleared/critical", "raised/critical", "cleared/critical"}; !slices.Equal(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
	if fs[2].Count != 7 {
		t.Errorf("the first storm's count %d, want its 7 seconds", fs[2].Count)
	}
}

// TestFlowStormClearsAndIsBounded: each interface's storm is its own
// condition, and an interface that never storms gets none.
func TestFlowStormPerInterface(t *testing.T) {
	var evs []event.Event
	for s := 5.0; s < 8; s++ {
		evs = append(evs, stormSecond("eth0", s, 5_000, 0, 0), stormSecond("eth1", s, 3_000, 0, 0))
	}
	evs = append(evs, stormSecond("eth2", 6, 400, 0, 0)) // under the threshold: no storm
	fs := stormFindings(t, FindingPacketFlowStorm, 30, evs)
	keys := map[string][]string{}
	for _, f := range fs {
		keys[f.Key] = append(keys[f.Key], f.State)
	}
	if len(keys) != 2 || len(keys["packet.flow_storm eth0"]) != 2 || len(keys["packet.flow_storm eth1"]) != 2 {
		t.Errorf("conditions %v", keys)
	}
}

// TestSynFlood: SYNs that never complete a handshake are a packet.syn_flood
// naming the destination, one finding while it lasts (critical after
// 10 s); a reconnect storm whose handshakes complete is a flow storm only.
func TestSynFlood(t *testing.T) {
	fs := stormFindings(t, FindingPacketSynFlood, 40, storming(5, 25, 0, 100_000, 50_000, 100))
	if got, want := stateList(fs), []string{"raised/warn", "update/critical", "cleared/critical"}; !slices.Equal(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
	d := fs[0].Data.(PacketSynFloodData)
	if d.Dst != "10.0.0.2:80" || d.SynPerS != 50_000 || d.HandshakeRatio != 0 || len(d.TopSources) != 1 || d.TopSources[0].Addr != "198.18.7.0/24" {
		t.Errorf("data %+v", d)
	}
	storm := stormFindings(t, FindingPacketFlowStorm, 40, storming(5, 25, 0, 100_000, 50_000, 100))
	if sd := storm[0].Data.(PacketFlowStormData); sd.SynOnlyRatio != 0.5 {
		t.Errorf("syn_only_ratio %v, want 0.5 (half the new flows are SYNs without a handshake)", sd.SynOnlyRatio)
	}
	if fs := stormFindings(t, FindingPacketSynFlood, 40, storming(5, 25, 0, 100_000, 50_000, 49_000)); len(fs) != 0 {
		t.Errorf("completed handshakes: %d syn_flood findings", len(fs))
	}
	if fs := stormFindings(t, FindingPacketFlowStorm, 40, storming(5, 25, 0, 100_000, 50_000, 49_000)); len(fs) == 0 {
		t.Errorf("a reconnect storm is still a flow storm")
	}
}

// TestStormFindingFields: the data of both findings has exactly the fields
// README documents (a public contract).
func TestStormFindingFields(t *testing.T) {
	fields := func(v any) []string {
		b, _ := json.Marshal(v)
		var m map[string]any
		json.Unmarshal(b, &m)
		var out []string
		for k, v := range m {
			out = append(out, k)
			if l, ok := v.([]any); ok && len(l) > 0 {
				for k2 := range l[0].(map[string]any) {
					out = append(out, k+"."+k2)
				}
			}
		}
		slices.Sort(out)
		return out
	}
	storm := stormFindings(t, FindingPacketFlowStorm, 20, storming(5, 8, 0, 100_000, 50_000, 0))
	flood := stormFindings(t, FindingPacketSynFlood, 20, storming(5, 8, 0, 100_000, 50_000, 0))
	if got, want := fields(storm[0].Data), []string{"iface", "new_flows_per_s", "syn_only_ratio", "top_dest_ports", "top_dest_ports.flows",
		"top_dest_ports.port", "top_sources", "top_sources.addr", "top_sources.flows", "top_sources.packets"}; !reflect.DeepEqual(got, want) {
		t.Errorf("packet.flow_storm data %v, want %v", got, want)
	}
	if got, want := fields(flood[0].Data), []string{"dst", "handshake_ratio", "iface", "syn_per_s", "top_sources", "top_sources.addr",
		"top_sources.flows", "top_sources.packets"}; !reflect.DeepEqual(got, want) {
		t.Errorf("packet.syn_flood data %v, want %v", got, want)
	}
}

// TestHeartbeatThroughAStormGetsOneGap: a 1 s flow keeps sending through a
// 20 s storm (its packets among 20,000 a second of the storm's, recorded
// under flow 0) and then has one real 3.5 s hole: exactly one packet.gap,
// for the hole, and none for the storm.
func TestHeartbeatThroughAStormGetsOneGap(t *testing.T) {
	beat := upTo(30, 33.5, 34.5, 35.5, 36.5)
	evs := batches(vrrp, 0, secs(beat...)...)
	var storm []event.Event
	for s := 14; s < 34; s++ {
		at := t0.Add(time.Duration(s) * time.Second)
		b := &packet.PacketBatch{Iface: "veth1", Start: at}
		for range 20_000 {
			b.DtUs = append(b.DtUs, 50)
			b.Flow = append(b.Flow, 0)
			b.Flags = append(b.Flags, packet.FlagSYN)
			b.Len = append(b.Len, 54)
		}
		storm = append(storm, event.New(at.Add(time.Second), "packets", b), stormSecond("veth1", float64(s), 20_000, 20_000, 0))
	}
	got := gapEvents(t, inTimeOrder(evs, storm, ticks("veth1", 300*time.Millisecond, 38)))
	if len(got) != 2 {
		t.Fatalf("want the hole raised and cleared, got %d gap events", len(got))
	}
	f, gd := gapOf(got[1])
	if f.State != event.FindingCleared || gd.GapMs != 3500 || gd.Flow != "10.9.0.1 > 224.0.0.18" {
		t.Errorf("%+v %+v", f, gd)
	}
}

// TestEvictedFlowsRaiseNoGap: 1,100 periodic flows (more than the 1,024 the
// detectors' table spares) and a churn of named flows that pushes the
// others out between their packets: a flow the table evicted is not a flow
// that went silent, so no packet.gap, though all keep sending.
func TestEvictedFlowsRaiseNoGap(t *testing.T) {
	var evs []event.Event
	const periodic = 1100
	for p := range periodic {
		fi := packet.FlowInfo{ID: uint32(10 + p), Iface: "veth1", Proto: "udp", Src: "10.9.1." + itoa(p%250) + ":" + itoa(2000+p), Dst: "10.9.0.9:9"}
		off := time.Duration(p) * time.Millisecond / 2
		evs = append(evs, batches(fi, 0, every(t0.Add(off), time.Second, 40, 0, nil)...)...)
	}
	const churn = 2 * packet.MaxTrackedFlows
	for i := range churn {
		at := t0.Add(20*time.Second + time.Duration(i)*10*time.Second/churn)
		fi := packet.FlowInfo{ID: uint32(100000 + i), Iface: "veth1", Proto: "udp", Src: "10.9.2.1:" + itoa(1024+i%60000), Dst: "10.9.0.9:" + itoa(i/60000+1)}
		evs = append(evs, batches(fi, 0, at)...)
	}
	if got := gapEvents(t, inTimeOrder(evs, ticks("veth1", 300*time.Millisecond, 40))); len(got) != 0 {
		t.Errorf("%d gap events for flows that kept sending", len(got))
	}
}
