package sessions

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// TestMergeFilesFleet: merging 200 small recordings (a fleet's snapshots)
// holds at most MergeFanIn of them open at once and a live heap bounded by
// that, not by the number of files, and the merged file has every host's
// events with its host_facts.
func TestMergeFilesFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("200 recordings")
	}
	const hosts = 200
	dir := t.TempDir()
	var paths []string
	for i := range hosts {
		p := filepath.Join(dir, fmt.Sprintf("h%03d.stk", i))
		h := testHeader()
		h.Hostname = fmt.Sprintf("h%03d", i)
		w, err := Create(p, h, manual())
		if err != nil {
			t.Fatal(err)
		}
		recordSeconds(t, w, t0, 60, int64(i))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(ents)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseHeap, baseFDs := ms.HeapInuse, fds()
	var maxHeap uint64
	maxFDs, n := 0, 0
	opt := MergeOptions{Progress: func(Progress) {
		if n++; n%5000 == 0 {
			maxFDs = max(maxFDs, fds())
			runtime.GC()
			runtime.ReadMemStats(&ms)
			maxHeap = max(maxHeap, ms.HeapInuse)
		}
	}}
	out := filepath.Join(dir, "all.stk")
	start := time.Now()
	st, err := MergeFiles(paths, Open, out, []string{"stakeout", "merge"}, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("merged %d events of %d files in %v: live heap at most %d MiB over %d MiB before, %d files open over %d",
		st.Events, hosts, time.Since(start).Round(time.Millisecond), (maxHeap-baseHeap)>>20, baseHeap>>20, maxFDs-baseFDs, baseFDs)
	if maxFDs-baseFDs > MergeFanIn+4 {
		t.Errorf("%d files open at once, more than the %d of a round", maxFDs-baseFDs, MergeFanIn)
	}
	// 0.75 MiB per file read at once, and room for the writer and the GC.
	if limit := uint64(MergeFanIn)*(1<<20) + 16<<20; maxHeap-baseHeap > limit {
		t.Errorf("live heap grew %d MiB, over %d MiB", (maxHeap-baseHeap)>>20, limit>>20)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".all.stk.merge-*"))
	if len(leftovers) > 0 {
		t.Errorf("round files left behind: %v", leftovers)
	}
	r, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	evs, err := readAll(t, r, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	facts, perHost := map[string]bool{}, map[string]int{}
	for _, ev := range evs {
		if f, ok := event.As[schema.HostFacts](ev); ok {
			facts[f.Host] = true
		} else {
			perHost[ev.Host]++
		}
	}
	if len(facts) != hosts || len(perHost) != hosts || perHost["h000"] != 180 || perHost["h199"] != 180 {
		t.Fatalf("%d host facts, %d hosts with events (h000: %d, h199: %d)", len(facts), len(perHost), perHost["h000"], perHost["h199"])
	}
	if len(evs) != hosts*181 || st.Events != len(evs) {
		t.Fatalf("%d events read back, %d merged, want %d", len(evs), st.Events, hosts*181)
	}
}
