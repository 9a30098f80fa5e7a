package sessions

import (
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// writeUntilStopped records quiet-host seconds until the Writer stops.
func writeUntilStopped(t *testing.T, w *Writer, limit int) (written int) {
	t.Helper()
	rng := rand.New(rand.NewSource(7))
	for s := 0; s < limit; s++ {
		for _, ev := range quietSecond(rng, t0.Add(time.Duration(s)*time.Second)) {
			if err := w.Write(ev); err != nil {
				if !errors.Is(err, ErrStopped) {
					t.Fatal(err)
				}
				return written
			}
			written++
		}
		if err := w.Flush(); err != nil {
			if !errors.Is(err, ErrStopped) {
				t.Fatal(err)
			}
			return written
		}
	}
	t.Fatalf("writer did not stop within %d seconds", limit)
	return 0
}

// checkStoppedFile opens a stopped recording and returns its stop finding.
func checkStoppedFile(t *testing.T, path string, reasonHas string) *event.Finding {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Damage() != nil || r.dataEnd == r.size {
		t.Fatalf("stopped file not closed cleanly: damage %v, index found %v", r.Damage(), r.dataEnd != r.size)
	}
	evs, err := readAll(t, r, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) < 3 {
		t.Fatalf("only %d events", len(evs))
	}
	rec, ok := evs[len(evs)-2].Body.(*event.Recording)
	if !ok || rec.State != "stopped" || !strings.Contains(rec.Reason, reasonHas) {
		t.Fatalf("second to last event %+v", evs[len(evs)-2])
	}
	f, ok := event.As[event.Finding](evs[len(evs)-1])
	if !ok || f.Finding != FindingRecordStopped || f.Severity != event.Warn {
		t.Fatalf("last event %+v", evs[len(evs)-1])
	}
	data, _ := f.Data.(map[string]any)
	if data["file"] != path || data["bytes"].(float64) <= 0 || !strings.Contains(data["reason"].(string), reasonHas) {
		t.Fatalf("finding data %v", f.Data)
	}
	return f
}

func TestStopAtMaxBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "max.stk")
	o := manual()
	o.MaxBytes = 64 << 10
	w, err := Create(path, testHeader(), o)
	if err != nil {
		t.Fatal(err)
	}
	writeUntilStopped(t, w, 100000)
	reason, stopped := w.Stopped()
	if !stopped || !strings.Contains(reason, "64.0 KiB limit") {
		t.Fatalf("Stopped() = %q, %v", reason, stopped)
	}
	if err := w.Write(event.New(t0, "x", &ioSample{})); !errors.Is(err, ErrStopped) {
		t.Fatalf("Write after stop: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close after stop: %v", err)
	}
	st, _ := os.Stat(path)
	if st.Size() > o.MaxBytes || st.Size() < o.MaxBytes/2 {
		t.Fatalf("file is %d bytes, limit %d", st.Size(), o.MaxBytes)
	}
	checkStoppedFile(t, path, "limit")
}

// TestPauseAtFreeSpaceFloor: a disk that shrinks as the file grows (and
// as something else writes) pauses the recording before the floor is dug
// into; the file is closed cleanly with the pause notice last.
func TestPauseAtFreeSpaceFloor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "full.stk")
	const fsSize = 100 << 20 // floor: 5% = 5 MiB
	avail := uint64(5<<20 + 40<<10)
	calls := 0
	o := manual()
	o.FreeSpace = func(p string) (uint64, uint64, error) {
		if p != path {
			t.Errorf("FreeSpace asked about %q", p)
		}
		calls++
		return avail, fsSize, nil
	}
	w, err := Create(path, testHeader(), o)
	if err != nil {
		t.Fatal(err)
	}
	// The simulated disk shrinks as the file grows, and something else
	// eats 1 KiB a second too.
	last := w.Size()
	rng := rand.New(rand.NewSource(3))
	var flushes int
	for s := 0; ; s++ {
		if s > 100000 {
			t.Fatal("never paused")
		}
		for _, ev := range quietSecond(rng, t0.Add(time.Duration(s)*time.Second)) {
			if err := w.Write(ev); err != nil {
				t.Fatal(err)
			}
		}
		avail -= uint64(w.Size()-last) + 1024
		last = w.Size()
		flushes++
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if _, paused := w.Paused(); paused {
			break
		}
	}
	if calls > 2*flushes+1 {
		t.Fatalf("statfs %d times for %d flushes", calls, flushes)
	}
	if reason, _ := w.Paused(); !strings.Contains(reason, "filesystem nearly full") {
		t.Fatalf("reason %q", reason)
	}
	avail -= uint64(w.Size() - last) // the pause notice
	if avail < 5<<20-stopReserve {
		t.Fatalf("writer dug %d bytes into the floor", 5<<20-avail)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Damage() != nil || r.dataEnd == r.size {
		t.Fatalf("paused file not closed cleanly: damage %v, index found %v", r.Damage(), r.dataEnd != r.size)
	}
	evs, err := readAll(t, r, time.Time{})
	if err != nil || len(evs) < 3 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	checkPauseNotice(t, evs[len(evs)-2:], path, "nearly full")
}

func TestCreateRefusesBelowFloor(t *testing.T) {
	o := manual()
	o.FreeSpace = func(string) (uint64, uint64, error) { return 1 << 20, 1 << 30, nil }
	path := filepath.Join(t.TempDir(), "no.stk")
	if _, err := Create(path, testHeader(), o); !errors.Is(err, ErrStopped) {
		t.Fatalf("err %v, want ErrStopped", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("file created on a full disk")
	}
}

// A failing write (EIO, ENOSPC that statfs did not foresee) stops the
// recording; the file keeps everything written before it.
func TestStopOnWriteError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eio.stk")
	w, err := Create(path, testHeader(), manual())
	if err != nil {
		t.Fatal(err)
	}
	want := recordSeconds(t, w, t0, 5, 1)
	ro, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.f.Close()
	w.f = ro // every write now fails
	w.mu.Unlock()
	w.Write(event.New(t0.Add(time.Hour), "x", &ioSample{}))
	if err := w.Flush(); !errors.Is(err, ErrStopped) {
		t.Fatalf("Flush: %v", err)
	}
	if reason, _ := w.Stopped(); !strings.HasPrefix(reason, "write failed") {
		t.Fatalf("reason %q", reason)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := readAll(t, r, time.Time{})
	if err != nil || len(got) != len(want) {
		t.Fatalf("%d of %d events, err %v", len(got), len(want), err)
	}
}

func TestFlusherGoroutine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tick.stk")
	o := manual()
	o.FlushEvery = 20 * time.Millisecond
	w, err := Create(path, testHeader(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	size := w.Size()
	w.Write(event.New(t0, "x", &ioSample{}))
	for deadline := time.Now().Add(5 * time.Second); w.Size() == size; {
		if time.Now().After(deadline) {
			t.Fatal("the flusher never flushed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
