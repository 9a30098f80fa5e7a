package packet

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// countPcap reads b and counts the packets of its batches per interface.
func countPcap(t *testing.T, b []byte, maxIfaces int) (map[string]int, PcapSkipped) {
	t.Helper()
	per := map[string]int{}
	skipped, err := pcapEvents(bytes.NewReader(b), false, func(ev event.Event) {
		if pb, ok := ev.Body.(*PacketBatch); ok {
			per[pb.Iface] += pb.N()
		}
	}, maxIfaces)
	if err != nil {
		t.Fatal(err)
	}
	return per, skipped
}

// TestPcapngEverySectionItsOwnInterface: 100,000 sections, each with its
// own interface and one packet. All 100,000 packets are read (before, the
// 256 first interfaces took every slot and the rest were dropped without a
// word), while no more than MaxPcapIfaces interfaces are held at once: a
// section's interfaces are gone when it ends, so their room is reused.
func TestPcapngEverySectionItsOwnInterface(t *testing.T) {
	fr := testFrames(t)[0]
	var f ngFile
	const sections = 100000
	for i := range sections {
		f.section(binary.LittleEndian)
		f.iface(linkTypeEthernet, fmt.Sprintf("if%d", i), 6, 0)
		f.packet(0, uint64(1e15+i*1000), len(fr), fr, false)
	}
	per, skipped := countPcap(t, f.b, MaxPcapIfaces)
	total := 0
	for _, n := range per {
		total += n
	}
	if total != sections || len(per) != sections || skipped.Packets != 0 || skipped.Ifaces != 0 {
		t.Errorf("read %d packets on %d interfaces, skipped %+v; want %d on %d", total, len(per), skipped, sections, sections)
	}
	if skipped.peak > MaxPcapIfaces {
		t.Errorf("held %d interfaces at once", skipped.peak)
	}
}

// TestPcapngTooManyInterfacesInOneSection: a section using more interfaces
// at once than are held (4 here) has the rest's packets skipped and
// counted, once per interface; the next section's interfaces take the
// room again, and an interface named as in an earlier section that still
// holds room keeps its batcher.
func TestPcapngTooManyInterfacesInOneSection(t *testing.T) {
	fr := testFrames(t)[0]
	var f ngFile
	f.section(binary.LittleEndian)
	for i := range 6 {
		f.iface(linkTypeEthernet, fmt.Sprintf("a%d", i), 6, 0)
	}
	for round := range 2 {
		for i := range 6 {
			f.packet(i, uint64(1e15+round*6+i), len(fr), fr, false)
		}
	}
	f.section(binary.BigEndian)
	for _, name := range []string{"b0", "b1", "a3"} {
		f.iface(linkTypeEthernet, name, 6, 0)
	}
	for i := range 3 {
		f.packet(i, uint64(2e15+i), len(fr), fr, false)
	}
	per, skipped := countPcap(t, f.b, 4)
	want := map[string]int{"a0": 2, "a1": 2, "a2": 2, "a3": 3, "b0": 1, "b1": 1}
	if fmt.Sprint(per) != fmt.Sprint(want) || skipped.Packets != 4 || skipped.Ifaces != 2 || skipped.peak != 4 {
		t.Errorf("read %v, skipped %+v; want %v and 4 packets of 2 interfaces skipped", per, skipped, want)
	}
}

// TestPcapngSkippedInterfaceKeepsThePrevious: a packet on an interface
// with no room left is skipped, and the next packet, on the interface the
// one before it used, is read into that interface's batcher (before, the
// skip left no batcher there and the read panicked on a nil pointer).
func TestPcapngSkippedInterfaceKeepsThePrevious(t *testing.T) {
	fr := testFrames(t)[0]
	var f ngFile
	f.section(binary.LittleEndian)
	for i := range 3 {
		f.iface(linkTypeEthernet, fmt.Sprintf("a%d", i), 6, 0)
	}
	f.packet(0, 1e15, len(fr), fr, false)
	f.packet(1, 1e15+1, len(fr), fr, false)
	f.packet(2, 1e15+2, len(fr), fr, false) // no room: skipped
	f.packet(1, 1e15+3, len(fr), fr, false)
	f.packet(2, 1e15+4, len(fr), fr, false) // skipped again, counted once as an interface
	f.packet(0, 1e15+5, len(fr), fr, false)
	per, skipped := countPcap(t, f.b, 2)
	want := map[string]int{"a0": 2, "a1": 2}
	if fmt.Sprint(per) != fmt.Sprint(want) || skipped.Packets != 2 || skipped.Ifaces != 1 {
		t.Errorf("read %v, skipped %+v; want %v and 2 packets of 1 interface skipped", per, skipped, want)
	}
}

// TestPcapngTimestampsStayInRange: a timestamp of 2^64-1 seconds, or an
// if_tsoffset of ±2^63-1, comes out between 1970 and the end of year 9999
// instead of wrapping (int64 of 2^64-1 is -1) or passing what JSON can
// write.
func TestPcapngTimestampsStayInRange(t *testing.T) {
	fr := testFrames(t)[0]
	var f ngFile
	f.section(binary.LittleEndian)
	f.iface(linkTypeEthernet, "huge", 0, 0)                // 1 unit a second
	f.iface(linkTypeEthernet, "ahead", 6, math.MaxInt64)   // offset far ahead
	f.iface(linkTypeEthernet, "behind", 6, -math.MaxInt64) // and far behind
	f.packet(0, math.MaxUint64, len(fr), fr, false)
	f.packet(1, 5e6, len(fr), fr, false)
	f.packet(2, 5e6, len(fr), fr, false)
	pkts, err := readAll(t, f.b)
	if err != nil || len(pkts) != 3 {
		t.Fatalf("%d packets, %v", len(pkts), err)
	}
	last := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	for i, want := range []time.Time{last, last, time.Unix(0, 0).UTC()} {
		if got := pkts[i].Time.Truncate(time.Second); !got.Equal(want) {
			t.Errorf("packet %d at %v, want %v", i, pkts[i].Time, want)
		}
	}
}
