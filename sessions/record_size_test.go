package sessions

import (
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// TestRecordLengthsAtVarintBoundaries: a record is encoded in place after
// three bytes of room for its length, and moved back when the length takes
// fewer; records whose JSON is 1 byte either side of each uvarint size
// (127/128, 16383/16384 bytes) and the largest accepted one read back as
// written, and one byte more is refused without losing what came before.
func TestRecordLengthsAtVarintBoundaries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.stk")
	w, err := Create(path, testHeader(), WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	// sized is an event whose JSON is exactly n bytes, of random letters:
	// a run of one letter would trip the reader's decompression-ratio cap.
	rng := rand.New(rand.NewSource(7))
	letters := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + rng.Intn(26))
		}
		return string(b)
	}
	sized := func(i, n int) event.Event {
		at := t0.Add(time.Duration(i) * time.Second)
		fields := map[string]any{"time": at.Format(time.RFC3339Nano), "probe": "p", "kind": "sized", "pad": ""}
		ev := rawEvent(at, "p", "sized", fields)
		b, err := ev.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		fields["pad"] = letters(n - len(b))
		return rawEvent(at, "p", "sized", fields)
	}
	var want []event.Event
	for i, n := range []int{100, 127, 128, 129, 16383, 16384, 16385, 300000, maxRecordSize, 127} {
		ev := sized(i, n)
		if b, _ := ev.AppendJSON(nil); len(b) != n {
			t.Fatalf("test event is %d bytes, want %d", len(b), n)
		}
		if err := w.Write(ev); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		want = append(want, ev)
	}
	if err := w.Write(sized(99, maxRecordSize+1)); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("a record over the limit: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	readBoth(t, path, want)
}
