package packet

import (
	"errors"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/sessions"
)

// writeFlood records 120 batches of batchMax packets of one flow and one
// length, with gaps from gap, through the real writer, flushing about
// once a second of flood as the live writer does, and reads them back.
func writeFlood(t *testing.T, gap func(*rand.Rand) int64) (read int, err error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flood.stk")
	w, err := sessions.Create(path, sessions.Header{}, sessions.WriterOptions{FlushEvery: -1, MaxBytes: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(4))
	at := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	const n = 120
	for k := range n {
		pb := &PacketBatch{Iface: "lo", Start: at.Add(time.Duration(k) * 65 * time.Millisecond)}
		for range BatchMax {
			pb.DtUs = append(pb.DtUs, gap(rng))
			pb.Flow = append(pb.Flow, 1)
			pb.Flags = append(pb.Flags, 0)
			pb.Len = append(pb.Len, 106)
		}
		if err := w.Write(event.New(pb.Start, PacketsName, pb)); err != nil {
			t.Fatal(err)
		}
		if k%4 == 3 {
			w.Flush()
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := sessions.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	it := r.Iter(time.Time{})
	for _, ok := it.Next(); ok; _, ok = it.Next() {
		read++
	}
	if read > n {
		t.Fatalf("read %d batches of %d", read, n)
	}
	return read, it.Err()
}

// TestRegularFloodReadsBack: a real one-flow flood over lo (bench/udpflood)
// recorded 30 to 55 fold compression; its gaps vary by a microsecond or
// more from packet to packet. A flood far more regular than that, 95% of
// its gaps one value (0 µs: 20 packets in every microsecond; or 4 µs), the
// rest a microsecond off, compresses about 90 fold and must read back
// whole through the reader's limit (128 fold, sessions/format.go).
func TestRegularFloodReadsBack(t *testing.T) {
	for _, base := range []int64{0, 4} {
		read, err := writeFlood(t, func(r *rand.Rand) int64 {
			if r.Intn(100) < 5 {
				return base + 1
			}
			return base
		})
		if read != 120 || err != nil {
			t.Errorf("gaps of %d µs, 5%% off by one: read %d of 120 batches: %v", base, read, err)
		}
	}
}

// TestPerfectlyRegularFloodIsCutAtTheLimit: a flood with every gap the
// same, which no capture we measured came near, compresses 2,000 to 4,000
// fold, past the reader's limit, which bounds the work a small file can
// cause. What fits is read (here nothing: a batch, 160 KB of JSON, is more
// than a 600-byte segment may decode to); the rest is reported as damage,
// one line saying why, and reading goes on.
func TestPerfectlyRegularFloodIsCutAtTheLimit(t *testing.T) {
	read, err := writeFlood(t, func(*rand.Rand) int64 { return 4 })
	var d *sessions.Damage
	if !errors.As(err, &d) || !d.Limit || read == 120 {
		t.Fatalf("read %d of 120 batches, %v; want damage at the limit", read, err)
	}
	if msg := d.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "decompress past the reader's limit") {
		t.Errorf("damage line %q", msg)
	}
	t.Logf("read %d of 120 batches: %v", read, err)
}
