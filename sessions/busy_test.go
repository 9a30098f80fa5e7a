package sessions

import (
	"math/rand"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// TestBusyHostWithoutFlush: a burst far larger than one flush's buffer is
// written without any Flush call; memory stays bounded (Write flushes
// itself), segments stay under the reader's limit, and nothing is lost.
func TestBusyHostWithoutFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.stk")
	w, err := Create(path, testHeader(), manual())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(5))
	var want []event.Event
	for i := 0; i < 10000; i++ {
		for _, ev := range quietSecond(rng, t0.Add(time.Duration(i)*time.Millisecond)) {
			w.Write(ev)
			want = append(want, ev)
		}
		if len(w.pending) > pendingMax+maxRecordSize {
			t.Fatalf("%d bytes buffered", len(w.pending))
		}
	}
	w.Close()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := readAll(t, r, time.Time{})
	if err != nil || len(got) != len(want) {
		t.Fatalf("%d of %d events, %v", len(got), len(want), err)
	}
	samePrefix(t, got, want)
	if len(r.segs) < 3 {
		t.Fatalf("%d segments for ~4.5 MiB of records: segments are not capped", len(r.segs))
	}
}

// TestIterOutOfOrder: events written slightly out of time order (probes
// report late) are all found by Iter(from), whichever segment they sit in.
func TestIterOutOfOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ooo.stk")
	w, err := Create(path, testHeader(), manual())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(2))
	var times []time.Time
	for s := 0; s < 400; s++ {
		at := t0.Add(time.Duration(s)*time.Second - time.Duration(rng.Intn(3000))*time.Millisecond)
		w.Write(event.New(at, "late", &ioSample{}))
		times = append(times, at)
		w.Flush()
	}
	w.Close()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	for _, from := range []time.Duration{59 * time.Second, 60 * time.Second, 119500 * time.Millisecond, 300 * time.Second} {
		cut := t0.Add(from)
		want := 0
		for _, tm := range times {
			if !tm.Before(cut) {
				want++
			}
		}
		got, err := readAll(t, r, cut)
		if err != nil || len(got) != want {
			t.Fatalf("from %v: %d events, want %d (%v)", from, len(got), want, err)
		}
	}
}
