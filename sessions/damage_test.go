package sessions

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"regexp"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/stakeout/stakeout/event"
)

var damageShape = regexp.MustCompile(`^recording ends early at \d\d:\d\d:\d\d: [1-9]\d* bytes unreadable$`)

// chunkEnds lists, for each chunk of an intact file, where it ends and how
// many events the file holds up to there.
func chunkEnds(t *testing.T, b []byte) (ends []int64, events []int) {
	r, err := openBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	cs := newChunkStream(r.ra, r.dataStart, r.dataEnd)
	n := 0
	for {
		h, _, err := cs.next()
		if err != nil {
			return ends, events
		}
		n += int(h.Events)
		ends, events = append(ends, cs.off), append(events, n)
	}
}

func TestTruncatedAtManyOffsets(t *testing.T) {
	path, want := writeSession(t, t.TempDir(), 70)
	b := mustRead(t, path)
	full, _ := openBytes(b)
	ends, counts := chunkEnds(t, b)
	cuts := []int64{0, 1, 7, int64(preambleSize), full.dataStart - 1}
	for c := full.dataStart; c <= int64(len(b)); c += 211 {
		cuts = append(cuts, c)
	}
	for _, e := range ends {
		cuts = append(cuts, e-1, e, e+1)
	}
	for _, cut := range cuts {
		if cut > int64(len(b)) {
			continue
		}
		r, err := openBytes(b[:cut])
		if cut < full.dataStart {
			if !errors.Is(err, ErrNotSession) {
				t.Fatalf("cut %d inside the header: err %v, want ErrNotSession", cut, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		got, iterErr := readAll(t, r, time.Time{})
		samePrefix(t, got, want)
		// Every event in a chunk that ends before the cut survives.
		mustHave := 0
		boundary := cut == full.dataStart
		for i, e := range ends {
			if e <= cut {
				mustHave = counts[i]
			}
			boundary = boundary || e == cut
		}
		if len(got) < mustHave {
			t.Fatalf("cut %d: %d events survive, want at least %d", cut, len(got), mustHave)
		}
		d := r.Damage()
		switch {
		case boundary || cut == int64(len(b)):
			if d != nil || iterErr != nil {
				t.Fatalf("cut %d on a chunk boundary: damage %v, iter %v", cut, d, iterErr)
			}
		default:
			if d == nil || asDamage(iterErr) == nil {
				t.Fatalf("cut %d: no damage reported (iter %v)", cut, iterErr)
			}
			if !damageShape.MatchString(d.Error()) || d.Offset+d.Bytes != cut {
				t.Fatalf("cut %d: damage %q offset %d", cut, d, d.Offset)
			}
			if len(got) > 0 && !d.At.Equal(got[len(got)-1].Time) {
				t.Fatalf("cut %d: damage dated %v, last good event %v", cut, d.At, got[len(got)-1].Time)
			}
		}
	}
}

func TestDamageMessage(t *testing.T) {
	d := &Damage{At: time.Date(2026, 11, 23, 14, 2, 11, 999, time.UTC), Bytes: 812, Offset: 4096}
	if got := d.Error(); got != "recording ends early at 14:02:11: 812 bytes unreadable" {
		t.Fatal(got)
	}
}

// TestCorruptChunk flips a bit inside a chunk in the middle of a long
// recording: the events before it are delivered, the rest of its segment is
// lost, and reading goes on from the next segment, whether the file has its
// index or was never closed. The damage says where and how much.
func TestCorruptChunk(t *testing.T) {
	path, want := writeSession(t, t.TempDir(), 200)
	b := mustRead(t, path)
	full, _ := openBytes(b)
	ends, counts := chunkEnds(t, b)
	mid := len(ends) / 2
	flipAt := ends[mid] + chunkHeaderSize + 2 // inside the payload of chunk mid+1
	survive := counts[mid]
	// The next segment start after the bad chunk, and the events before it.
	resume, resumeCount := int64(0), 0
	for i, s := range full.segs {
		if s.Off > ends[mid] {
			resume = s.Off
			for _, p := range full.segs[:i] {
				resumeCount += int(p.Events)
			}
			break
		}
	}
	if resume == 0 {
		t.Fatal("no segment after the middle chunk: make the recording longer")
	}
	expect := append(append([]event.Event(nil), want[:survive]...), want[resumeCount:]...)

	for _, closed := range []bool{true, false} {
		t.Run(fmt.Sprintf("closed=%v", closed), func(t *testing.T) {
			c := append([]byte(nil), b...)
			if !closed {
				c = c[:full.dataEnd] // as after a crash: no index, no trailer
			}
			c[flipAt] ^= 0x40
			r, err := openBytes(c)
			if err != nil {
				t.Fatal(err)
			}
			if !closed && r.Damage() == nil {
				t.Fatal("Open of an unclosed corrupt file found no damage")
			}
			got, iterErr := readAll(t, r, time.Time{})
			if len(got) != len(expect) {
				t.Fatalf("%d events, want %d: %d before the bad chunk and %d from the next segment", len(got), len(expect), survive, len(want)-resumeCount)
			}
			samePrefix(t, got, expect)
			d := asDamage(iterErr)
			if d == nil || r.Damage() == nil || d.Offset != ends[mid] || d.Resume != resume || d.Bytes != resume-ends[mid] {
				t.Fatalf("iter err %+v, reader damage %+v, want damage at %d to %d", d, r.Damage(), ends[mid], resume)
			}
			wantMsg := fmt.Sprintf("recording damaged at %s: %d bytes unreadable, read on from %s",
				got[survive-1].Time.Format("15:04:05"), resume-ends[mid], want[resumeCount].Time.Format("15:04:05"))
			if d.Error() != wantMsg {
				t.Fatalf("got %q\nwant %q", d.Error(), wantMsg)
			}
		})
	}
}

// TestCorruptEverywhere flips each byte of a small file in turn: whatever
// happens, no panic, and what is delivered is a prefix of what was written
// (a flip in a JSON body that still parses may change one event).
func TestCorruptEverywhere(t *testing.T) {
	path, want := writeSession(t, t.TempDir(), 5)
	b := mustRead(t, path)
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0x01
		r, err := openBytes(c)
		if err != nil {
			continue
		}
		got, _ := readAll(t, r, time.Time{})
		if len(got) > len(want) {
			t.Fatalf("flip at %d: %d events from %d written", i, len(got), len(want))
		}
		_ = r.Damage()
		p := NewPlayer(r, time.Minute, nil)
		p.Seek(p.End())
		p.Tick(time.Hour)
	}
}

// TestDecompressionBomb: a segment that expands past the per-segment limit
// is reported as damage after the events that fit, not decoded for
// minutes. The padding is random, so it is the 8 MiB cap that cuts it, not
// the compression ratio limit (bomb_test.go).
func TestDecompressionBomb(t *testing.T) {
	path, _ := writeSession(t, t.TempDir(), 0)
	b := mustRead(t, path)
	r, _ := openBytes(b)
	rng := rand.New(rand.NewSource(7))
	padb := make([]byte, maxRecordSize-200)
	for i := range padb {
		padb[i] = 'a' + byte(rng.Intn(26))
	}
	pad := string(padb)
	rec := fmt.Sprintf(`{"time":"2026-11-23T04:00:00Z","probe":"x","kind":"bomb","pad":"%s"}`, pad)
	var raw []byte
	for range 12 { // 12 MiB of records, over the 8 MiB limit
		raw = binary.AppendUvarint(raw, uint64(len(rec)))
		raw = append(raw, rec...)
	}
	enc, _ := zstd.NewWriter(nil)
	z := enc.EncodeAll(raw, nil)
	bomb := appendChunk(append([]byte(nil), b[:r.dataStart]...), chunkSegStart, 12, 0, 0, z)
	t.Logf("%d compressed bytes for %d decompressed", len(z), len(raw))
	r, err := openBytes(bomb)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r, time.Time{})
	if asDamage(err) == nil || len(got) == 0 || len(got) > maxSegmentDecoded/len(rec) {
		t.Fatalf("%d events, err %v", len(got), err)
	}
}
