package sessions

import (
	"path/filepath"
	"testing"
	"time"
)

// quietHour records one simulated hour of a quiet host (an io sample with
// two devices plus two other ~150-byte events every second, flushed every
// second) and returns the file size.
func quietHour(t testing.TB) int64 {
	path := filepath.Join(t.TempDir(), "hour.stk")
	w, err := Create(path, testHeader(), manual())
	if err != nil {
		t.Fatal(err)
	}
	recordSeconds(t, w, t0, 3600, 1)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.Size()
}

func TestQuietHostBytesPerHour(t *testing.T) {
	n := quietHour(t)
	t.Logf("quiet host at 1 s sampling: %d bytes/hour (%.2f MB/h, %.1f MB/day)", n, float64(n)/1e6, float64(n)*24/1e6)
	if n > 4e6 { // the target is 2 MB/h; this only catches a gross regression
		t.Fatalf("%d bytes for one quiet hour", n)
	}
}

func BenchmarkQuietHour(b *testing.B) {
	var n int64
	start := time.Now()
	for b.Loop() {
		n = quietHour(b)
	}
	b.ReportMetric(float64(n), "bytes/hour")
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N)/3600, "µs/recorded-second")
}
