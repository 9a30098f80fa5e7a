package packet

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/sessions"
)

// tcpFrame is an Ethernet/IPv4/TCP header (no payload) from src:sport to
// dst:dport with flags.
func tcpFrame(src, dst [4]byte, sport, dport uint16, flags uint8) []byte {
	p := make([]byte, 14+20+20)
	binary.BigEndian.PutUint16(p[12:], 0x0800)
	ip := p[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(ip[2:], 40)
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	tcp[12], tcp[13] = 5<<4, flags
	return p
}

// stormRig is a batcher whose events are kept.
type stormRig struct {
	b       *Batcher
	flows   map[uint32]FlowInfo
	batches []*PacketBatch
	storms  []*Storm
	all     []event.Event
}

func newStormRig() *stormRig {
	r := &stormRig{flows: map[uint32]FlowInfo{}}
	r.b = NewBatcher("eth0", LinkEthernet, NewFlowIDs(), func(ev event.Event) {
		r.all = append(r.all, ev)
		switch b := ev.Body.(type) {
		case *FlowInfo:
			r.flows[b.ID] = *b
		case *PacketBatch:
			r.batches = append(r.batches, b)
		case *Storm:
			r.storms = append(r.storms, b)
		}
	}, false)
	return r
}

func (r *stormRig) add(p []byte, us int64) {
	r.b.AddUs(p, us, uint32(len(p)), VlanTag{})
	if len(r.b.Batch.Flow) > 0 && us-r.b.Batch.Start.UnixMicro() >= BatchSpan.Microseconds() {
		r.b.Flush()
	}
}

// packets counts the recorded packets per flow id.
func (r *stormRig) packets() map[uint32]int {
	n := map[uint32]int{}
	for _, b := range r.batches {
		for _, id := range b.Flow {
			n[id]++
		}
	}
	return n
}

var (
	victim = [4]byte{10, 0, 0, 2}
	beatA  = [4]byte{10, 0, 0, 7}
)

// TestSynFloodIsAggregated: a spoofed SYN flood (100,000 new flows a second
// for 3 s) while a 1 s heartbeat and an established connection run. The
// flood's packets are recorded under flow 0 and only about StormNewFlows of
// its flows are announced; the heartbeat and the connection are recorded
// under their own ids throughout; a "storm" event per second counts the
// flows (within 4%: the HyperLogLog's standard error is 0.8%, and a 2%
// bound failed once in CI, 2.45% low), SYNs, no handshakes, names the victim as the SYN
// destination and its port, and the last one says the storm ended.
func TestSynFloodIsAggregated(t *testing.T) {
	r := newStormRig()
	rng := rand.New(rand.NewPCG(3, 4))
	start := int64(1_700_000_000) * 1e6
	beat := tcpFrame(beatA, victim, 7000, 7001, 0)
	beat[14+9] = 17 // UDP
	conn := tcpFrame(victim, beatA, 22, 50000, FlagACK|FlagPSH)
	us := start
	// 5 s of heartbeat and connection, 3 s of flood, 3 s more of both.
	for us < start+11e6 {
		sec := (us - start) / 1e6
		if (us-start)%1_000_000 == 0 {
			r.add(beat, us)
		}
		if (us-start)%50_000 == 0 {
			r.add(conn, us)
		}
		if sec >= 5 && sec < 8 {
			src := [4]byte{198, 18, byte(rng.IntN(256)), byte(rng.IntN(256))}
			r.add(tcpFrame(src, victim, uint16(1024+rng.IntN(60000)), 80, FlagSYN), us)
		}
		us += 10 // 100,000 a second
	}
	r.b.Finish()

	n := r.packets()
	var beatID, connID uint32
	stormAnnounced := 0
	for id, fi := range r.flows {
		switch {
		case fi.Src == "10.0.0.7:7000":
			beatID = id
		case fi.Src == "10.0.0.2:22":
			connID = id
		default:
			stormAnnounced++
		}
	}
	if n[beatID] != 11 || n[connID] != 220 {
		t.Errorf("heartbeat %d packets under its id (want 11), connection %d (want 220)", n[beatID], n[connID])
	}
	if stormAnnounced > StormNewFlows || stormAnnounced < StormNewFlows/2 {
		t.Errorf("%d of the flood's flows announced, want at most the %d before the storm began", stormAnnounced, StormNewFlows)
	}
	if n[0] < 299_000 {
		t.Errorf("%d packets under flow 0, want nearly all of the 300,000", n[0])
	}
	if len(r.storms) != 4 {
		t.Fatalf("%d storm events, want one per second of the flood and the quiet one that ends it", len(r.storms))
	}
	if end := r.storms[3]; !end.Ended || end.NewFlows >= stormEndFlows || !end.Start.Equal(time.UnixMicro(start+8e6)) {
		t.Errorf("the last storm event %+v: want the quiet second after the flood, ended", end)
	}
	for i, s := range r.storms[:3] {
		t.Logf("second %d: %d new flows, %d packets, %d SYN, %d handshakes, top source %+v, port %+v, SYN dst %+v, ended %v",
			i, s.NewFlows, s.Packets, s.SYN, s.Handshakes, s.Sources[0], s.DstPorts[0], s.SYNDsts[0], s.Ended)
		if s.NewFlows < 96_000 || s.NewFlows > 104_000 || s.Handshakes != 0 || s.IntervalS != 1 {
			t.Errorf("second %d: %d new flows (want 100,000 ± 4%%), %d handshakes", i, s.NewFlows, s.Handshakes)
		}
		if s.SYNDsts[0].Dst != "10.0.0.2:80" || s.DstPorts[0].Port != 80 || s.Sources[0].Addr[:7] != "198.18." {
			t.Errorf("second %d: SYN dst %+v, port %+v, source %+v", i, s.SYNDsts[0], s.DstPorts[0], s.Sources[0])
		}
		if len(s.Sources) > 2*stormTop || len(s.DstPorts) > stormTop || len(s.SYNDsts) > stormTopDsts {
			t.Errorf("second %d: lists of %d, %d, %d", i, len(s.Sources), len(s.DstPorts), len(s.SYNDsts))
		}
		if s.Ended {
			t.Errorf("second %d: ended while the flood went on", i)
		}
		if want := time.UnixMicro(start + int64(5+i)*1e6); !s.Start.Equal(want) {
			t.Errorf("second %d starts %v, want %v", i, s.Start, want)
		}
	}
	if r.storms[1].SYN != 100_000 {
		t.Errorf("%d SYNs in the storm's second second, want 100,000", r.storms[1].SYN)
	}
}

// TestStormCountsHandshakes: a reconnect storm where every client completes
// its handshake (SYN, then ACK) is a storm with as many handshakes as SYNs;
// RSTs are counted, and up to stormPromotePerSecond flows with a RST a
// second are recorded one by one.
func TestStormCountsHandshakes(t *testing.T) {
	r := newStormRig()
	start := int64(1_700_000_000) * 1e6
	us := start
	for i := range 6000 { // 3,000 clients a second for 2 s
		src := [4]byte{10, 1, byte(i >> 8), byte(i)}
		r.add(tcpFrame(src, victim, 40000, 443, FlagSYN), us)
		r.add(tcpFrame(src, victim, 40000, 443, FlagACK), us+50)
		r.add(tcpFrame(src, victim, 40000, 443, FlagACK|FlagPSH), us+100)
		if i%10 == 0 {
			r.add(tcpFrame(victim, src, 443, 40000, FlagRST|FlagACK), us+150)
		}
		us += 333
	}
	r.add(tcpFrame(victim, beatA, 1, 1, FlagACK), start+5e6) // a quiet second later: the storm is over
	r.b.Finish()
	if len(r.storms) == 0 {
		t.Fatal("no storm")
	}
	var syn, hs, rst uint64
	for _, s := range r.storms {
		syn, hs, rst = syn+s.SYN, hs+s.Handshakes, rst+s.RST
	}
	t.Logf("%d storm events: %d SYN, %d handshakes, %d RST", len(r.storms), syn, hs, rst)
	if syn < 4000 || hs != syn {
		t.Errorf("%d SYNs, %d handshakes: want every SYN's handshake counted", syn, hs)
	}
	if !r.storms[len(r.storms)-1].Ended {
		t.Errorf("the last storm event does not say it ended")
	}
	// Flows with a RST recorded one by one: at most 100 a second.
	promoted := 0
	for id, n := range r.packets() {
		if fi, ok := r.flows[id]; ok && id != 0 && fi.Src == "10.0.0.2:443" && n > 0 {
			promoted++
		}
	}
	if promoted == 0 || promoted > 2*stormPromotePerSecond+StormNewFlows/10 {
		t.Errorf("%d RST flows recorded one by one", promoted)
	}
}

// TestStormTickEndsIt: a live capture's clock (Tick) ends a storm's second
// and the storm itself when the flood stops and nothing follows.
func TestStormTickEndsIt(t *testing.T) {
	r := newStormRig()
	start := int64(1_700_000_000) * 1e6
	for i := range 5000 {
		r.add(tcpFrame([4]byte{198, 18, byte(i >> 8), byte(i)}, victim, 1000, 80, FlagSYN), start+int64(i)*100)
	}
	r.b.Tick(start + 900_000)
	if len(r.storms) != 0 {
		t.Fatalf("a storm event before its second was over")
	}
	r.b.Tick(start + 1_000_100)
	if len(r.storms) != 1 || r.storms[0].Ended || r.storms[0].NewFlows < 4900 {
		t.Fatalf("after the flood's second: storms %+v", r.storms)
	}
	r.b.Tick(start + 2_000_100)
	if len(r.storms) != 2 || !r.storms[1].Ended || r.storms[1].NewFlows != 0 {
		t.Fatalf("after a quiet second: storms %+v", r.storms)
	}
	r.b.Finish()
	r.b.Tick(start + 9_000_000)
	if len(r.storms) != 2 {
		t.Errorf("sent another once over: %+v", r.storms[2:])
	}
}

// TestStormRecordsUnder8BytesAPacket: a SYN flood from random sources and
// ports, as the capture emits it, through the real session writer: at most
// 8 bytes a packet (each packet a new flow cost 5.2 before aggregation).
func TestStormRecordsUnder8BytesAPacket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.stk")
	w, err := sessions.Create(path, sessions.Header{}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	b := NewBatcher("eth0", LinkEthernet, NewFlowIDs(), func(ev event.Event) {
		if err := w.Write(ev); err != nil && werr == nil {
			werr = err
		}
	}, false)
	rng := rand.New(rand.NewPCG(5, 6))
	start := int64(1_700_000_000) * 1e6
	const total = 1_000_000
	us := start
	for i := range total {
		src := [4]byte{byte(rng.IntN(224)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}
		p := tcpFrame(src, victim, uint16(rng.IntN(65536)), 80, FlagSYN)
		us += 3 + rng.Int64N(10)
		b.AddUs(p, us, uint32(len(p)), VlanTag{})
		if len(b.Batch.Flow) > 0 && (us-b.Batch.Start.UnixMicro() >= BatchSpan.Microseconds() || i == total-1) {
			b.Flush()
			w.Flush()
		}
	}
	b.Finish()
	if err := w.Close(); err != nil || werr != nil {
		t.Fatal(err, werr)
	}
	per := float64(w.Size()) / total
	t.Logf("%d SYNs from random sources: %d bytes, %.2f bytes per packet", total, w.Size(), per)
	if per > 8 {
		t.Errorf("%.2f bytes per packet, budget 8", per)
	}
}

// TestExportLeavesOutStormPackets: a storm's packets (flow 0) have no flow
// to rebuild headers from: the pcap export leaves them out rather than
// writing frames of zeros; a named flow's packets are written.
func TestExportLeavesOutStormPackets(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewPcapWriter(&buf, 1)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_700_000_000, 0)
	w.Observe(event.New(at, PacketsName, &FlowInfo{ID: 5, Iface: "eth0", Proto: "udp", Src: "10.0.0.1:1", Dst: "10.0.0.2:2"}))
	w.Observe(event.New(at, PacketsName, &PacketBatch{Iface: "eth0", Start: at, DtUs: []int64{0, 1, 1},
		Flow: []uint32{0, 5, 0}, Flags: ByteNums{FlagSYN, 0, FlagSYN}, Len: []uint32{54, 60, 54}}))
	if w.Packets() != 1 {
		t.Errorf("%d packets written, want the named flow's one", w.Packets())
	}
}

// TestNewVRRPMasterDuringAStormIsFollowed: a failover's reconnect storm
// comes with the new master's first adverts, a flow the table never held:
// to a multicast address, it is recorded one by one under its own id, not
// counted into the storm.
func TestNewVRRPMasterDuringAStormIsFollowed(t *testing.T) {
	r := newStormRig()
	start := int64(1_700_000_000) * 1e6
	advert := tcpFrame([4]byte{10, 0, 0, 9}, [4]byte{224, 0, 0, 18}, 0, 0, 0)
	advert[14+9] = 112 // VRRP
	us := start
	for i := range 300_000 { // 3 s of clients reconnecting, 100,000 a second
		if i%100_000 == 50_000 {
			r.add(advert, us)
		}
		src := [4]byte{10, 1, byte(i >> 8), byte(i)}
		r.add(tcpFrame(src, victim, uint16(i), 443, FlagSYN), us)
		us += 10
	}
	r.b.Finish()
	n := r.packets()
	for id, fi := range r.flows {
		if fi.Proto == "vrrp" {
			if n[id] != 3 {
				t.Errorf("the new master's adverts: %d under its id, want 3", n[id])
			}
			return
		}
	}
	t.Errorf("the new master's flow was never announced")
}
