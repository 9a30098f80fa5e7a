package sessions

import (
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type countingReaderAt struct {
	ra io.ReaderAt
	n  atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.ra.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// TestSeekManyHours seeks in a 4-hour recording: each seek must land on the
// first event at or after the target and read only around that point.
func TestSeekManyHours(t *testing.T) {
	path, want := writeSession(t, t.TempDir(), 4*3600)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	cr := &countingReaderAt{ra: f}
	r, err := newReader(cr, st.Size(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("4 h file: %d bytes, %d segments, open read %d bytes", st.Size(), len(r.segs), cr.n.Load())
	rng := rand.New(rand.NewSource(9))
	targets := []time.Time{time.Time{}, t0, want[0].Time, want[len(want)-1].Time, want[len(want)-1].Time.Add(time.Nanosecond)}
	for range 50 {
		targets = append(targets, t0.Add(time.Duration(rng.Int63n(int64(4*time.Hour)))))
	}
	for _, target := range targets {
		cr.n.Store(0)
		it := r.Iter(target)
		ev, ok := it.Next()
		// want is in time order, so the answer is the first event >= target.
		i := 0
		for i < len(want) && want[i].Time.Before(target) {
			i++
		}
		if i == len(want) {
			if ok {
				t.Fatalf("seek past the end to %v gave %v", target, ev.Time)
			}
			continue
		}
		if !ok || jsonOf(t, ev) != jsonOf(t, want[i]) {
			t.Fatalf("seek to %v: got %v (ok %v), want event %d at %v", target, ev.Time, ok, i, want[i].Time)
		}
		if n := cr.n.Load(); n > 256<<10 {
			t.Fatalf("seek to %v read %d bytes of a %d byte file", target, n, st.Size())
		}
	}
}

var (
	day     struct{ path string }
	dayOnce sync.Once
	dayDir  string
)

// TestMain removes the 24-hour recording shared by benchmarks.
func TestMain(m *testing.M) {
	code := m.Run()
	if dayDir != "" {
		os.RemoveAll(dayDir)
	}
	os.Exit(code)
}

// dayRecording writes a 24-hour quiet-host recording once per test binary.
func dayRecording(b *testing.B) string {
	dayOnce.Do(func() {
		var err error
		if dayDir, err = os.MkdirTemp("", "stk-day-"); err != nil {
			b.Fatal(err)
		}
		day.path, _ = writeSession(b, dayDir, 24*3600)
	})
	if day.path == "" {
		b.Fatal("no 24 h recording")
	}
	return day.path
}

// BenchmarkSeek24h measures one seek in a 24-hour recording (a few events
// a second): Iter at a random time and the first event from it. Target:
// well under 200 ms.
func BenchmarkSeek24h(b *testing.B) {
	r, err := Open(dayRecording(b))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	rng := rand.New(rand.NewSource(1))
	for b.Loop() {
		target := t0.Add(time.Duration(rng.Int63n(int64(24 * time.Hour))))
		if _, ok := r.Iter(target).Next(); !ok {
			b.Fatal("no event")
		}
	}
	st, _ := os.Stat(r.name)
	b.ReportMetric(float64(st.Size())/(1<<20), "MiB/file")
}

// BenchmarkPlayerSeek24h is what the UI does on a seek key: Seek with five
// minutes of history for the panes.
func BenchmarkPlayerSeek24h(b *testing.B) {
	r, err := Open(dayRecording(b))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	p := NewPlayer(r, 5*time.Minute, nil)
	rng := rand.New(rand.NewSource(1))
	for b.Loop() {
		if _, err := p.Seek(t0.Add(time.Duration(rng.Int63n(int64(24 * time.Hour))))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenUnclosed24h is the cost of opening a crashed 24-hour file:
// the index is rebuilt by walking every chunk.
func BenchmarkOpenUnclosed24h(b *testing.B) {
	full, err := Open(dayRecording(b))
	if err != nil {
		b.Fatal(err)
	}
	cut := filepath.Join(b.TempDir(), "crashed.stk")
	data, _ := os.ReadFile(full.name)
	os.WriteFile(cut, data[:full.dataEnd], 0o600)
	full.Close()
	for b.Loop() {
		r, err := Open(cut)
		if err != nil || r.Damage() != nil {
			b.Fatal(err, r.Damage())
		}
		r.Close()
	}
}
