package sessions

import (
	"encoding/binary"
	"math/rand"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
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

// packetRecord is one "packets" event of n packets as the probe writes it
// (one flow, one length, no gap between them), with a field of random
// letters that readers skip and zstd cannot compress.
func packetRecord(at time.Time, n int, pad []byte) []byte {
	ts := at.Format(time.RFC3339Nano)
	b := []byte(`{"time":"` + ts + `","probe":"packets","kind":"packets","pad":"` + string(pad) + `","iface":"lo","start":"` + ts + `"`)
	for _, col := range []struct{ name, v string }{{"dt_us", "0"}, {"flow", "1"}, {"flags", "0"}, {"len", "106"}} {
		b = append(b, `,"`+col.name+`":[`...)
		for i := range n {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, col.v...)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// packetBombFrame is one segment's zstd frame, made by the real encoder at
// its best. fit false: batches of 16384 packets (the probe's most) up to
// the 8 MiB a segment may hold, about 1 KB compressed, as in issue 18's
// bomb. fit true: the worst case for the reader's limit, one batch as big
// as the limit lets a frame of its size decode, with a kilobyte of random
// padding to buy the room, so all of it is read and nothing is cut.
func packetBombFrame(t testing.TB, fit bool) (frame []byte, records, packets int) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderCRC(false))
	if err != nil {
		t.Fatal(err)
	}
	var raw []byte
	add := func(rec []byte) {
		raw = binary.AppendUvarint(raw, uint64(len(rec)))
		raw = append(raw, rec...)
	}
	if !fit {
		rec := packetRecord(t0, 16384, nil)
		for len(raw)+len(rec)+3 <= maxSegmentDecoded {
			add(rec)
			records++
		}
		return enc.EncodeAll(raw, nil), records, records * 16384
	}
	rng := rand.New(rand.NewSource(18))
	pad := make([]byte, 1000)
	for i := range pad {
		pad[i] = byte('a' + rng.Intn(26))
	}
	n := 1024
	for {
		raw = raw[:0]
		add(packetRecord(t0, n*9/8, pad))
		if len(raw)+recordWork > maxReadRatio*len(enc.EncodeAll(raw, nil)) {
			break
		}
		n = n * 9 / 8
	}
	raw = raw[:0]
	add(packetRecord(t0, n, pad))
	return enc.EncodeAll(raw, nil), 1, n
}

// packetBomb is a valid header followed by copies of frame, one segment
// each, until the file is about size bytes; tail (whole chunks) ends it.
func packetBomb(t testing.TB, frame []byte, size int, tail []byte) (b []byte, segments int) {
	path, _ := writeSession(t, t.TempDir(), 0)
	head := mustRead(t, path)
	r, err := openBytes(head)
	if err != nil {
		t.Fatal(err)
	}
	b = append([]byte(nil), head[:r.dataStart]...)
	for len(b)+chunkHeaderSize+len(frame)+len(tail) <= size {
		b = appendChunk(b, chunkSegStart, 1, t0.UnixNano(), t0.UnixNano(), frame)
		segments++
	}
	return append(b, tail...), segments
}

// TestManySegmentBombCostsInProportion is issue 18's bomb: 100 KB of
// segments of about 1 KB that each decode to 8 MiB of packet batches. The
// 16384-fold per-segment guard let every one through, 45 s of report.
// Now the reader does at most readFloor + maxReadRatio times the bytes it
// takes from the file over all of them, reports the excess as damage in
// one line that says why, and still reads the honest segments after it.
func TestManySegmentBombCostsInProportion(t *testing.T) {
	frame, records, packets := packetBombFrame(t, false)
	honest, want := writeSession(t, t.TempDir(), 3)
	hb := mustRead(t, honest)
	hr, err := openBytes(hb)
	if err != nil {
		t.Fatal(err)
	}
	b, segs := packetBomb(t, frame, 100_000, hb[hr.dataStart:hr.dataEnd])
	t.Logf("%d segments of %d bytes, each %d batches, %d packets; %d bytes", segs, len(frame), records, packets, len(b))
	r, err := openBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	it := r.Iter(time.Time{})
	var batches, tail int
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		if ev.Kind == "packets" {
			batches++
		} else {
			tail++
		}
	}
	bound := int64(readFloor + maxReadRatio*len(b))
	t.Logf("%d batches and %d other events read; work %d, bound %d (it was %d); %v",
		batches, tail, it.lim.work, bound, int64(segs)*maxSegmentDecoded, it.Err())
	if it.lim.work > bound {
		t.Errorf("did %d work for a %d-byte file, over %d", it.lim.work, len(b), bound)
	}
	if tail != len(want) {
		t.Errorf("read %d of the %d events of the honest segments after the bomb", tail, len(want))
	}
	d := asDamage(it.Err())
	if d == nil || !d.Limit || d.More == 0 {
		t.Fatalf("want damage at the limit, in many places: %v", it.Err())
	}
	if msg := d.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "decompress past the reader's limit") {
		t.Errorf("damage line %q", msg)
	}
}

// TestWorstBombReadsOnlyItsAllowance: segments made to decode to exactly
// what the limit allows are read in full, no damage, and the work stays in
// the bound for the file's size. This is the costliest 100 KB a reader will
// decode (cmd/stakeout's TestBombReportAndHandoffAreCheap times it).
func TestWorstBombReadsOnlyItsAllowance(t *testing.T) {
	frame, _, packets := packetBombFrame(t, true)
	b, segs := packetBomb(t, frame, 100_000, nil)
	r, err := openBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	it := r.Iter(time.Time{})
	n := 0
	for _, ok := it.Next(); ok; _, ok = it.Next() {
		n++
	}
	bound := int64(readFloor + maxReadRatio*len(b))
	t.Logf("%d segments of %d bytes, one batch of %d packets each: %d read, work %d, bound %d, %v",
		segs, len(frame), packets, n, it.lim.work, bound, it.Err())
	if n != segs || it.Err() != nil {
		t.Errorf("read %d of %d batches: %v", n, segs, it.Err())
	}
	if it.lim.work > bound || it.lim.work < bound*3/4 {
		t.Errorf("work %d for a bound of %d: not the worst case, or over it", it.lim.work, bound)
	}
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
	if decoded > min(maxSegmentDecoded, readFloor+maxReadRatio*int64(len(frame)))+1 {
		t.Errorf("decompressed %d bytes from a %d-byte frame", decoded, len(frame))
	}
	// The decoder's window and buffers, one 32 KiB read buffer, and the
	// garbage of 250,000 rejected records; nowhere near the gigabyte.
	if alloc > 64<<20 {
		t.Errorf("allocated %d bytes reading a bomb", alloc)
	}
}

// TestTinyBombCutByRatio: a 200-byte frame that would expand to 6 MiB,
// under the per-segment cap, decompresses no further than the limit allows
// for its size (readFloor + maxReadRatio times it), so a file of many such
// segments costs work in proportion to its size.
func TestTinyBombCutByRatio(t *testing.T) {
	frame := rleFrame(goodRecords(1), 48)
	b := bombFile(t, frame)
	n, err, decoded, _ := readBomb(t, b)
	limit := int64(readFloor + maxReadRatio*len(frame))
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
