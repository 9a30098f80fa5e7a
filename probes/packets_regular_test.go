package probes

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/sessions"
)

// TestPerfectlyRegularFloodReadsBack: a flood whose every packet is the
// same flow, length and gap (0 or 4 µs) makes batches that zstd
// compresses 2,000 to 4,000 fold, past the reader's first bomb guard of
// 1024 (it read back one batch in eight, the rest as damage). Whatever the
// writer makes of a real capture must read back whole.
func TestPerfectlyRegularFloodReadsBack(t *testing.T) {
	for _, dt := range []int64{0, 4} {
		path := filepath.Join(t.TempDir(), "flood.stk")
		w, err := sessions.Create(path, sessions.Header{}, sessions.WriterOptions{FlushEvery: -1, MaxBytes: 1 << 40})
		if err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
		const n = 120
		for k := range n {
			pb := &PacketBatch{Iface: "lo", Start: at.Add(time.Duration(k) * 65 * time.Millisecond)}
			for range batchMax {
				pb.DtUs = append(pb.DtUs, dt)
				pb.Flow = append(pb.Flow, 1)
				pb.Flags = append(pb.Flags, 0)
				pb.Len = append(pb.Len, 106)
			}
			if err := w.Write(event.New(pb.Start, packetsName, pb)); err != nil {
				t.Fatal(err)
			}
			if k%4 == 3 { // about what a second of flood is between flushes
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
		it := r.Iter(time.Time{})
		got := 0
		for _, ok := it.Next(); ok; _, ok = it.Next() {
			got++
		}
		r.Close()
		if got != n || it.Err() != nil {
			t.Errorf("gap %d µs: read %d of %d batches: %v", dt, got, n, it.Err())
		}
	}
}
