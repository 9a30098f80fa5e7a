package sessions

import (
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// quotaFile is a recording's real file whose owner has a disk quota: the
// file may not grow past limit bytes. A write that would is cut where the
// quota ends and fails with EDQUOT, as the kernel's does; truncating gives
// the room back. (This kernel has no quota formats built in, so a real
// quota can't be set up here.)
type quotaFile struct {
	*os.File
	limit, size int64
	writes      int // Write calls that reached the file
}

func (q *quotaFile) Write(b []byte) (int, error) {
	q.writes++
	room := max(q.limit-q.size, 0)
	if int64(len(b)) <= room {
		n, err := q.File.Write(b)
		q.size += int64(n)
		return n, err
	}
	n, _ := q.File.Write(b[:room])
	q.size += int64(n)
	return n, &os.PathError{Op: "write", Path: q.Name(), Err: syscall.EDQUOT}
}

func (q *quotaFile) Truncate(n int64) error {
	if err := q.File.Truncate(n); err != nil {
		return err
	}
	q.size = n
	return nil
}

// TestQuotaPauseDoesNotFlap: a user over a disk quota, on a filesystem
// with plenty of room (the free-space check sees the filesystem, not the
// quota, so it always says there is room). The recording pauses when a
// write fails with EDQUOT and stays paused for minutes of flushes: it used
// to resume at the next flush and pause again at the one after, every two
// seconds. It tries a test write after a back-off that doubles to a minute,
// which leaves nothing in the file. Once the quota is raised (the
// free-space check does not change) the next test write succeeds and it
// resumes, once.
func TestQuotaPauseDoesNotFlap(t *testing.T) {
	now := t0
	path := filepath.Join(t.TempDir(), "rec.stk")
	plenty := func(string) (uint64, uint64, error) { return 1 << 40, 1 << 41, nil }
	w, err := Create(path, testHeader(), WriterOptions{FlushEvery: -1, FreeSpace: plenty, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	qf := &quotaFile{File: w.f.(*os.File), size: w.size, limit: w.size + 1<<20}
	w.f = qf

	rng := rand.New(rand.NewSource(4))
	blob := make([]byte, 48<<10) // about 64 KiB of JSON a flush
	s, pauses, resumes := 0, 0, 0
	wasPaused := false
	var probes []time.Duration // when, after the failure, test writes were made
	var failed time.Time
	flushOne := func() {
		t.Helper()
		rng.Read(blob)
		at := t0.Add(time.Duration(s) * time.Second)
		w.Write(rawEvent(at, "x", "noise", map[string]any{"time": at, "probe": "x", "kind": "noise", "s": s, "blob": blob}))
		before := qf.writes
		if err := w.Flush(); err != nil {
			t.Fatalf("flush %d: %v", s, err)
		}
		if wasPaused && qf.writes > before {
			probes = append(probes, now.Sub(failed))
		}
		s++
		_, p := w.Paused()
		if p && !wasPaused {
			pauses++
			failed = now
		} else if !p && wasPaused {
			resumes++
		}
		wasPaused = p
		now = now.Add(time.Second)
	}
	for !wasPaused {
		if s > 100 {
			t.Fatal("100 flushes of 64 KiB into a 1 MiB quota without a pause")
		}
		flushOne()
	}
	failedAt := s - 1
	if reason, _ := w.Paused(); !strings.Contains(reason, "quota") {
		t.Fatalf("paused for %q, want the write's EDQUOT", reason)
	}
	for range 300 { // five minutes of flushes once a second
		flushOne()
	}
	if pauses != 1 || resumes != 0 {
		t.Fatalf("over five minutes over quota: %d pauses, %d resumes; test writes at %v; size %d limit %d", pauses, resumes, probes, qf.size, qf.limit)
	}
	// Test writes 2, 4, 8, 16, 32 s apart, then every minute.
	want := []time.Duration{2, 6, 14, 30, 62, 122, 182, 242}
	if len(probes) != len(want) {
		t.Fatalf("test writes at %v s after the failure, want %v", probes, want)
	}
	for i := range want {
		if probes[i] != want[i]*time.Second {
			t.Fatalf("test writes at %v after the failure, want at %v s", probes, want)
		}
	}
	if st, err := os.Stat(path); err != nil || st.Size() != w.Size() {
		t.Fatalf("the file is %v bytes (%v), the writer wrote %d: a test write was left in it", st.Size(), err, w.Size())
	}

	qf.limit = 1 << 40 // the quota raised
	for range int(maxBackoff/time.Second) + 1 {
		if flushOne(); !wasPaused {
			break
		}
	}
	if wasPaused {
		t.Fatal("still paused a back-off after the quota was raised")
	}
	resumedAt := s
	for range 3 {
		flushOne()
	}
	if pauses != 1 || resumes != 1 {
		t.Fatalf("%d pauses, %d resumes", pauses, resumes)
	}
	states, noise := closeAndReadNoise(t, w, path)
	if strings.Join(states, ",") != "paused,resumed" {
		t.Fatalf("recording states %v", states)
	}
	if len(noise) != failedAt+s-resumedAt || noise[failedAt-1] != failedAt-1 || noise[failedAt] != resumedAt {
		t.Fatalf("noise events %v (failed at %d, resumed at %d)", noise, failedAt, resumedAt)
	}
}
