package sessions

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestFormatDoc reads a file the way FORMAT.md tells a reader in another
// language to, using none of this package's reading code.
func TestFormatDoc(t *testing.T) {
	if got := crc32.Checksum([]byte("123456789"), crc32.MakeTable(0x82F63B78)); got != 0xE3069283 {
		t.Fatalf("CRC-32C check value %#x", got)
	}
	path, want := writeSession(t, t.TempDir(), 70)
	b := mustRead(t, path)
	if !bytes.Equal(b[:8], []byte{0x89, 'S', 'T', 'K', 0x0D, 0x0A, 0x1A, 0x0A}) || binary.LittleEndian.Uint16(b[8:]) != 1 {
		t.Fatalf("preamble % x", b[:12])
	}
	type chunk struct {
		typ     byte
		off     int
		payload []byte
	}
	var chunks []chunk
	for off := 12; off < len(b); {
		h := b[off : off+36]
		n := int(binary.LittleEndian.Uint32(h[8:]))
		payload := b[off+36 : off+36+n]
		crc := crc32.Update(0, crc32.MakeTable(crc32.Castagnoli), h[:32])
		if string(h[:4]) != "STKC" || crc32.Update(crc, crc32.MakeTable(crc32.Castagnoli), payload) != binary.LittleEndian.Uint32(h[32:]) {
			t.Fatalf("chunk at %d invalid", off)
		}
		chunks = append(chunks, chunk{h[4], off, payload})
		off += 36 + n
	}
	last := chunks[len(chunks)-1]
	if last.typ != 'T' || len(b)-last.off != 44 {
		t.Fatalf("trailer: type %c, %d bytes", last.typ, len(b)-last.off)
	}
	idx := chunks[len(chunks)-2]
	if idx.typ != 'I' || int(binary.LittleEndian.Uint64(last.payload)) != idx.off {
		t.Fatal("trailer does not point at the index")
	}
	var hdr map[string]any
	if chunks[0].typ != 'H' || json.Unmarshal(chunks[0].payload, &hdr) != nil || hdr["hostname"] != "db-7" || hdr["interval_ns"] != 1e9 {
		t.Fatalf("header %s", chunks[0].payload)
	}
	// Segments: S then C chunks, one zstd stream each; records are
	// uvarint-length-prefixed JSON.
	nseg := binary.LittleEndian.Uint32(idx.payload)
	var records [][]byte
	var segs int
	for i := 1; i < len(chunks)-2; i++ {
		if chunks[i].typ != 'S' {
			t.Fatalf("chunk %d: type %c, want S", i, chunks[i].typ)
		}
		if got := binary.LittleEndian.Uint64(idx.payload[4+32*segs:]); int(got) != chunks[i].off {
			t.Fatalf("index entry %d points at %d, segment at %d", segs, got, chunks[i].off)
		}
		segs++
		var frame []byte
		for frame = chunks[i].payload; i+1 < len(chunks)-2 && chunks[i+1].typ == 'C'; i++ {
			frame = append(frame, chunks[i+1].payload...)
		}
		dec, _ := zstd.NewReader(bytes.NewReader(frame))
		raw, err := io.ReadAll(dec)
		if err != nil {
			t.Fatal(err)
		}
		for len(raw) > 0 {
			n, k := binary.Uvarint(raw)
			records, raw = append(records, raw[k:k+int(n)]), raw[k+int(n):]
		}
	}
	if segs != int(nseg) || len(records) != len(want) {
		t.Fatalf("%d segments (index says %d), %d records for %d events", segs, nseg, len(records), len(want))
	}
	for i, rec := range records {
		if string(rec) != jsonOf(t, want[i]) {
			t.Fatalf("record %d: %s", i, rec)
		}
	}
}
