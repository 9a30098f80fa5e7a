package sessions

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// crashedSession is a 200-second recording that was never closed (no
// index), with the offsets of its segment starts.
func crashedSession(t *testing.T) ([]byte, []int64, int) {
	path, want := writeSession(t, t.TempDir(), 200)
	b := mustRead(t, path)
	full, _ := openBytes(b)
	var starts []int64
	for _, s := range full.segs {
		starts = append(starts, s.Off)
	}
	return b[:full.dataEnd], starts, len(want)
}

// A length field bent to point past the end of the file looks like a torn
// tail, but a good segment follows: the reader reads on, and Append, which
// would cut a torn tail off, refuses rather than destroy what follows.
func TestResyncPastABentLength(t *testing.T) {
	b, starts, total := crashedSession(t)
	if len(starts) < 4 {
		t.Fatalf("%d segments", len(starts))
	}
	bad := starts[1]
	binary.LittleEndian.PutUint32(b[bad+8:], 1<<24) // 16 MiB: past the end
	r, err := openBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	d := r.Damage()
	if d == nil || d.Offset != bad || d.Resume != starts[2] || !strings.Contains(d.Error(), "read on from") {
		t.Fatalf("damage %+v", d)
	}
	got, err := readAll(t, r, time.Time{})
	if asDamage(err) == nil || len(got) == 0 || len(got) >= total || got[len(got)-1].Time.Before(fromNano(r.segs[len(r.segs)-1].Min)) {
		t.Fatalf("%d of %d events, err %v: the segments after the damage were not read", len(got), total, err)
	}

	path := filepath.Join(t.TempDir(), "bent.stk")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Append(path, manual()); !errors.Is(err, ErrDamagedFile) {
		t.Fatalf("Append: %v, want ErrDamagedFile", err)
	}
	if after := mustRead(t, path); !bytes.Equal(after, b) {
		t.Fatalf("Append changed the file: %d bytes, was %d", len(after), len(b))
	}
}

// Two damaged places, in the second segment and in the last: the third is
// read between them, and the message counts the second place.
func TestResyncTwice(t *testing.T) {
	b, starts, _ := crashedSession(t)
	last := starts[len(starts)-1]
	b[starts[1]+chunkHeaderSize+1] ^= 0x10
	b[last+chunkHeaderSize+1] ^= 0x10
	r, err := openBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r, time.Time{})
	d := asDamage(err)
	if d == nil || d.Offset != starts[1] || d.Resume != starts[2] || d.More != 1 || !strings.HasSuffix(d.Error(), "(and 1 more damaged place)") {
		t.Fatalf("damage %+v: %v", d, err)
	}
	if len(got) == 0 || got[len(got)-1].Time.Before(r.minFrom(starts[2])) {
		t.Fatalf("%d events: the segment between the damaged places was not read", len(got))
	}
}

// A crafted tail of thousands of fake segment headers, each claiming the
// rest of the file, costs a bounded search, not one CRC of the rest per
// header.
func TestResyncSearchIsBounded(t *testing.T) {
	b, starts, _ := crashedSession(t)
	b = b[:starts[1]]
	b = append(b, "garbage!"...) // damage: not a chunk
	fake := make([]byte, chunkHeaderSize)
	copy(fake, chunkMagic)
	fake[4] = chunkSegStart
	for i := 0; i < 20000; i++ {
		// Each claims exactly the rest of the file, so each CRC check
		// would read all of it.
		binary.LittleEndian.PutUint32(fake[8:], uint32(20000-i-1)*chunkHeaderSize)
		b = append(b, fake...)
	}
	r, err := openBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	d := r.Damage()
	if d == nil || d.Resume != 0 || d.Offset != starts[1] {
		t.Fatalf("damage %+v", d)
	}
	if r.resyncBudget.candidates > maxResyncCandidates || r.resyncBudget.checked > maxResyncChecked+maxChunkPayload {
		t.Fatalf("search went over its budget: %+v", r.resyncBudget)
	}
	t.Logf("%d bytes: %d candidates tried, %d payload bytes checked", len(b), r.resyncBudget.candidates, r.resyncBudget.checked)
}
