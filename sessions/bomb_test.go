package sessions

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"
)

// rleFrame is a hand-built zstd frame (RFC 8878): a raw block holding good
// records, then RLE blocks of 128 KiB of ' ' each, four bytes apiece. ' '
// is 32, so the expansion reads as an endless run of 32-byte records of
// spaces: not JSON, skipped one by one, never an error that would stop the
// reader early. 8192 blocks expand 32 KiB into 1 GiB.
func rleFrame(good []byte, blocks int) []byte {
	f := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 10 << 3} // magic; no checksum, no size; 1 MiB window
	block := func(typ, size int, last bool) {
		v := size<<3 | typ<<1
		if last {
			v |= 1
		}
		f = append(f, byte(v), byte(v>>8), byte(v>>16))
	}
	block(0, len(good), blocks == 0)
	f = append(f, good...)
	for i := range blocks {
		block(1, 128<<10, i == blocks-1)
		f = append(f, ' ')
	}
	return f
}

func goodRecords(n int) []byte {
	var b []byte
	for i := range n {
		rec := []byte(`{"time":"2026-11-23T04:00:0` + string(rune('0'+i%10)) + `Z","probe":"x","kind":"bomb_test"}`)
		b = binary.AppendUvarint(b, uint64(len(rec)))
		b = append(b, rec...)
	}
	return b
}

// bombFile is a valid header followed by one segment holding frame.
func bombFile(t *testing.T, frame []byte) []byte {
	path, _ := writeSession(t, t.TempDir(), 0)
	b := mustRead(t, path)
	r, err := openBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return appendChunk(append([]byte(nil), b[:r.dataStart]...), chunkSegStart, 3, t0.UnixNano(), t0.UnixNano(), frame)
}

// readBomb reads every event of b and reports how many, the error, the
// bytes decompressed and the bytes allocated meanwhile.
func readBomb(t *testing.T, b []byte) (events int, err error, decoded int64, alloc uint64) {
	r, err := openBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	it := r.Iter(time.Time{})
	for _, ok := it.Next(); ok; _, ok = it.Next() {
		events++
	}
	decoded = it.lim.total
	runtime.ReadMemStats(&after)
	return events, it.Err(), decoded, after.TotalAlloc - before.TotalAlloc
}

// TestGigabyteBombStaysSmall: 33 KiB that would decompress to 1 GiB. The
// reader delivers the good records, reports damage, and decompresses no
// more than the ratio limit allows for the bytes it was fed, allocating a
// few MiB.
func TestGigabyteBombStaysSmall(t *testing.T) {
	frame := rleFrame(goodRecords(3), 8192)
	b := bombFile(t, frame)
	n, err, decoded, alloc := readBomb(t, b)
	t.Logf("%d bytes of file: %d events, %d bytes decompressed, %d bytes allocated, %v", len(b), n, decoded, alloc, err)
	if n != 3 || asDamage(err) == nil {
		t.Errorf("%d events, err %v; want the 3 good ones, then damage", n, err)
	}
	if decoded > min(maxSegmentDecoded, segDecodedFloor+maxSegmentRatio*int64(len(frame)))+1 {
		t.Errorf("decompressed %d bytes from a %d-byte frame", decoded, len(frame))
	}
	// The decoder's window and buffers, one 32 KiB read buffer, and the
	// garbage of 250,000 rejected records; nowhere near the gigabyte.
	if alloc > 64<<20 {
		t.Errorf("allocated %d bytes reading a bomb", alloc)
	}
}

// TestTinyBombCutByRatio: a 200-byte frame that would expand to 6 MiB,
// under the per-segment cap, decompresses no further than the ratio limit
// allows for its size (16 KiB + 16384 times it), so a file of many such
// segments costs work in proportion to its size.
func TestTinyBombCutByRatio(t *testing.T) {
	frame := rleFrame(goodRecords(1), 48)
	b := bombFile(t, frame)
	n, err, decoded, _ := readBomb(t, b)
	limit := int64(segDecodedFloor + maxSegmentRatio*len(frame))
	t.Logf("%d-byte frame: %d events, %d bytes decompressed (limit %d), %v", len(frame), n, decoded, limit, err)
	if n != 1 || asDamage(err) == nil {
		t.Errorf("%d events, err %v; want the good one, then damage", n, err)
	}
	if decoded > limit+1 {
		t.Errorf("decompressed %d bytes, over %d", decoded, limit)
	}
}

// An honest segment is never near the ratio limit: the writer's own output
// for a busy minute decodes in full.
func TestHonestSegmentsUnderRatio(t *testing.T) {
	path, want := writeSession(t, t.TempDir(), 130)
	r, err := openBytes(mustRead(t, path))
	if err != nil {
		t.Fatal(err)
	}
	it := r.Iter(time.Time{})
	n := 0
	for _, ok := it.Next(); ok; _, ok = it.Next() {
		n++
	}
	if it.Err() != nil || n != len(want) {
		t.Fatalf("%d of %d events, err %v", n, len(want), it.Err())
	}
	t.Logf("%d events, %d bytes decompressed from a %d-byte file", n, it.lim.total, r.size)
}

// Records are decoded by calling Event.UnmarshalJSON directly, skipping
// the extra syntax pass of json.Unmarshal: what it accepts, rejects and
// keeps as Raw must not change. Only the two objects with a kind come
// through, their Raw without the blanks around them.
func TestRecordDecodingAsJSONUnmarshal(t *testing.T) {
	ok := `{"time":"2026-11-23T04:00:01Z","probe":"x","kind":"bomb_test"}`
	var recs []byte
	for _, rec := range []string{" \t" + ok + "\r\n", "null", `"x"`, "[1]", "{", ok + "}", `{"time":"2026-11-23T04:00:01Z"}`, ok} {
		recs = binary.AppendUvarint(recs, uint64(len(rec)))
		recs = append(recs, rec...)
	}
	r, err := openBytes(bombFile(t, rleFrame(recs, 0)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r, time.Time{})
	if err != nil || len(got) != 2 {
		t.Fatalf("%d events, %v; want 2", len(got), err)
	}
	for _, ev := range got {
		if string(ev.Raw) != ok || ev.Kind != "bomb_test" {
			t.Errorf("event %q, Raw %q", ev.Kind, ev.Raw)
		}
	}
}
