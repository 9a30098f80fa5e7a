package packet

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// reflected is PacketBatch without AppendJSON: what encoding/json writes.
type reflected PacketBatch

func batchCases() []*PacketBatch {
	big := &PacketBatch{Iface: "eth0", Start: time.Date(2026, 11, 23, 4, 0, 0, 123456000, time.UTC)}
	for i := 0; i < 2500; i++ { // several of AppendJSON's blocks of values
		big.DtUs = append(big.DtUs, int64(i*37%1000003))
		big.Flow = append(big.Flow, uint32(i*7919))
		big.Flags = append(big.Flags, uint8(i))
		big.Len = append(big.Len, uint32(i*1499%65536))
	}
	edges := &PacketBatch{Iface: "eth2", Start: time.Unix(1, 0).UTC(), LinkType: LinkTypeRaw}
	for _, v := range []uint32{0, 1, 9, 10, 11, 99, 100, 101, 255, 999, 1000, 1001, 9999, 10000, 65535, 4294967295} {
		edges.DtUs = append(edges.DtUs, int64(v), -int64(v))
		edges.Flow = append(edges.Flow, v, v)
		edges.Flags = append(edges.Flags, uint8(v), uint8(v>>8))
		edges.Len = append(edges.Len, v, v)
	}
	return []*PacketBatch{
		{},
		{Iface: "lo", Start: time.Unix(0, 0).UTC(), DtUs: []int64{}, Flow: []uint32{}, Flags: ByteNums{}, Len: []uint32{}},
		{Iface: `we<ird>&"\` + "\x1b", Start: time.Unix(1795000000, 999).In(time.FixedZone("x", 3600)),
			DtUs: []int64{0, -1, 9223372036854775807}, Flow: []uint32{4294967295}, Flags: ByteNums{255, 0}, Len: []uint32{60}},
		{Iface: "eth1", DtUs: []int64{1}, Flow: []uint32{2}, Flags: ByteNums{3}, Len: []uint32{4},
			Data: [][]byte{{0, 1, 2, 0xff}, nil}},
		big,
		edges,
	}
}

func TestBatchJSONIsWhatEncodingJSONWrites(t *testing.T) {
	for i, b := range batchCases() {
		want, err := json.Marshal((*reflected)(b))
		if err != nil {
			t.Fatal(err)
		}
		if got := b.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Errorf("case %d:\n got %.200s\nwant %.200s", i, got, want)
		}
		// Through the event envelope and back.
		ev := event.New(time.Unix(5, 0), "packets", b)
		line, err := ev.AppendJSON(nil)
		if err != nil || !json.Valid(line) {
			t.Fatalf("case %d: event JSON invalid: %v %.200s", i, err, line)
		}
		var back event.Event
		if err := json.Unmarshal(line, &back); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		pb, ok := event.As[PacketBatch](back)
		if !ok || pb.N() != b.N() || pb.Iface != b.Iface {
			t.Fatalf("case %d: round trip gave %+v", i, back.Body)
		}
	}
}

func BenchmarkBatchJSON(b *testing.B) {
	pb := batchCases()[4]
	for _, c := range []struct {
		name string
		enc  func() []byte
	}{
		{"reflect", func() []byte { out, _ := json.Marshal((*reflected)(pb)); return out }},
		{"append", func() []byte { return pb.AppendJSON(nil) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				c.enc()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(pb.N()), "ns/packet")
		})
	}
}

// BenchmarkEventEncode is what the recorder pays per packet batch: before,
// json.Marshal(ev) (reflection, then a validating re-scan of the output);
// now ev.AppendJSON into a reused buffer.
func BenchmarkEventEncode(b *testing.B) {
	pb := batchCases()[4]
	old := event.New(time.Unix(5, 0), "packets", (*reflectedBody)(pb))
	cur := event.New(time.Unix(5, 0), "packets", pb)
	b.Run("json.Marshal", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			json.Marshal(old)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(pb.N()), "ns/packet")
	})
	b.Run("AppendJSON", func(b *testing.B) {
		var buf []byte
		for i := 0; i < b.N; i++ {
			buf, _ = cur.AppendJSON(buf[:0])
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(pb.N()), "ns/packet")
	})
}

// reflectedBody is a packets body that encoding/json handles by reflection.
type reflectedBody PacketBatch

func (reflectedBody) EventKind() string { return KindPackets }

// TestDecodeFlatAgreesWithJSON: an event read through the flat decoder
// (event.FlatDecoder) is exactly what encoding/json makes of the same
// bytes, for the batches AppendJSON writes and for 60,000 random
// single-byte changes, insertions and cuts of them: where the flat decoder takes a
// record, encoding/json takes it too and decodes it alike; where it does
// not, the general path decides (and errors where it errors).
func TestDecodeFlatAgreesWithJSON(t *testing.T) {
	var recs [][]byte
	for _, b := range batchCases() {
		rec, err := event.New(time.Date(2026, 11, 23, 4, 0, 0, 5000, time.UTC), PacketsName, b).AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	// general decodes rec as UnmarshalJSON did before the flat path.
	general := func(rec []byte) (event.Event, error) {
		var e event.Event
		if err := e.UnmarshalEnvelope(rec); err != nil || e.Kind != KindPackets {
			return e, err // another kind: not this test's
		}
		var body PacketBatch
		if err := json.Unmarshal(rec, &body); err != nil {
			return e, err
		}
		event.BoundNumbers(&body)
		e.Body, e.Raw = &body, nil
		return e, nil
	}
	fast := 0
	check := func(rec []byte) {
		t.Helper()
		var got event.Event
		gerr := got.UnmarshalJSON(rec)
		want, werr := general(rec)
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("%q: flat path error %v, encoding/json's %v", rec, gerr, werr)
		}
		if gerr != nil || want.Kind != KindPackets {
			return
		}
		gb, _ := got.Body.(*PacketBatch)
		wb := want.Body.(*PacketBatch)
		if gb == nil || !got.Time.Equal(want.Time) || got.Probe != want.Probe || got.Kind != want.Kind ||
			gb.Iface != wb.Iface || !gb.Start.Equal(wb.Start) || gb.LinkType != wb.LinkType ||
			!slices.Equal(gb.DtUs, wb.DtUs) || !slices.Equal(gb.Flow, wb.Flow) || !slices.Equal(gb.Flags, wb.Flags) ||
			!slices.Equal(gb.Len, wb.Len) || len(gb.Data) != len(wb.Data) || (gb.DtUs == nil) != (wb.DtUs == nil) {
			t.Fatalf("%.300q:\nflat %+v\njson %+v", rec, got.Body, want.Body)
		}
		if bytes.HasPrefix(rec, []byte(`{"time":`)) && !bytes.Contains(rec, []byte(`"data"`)) {
			fast++
		}
	}
	for _, rec := range recs {
		check(rec)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	alphabet := []byte(`0123456789-+.eE,[]{}":\ ntul` + "\x00\xff")
	for i := range 60_000 {
		r := recs[rng.IntN(len(recs))]
		if len(r) > 4096 && i%8 != 0 {
			r = recs[5] // the long batch's edges, more often than the long batch
		}
		rec := slices.Clone(r)
		switch rng.IntN(3) {
		case 0:
			rec[rng.IntN(len(rec))] = alphabet[rng.IntN(len(alphabet))]
		case 1:
			rec = rec[:rng.IntN(len(rec))]
		default:
			i := rng.IntN(len(rec))
			rec = slices.Insert(rec, i, alphabet[rng.IntN(len(alphabet))])
		}
		check(rec)
	}
	if fast < 1000 {
		t.Errorf("only %d records looked like the flat form", fast)
	}
}

// TestFlowDecodeFlatAgreesWithJSON: the same for "flow" events, which an
// old recording of a flood has nearly one of per packet.
func TestFlowDecodeFlatAgreesWithJSON(t *testing.T) {
	var recs [][]byte
	for _, fi := range []FlowInfo{
		{ID: 1, Iface: "lo", Proto: "udp", Src: "127.0.0.1:40000", Dst: "127.0.0.1:20001"},
		{ID: 4294967295, Iface: "eth0.10", Proto: "tcp", Src: "[2001:db8::1]:443", Dst: "[2001:db8::2]:65535", VLAN: 10, InnerVLAN: 4095},
		{ID: 7, Iface: "br-x", Proto: "ethertype-0x88cc", Src: "02:00:00:00:00:01", Dst: "01:80:c2:00:00:0e", InnerVLAN: 3},
		{ID: 8, Iface: `we<ird>&"\` + "\x1b", Proto: "vrrp", Src: "10.0.0.1", Dst: "224.0.0.18"},
		{ID: 9, Iface: "eth1", Proto: "vrrp", Src: "10.0.0.1", Dst: "224.0.0.18", Out: true},
		{ID: 10, Iface: "eth1", Proto: "udp", Src: "10.0.0.1:1", Dst: "10.0.0.2:2", VLAN: 5, Out: true},
	} {
		rec, err := event.New(time.Date(2026, 11, 23, 4, 0, 0, 5000, time.UTC), PacketsName, &fi).AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	general := func(rec []byte) (*FlowInfo, event.Event, error) {
		var e event.Event
		if err := e.UnmarshalEnvelope(rec); err != nil || e.Kind != KindFlow {
			return nil, e, err
		}
		var fi FlowInfo
		err := json.Unmarshal(rec, &fi)
		return &fi, e, err
	}
	check := func(rec []byte) {
		t.Helper()
		var got event.Event
		gerr := got.UnmarshalJSON(rec)
		want, env, werr := general(rec)
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("%q: flat path error %v, encoding/json's %v", rec, gerr, werr)
		}
		if gerr != nil || want == nil {
			return
		}
		if g, _ := got.Body.(*FlowInfo); g == nil || *g != *want || !got.Time.Equal(env.Time) || got.Probe != env.Probe {
			t.Fatalf("%q:\nflat %+v\njson %+v", rec, got.Body, want)
		}
	}
	for _, rec := range recs {
		check(rec)
	}
	rng := rand.New(rand.NewPCG(13, 14))
	alphabet := []byte(`0123456789-+.eE,[]{}":\ ntul` + "\x00\xff")
	for range 60_000 {
		rec := slices.Clone(recs[rng.IntN(len(recs))])
		switch rng.IntN(3) {
		case 0:
			rec[rng.IntN(len(rec))] = alphabet[rng.IntN(len(alphabet))]
		case 1:
			rec = rec[:rng.IntN(len(rec))]
		default:
			rec = slices.Insert(rec, rng.IntN(len(rec)), alphabet[rng.IntN(len(alphabet))])
		}
		check(rec)
	}
}
