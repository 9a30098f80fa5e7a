//go:build linux

package e2e

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pcapngOf writes a little-endian pcapng file: for each section, one
// interface block per name (Ethernet, µs) and one UDP packet on each.
func pcapngOf(t *testing.T, path string, sections [][]string) {
	t.Helper()
	le := binary.LittleEndian
	block := func(b []byte, typ uint32, body []byte) []byte {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		n := uint32(12 + len(body))
		b = le.AppendUint32(le.AppendUint32(b, typ), n)
		return le.AppendUint32(append(b, body...), n)
	}
	// Ethernet, IPv4 10.0.0.1 → 10.0.0.2, UDP 5000 → 53, 4 bytes of payload.
	frame := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00,
		0x45, 0, 0, 32, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
		0x13, 0x88, 0, 53, 0, 12, 0, 0, 'p', 'i', 'n', 'g'}
	var b []byte
	us := uint64(1_790_000_000_000_000)
	for _, names := range sections {
		b = block(b, 0x0a0d0d0a, le.AppendUint64(le.AppendUint32(le.AppendUint32(nil, 0x1a2b3c4d), 1), ^uint64(0)))
		for _, name := range names {
			idb := le.AppendUint32(le.AppendUint32(nil, 1), 65535)
			idb = le.AppendUint16(le.AppendUint16(idb, 2), uint16(len(name)))
			idb = append(idb, name...)
			for len(idb)%4 != 0 {
				idb = append(idb, 0)
			}
			b = block(b, 1, le.AppendUint32(idb, 0))
		}
		for i := range names {
			us += 1000
			epb := le.AppendUint32(le.AppendUint32(le.AppendUint32(nil, uint32(i)), uint32(us>>32)), uint32(us))
			epb = le.AppendUint32(le.AppendUint32(epb, uint32(len(frame))), uint32(len(frame)))
			b = block(b, 6, append(epb, frame...))
		}
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// packetsIn counts the packets of `stakeout events FILE --kind packets`.
func packetsIn(t *testing.T, path string) (int, result) {
	t.Helper()
	r := run(t, nil, "events", path, "--kind", "packets")
	n := 0
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var b struct{ Flow []uint32 }
		if err := json.Unmarshal(sc.Bytes(), &b); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		n += len(b.Flow)
	}
	return n, r
}

// TestPcapngOfManySections: tcpdump captures put end to end, 100,000
// sections each with its own interface, are read whole (before, 256
// packets came out and no word of the rest); a section that uses more
// interfaces at once than stakeout holds has the rest's packets skipped,
// and one warning line on stderr says how many.
func TestPcapngOfManySections(t *testing.T) {
	share(t)
	dir := t.TempDir()
	many := filepath.Join(dir, "many.pcapng")
	sections := make([][]string, 100000)
	for i := range sections {
		sections[i] = []string{fmt.Sprintf("if%d", i)}
	}
	pcapngOf(t, many, sections)
	if n, r := packetsIn(t, many); n != len(sections) || r.code != 0 || r.stderr != "" {
		t.Errorf("%d packets of %d, exit %d, stderr %q", n, len(sections), r.code, r.stderr)
	}

	wide := filepath.Join(dir, "wide.pcapng")
	names := make([]string, 300)
	for i := range names {
		names[i] = fmt.Sprintf("veth%d", i)
	}
	pcapngOf(t, wide, [][]string{names})
	want := "stakeout: warning: " + wide + ": skipped 44 packets of 44 interfaces: a pcapng section used more than 256 interfaces at once\n"
	if n, r := packetsIn(t, wide); n != 256 || r.code != 0 || r.stderr != want {
		t.Errorf("%d packets, exit %d, stderr %q; want 256 and %q", n, r.code, r.stderr, want)
	}
	if r := run(t, nil, "report", wide); r.code != 0 || r.stderr != want {
		t.Errorf("report: exit %d, stderr %q", r.code, r.stderr)
	}
}
