package sessions

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
)

// writeHostFile records evs to dir/name with hostname in its header, a
// chunk per event.
func writeHostFile(t *testing.T, dir, name, hostname string, evs ...event.Event) string {
	t.Helper()
	path := filepath.Join(dir, name)
	h := Header{Hostname: hostname, Kernel: "6.18." + hostname, CPUs: 4, Started: xt(0)}
	w, err := Create(path, h, WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
		w.Flush()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func openSet(t *testing.T, paths ...string) *Set {
	t.Helper()
	var files []SetFile
	for _, p := range paths {
		r, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, SetFile{Reader: r, Path: p})
	}
	s := NewSet(files)
	t.Cleanup(func() { s.Close() })
	return s
}

func drainEvents(t *testing.T, it Events) ([]event.Event, error) {
	t.Helper()
	var out []event.Event
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		out = append(out, ev)
	}
	return out, it.Err()
}

// sig is a signal event at second s.
func sig(s float64, pid int) event.Event {
	return event.New(xt(s), "signals", &schema.Signal{PID: pid, Signal: "SIGHUP"})
}

// TestSetMergesFilesByTime: two recordings read as one are in time order,
// each file's own events name its host, a host_facts with the file's
// header comes right before each file's first own event, and an event
// that already names its host (recorded live with --ssh) keeps it.
func TestSetMergesFilesByTime(t *testing.T) {
	dir := t.TempDir()
	remote := sig(2.5, 99)
	remote.Host = "r9"
	a := writeHostFile(t, dir, "a.stk", "web1", sig(1, 1), remote, sig(3, 1), sig(5, 1))
	b := writeHostFile(t, dir, "b.stk", "db1", sig(2, 2), sig(4, 2), sig(6, 2))
	s := openSet(t, a, b)
	got, err := drainEvents(t, s.Events(time.Time{}))
	if err != nil {
		t.Fatal(err)
	}
	var line []string
	for _, ev := range got {
		if f, ok := event.As[schema.HostFacts](ev); ok {
			if ev.Host != f.Host || ev.Probe != schema.ProbeRemote {
				t.Errorf("host_facts event: host %q probe %q, body %+v", ev.Host, ev.Probe, f)
			}
			line = append(line, "facts:"+f.Host+":"+f.Hostname+":"+f.File+":"+f.Kernel)
			continue
		}
		sg, _ := event.As[schema.Signal](ev)
		line = append(line, ev.Time.Format("05.0")+":"+ev.Host+":"+string(rune('0'+sg.PID%10)))
	}
	want := []string{"facts:web1:web1:a.stk:6.18.web1", "01.0:web1:1", "facts:db1:db1:b.stk:6.18.db1", "02.0:db1:2",
		"02.5:r9:9", "03.0:web1:1", "04.0:db1:2", "05.0:web1:1", "06.0:db1:2"}
	if !reflect.DeepEqual(line, want) {
		t.Fatalf("merged:\n%s\nwant:\n%s", strings.Join(line, "\n"), strings.Join(want, "\n"))
	}
	if s.Start() != xt(1) || s.End() != xt(6) || s.Header().Hostname != "web1" {
		t.Errorf("span %v..%v, header host %q", s.Start(), s.End(), s.Header().Hostname)
	}
	// The same file alone is as it always was: no host, no facts.
	r, err := Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	alone, _ := drainEvents(t, Recording(r).Events(time.Time{}))
	if len(alone) != 4 || alone[0].Host != "" || alone[1].Host != "r9" {
		t.Fatalf("one file alone: %d events, hosts %q %q", len(alone), alone[0].Host, alone[1].Host)
	}
}

// TestSetHostNames: two files of one hostname are told apart by their
// file names; a header without a hostname gives the file's name.
func TestSetHostNames(t *testing.T) {
	dir := t.TempDir()
	a := writeHostFile(t, dir, "a.stk", "web1", sig(1, 1))
	b := writeHostFile(t, dir, "b.stk", "web1", sig(2, 1))
	c := writeHostFile(t, dir, "c.stk", "", sig(3, 1))
	d := writeHostFile(t, dir, "d.stk", "db1", sig(4, 1))
	s := openSet(t, a, b, c, d)
	if got, want := s.Hosts(), []string{"web1 (a.stk)", "web1 (b.stk)", "c.stk", "db1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("hosts %q, want %q", got, want)
	}
	got, _ := drainEvents(t, s.Events(time.Time{}))
	var hosts []string
	for _, ev := range got {
		if _, ok := event.As[schema.Signal](ev); ok {
			hosts = append(hosts, ev.Host)
		}
	}
	if want := []string{"web1 (a.stk)", "web1 (b.stk)", "c.stk", "db1"}; !reflect.DeepEqual(hosts, want) {
		t.Fatalf("event hosts %q", hosts)
	}
}

// TestSetDamagedFile: a damaged file among three gives what it could; the
// two others are read to their end, and the damage is that file's alone.
func TestSetDamagedFile(t *testing.T) {
	dir := t.TempDir()
	var evs [3][]event.Event
	for s := 0; s < 30; s++ {
		for h := range evs {
			evs[h] = append(evs[h], sig(float64(s)+float64(h)/10, 100+h))
		}
	}
	a := writeHostFile(t, dir, "a.stk", "a", evs[0]...)
	b := writeHostFile(t, dir, "b.stk", "b", evs[1]...)
	c := writeHostFile(t, dir, "c.stk", "c", evs[2]...)
	// b loses its last third: cut inside a chunk, so the tail is damage.
	data := mustRead(t, b)
	if err := os.WriteFile(b, data[:len(data)*2/3+7], 0o600); err != nil {
		t.Fatal(err)
	}
	s := openSet(t, a, b, c)
	got, err := drainEvents(t, s.Events(time.Time{}))
	if d := asDamage(err); d == nil {
		t.Fatalf("err %v, want the damage", err)
	}
	n := map[string]int{}
	for _, ev := range got {
		if _, ok := event.As[schema.Signal](ev); ok {
			n[ev.Host]++
		}
	}
	if n["a"] != 30 || n["c"] != 30 || n["b"] == 0 || n["b"] >= 30 {
		t.Fatalf("events per host %v: a and c whole, b up to its damage", n)
	}
	for i, r := range s.Files() {
		if (r.Damage() != nil) != (i == 1) {
			t.Errorf("file %d damage %v", i, r.Damage())
		}
	}
}

// TestSetPlayer: the replay's Player plays several files as one: a seek
// gives both hosts' history in time order, and playing on gives the rest.
func TestSetPlayer(t *testing.T) {
	dir := t.TempDir()
	var ea, eb []event.Event
	for s := 0; s < 200; s++ {
		ea = append(ea, sig(float64(s), 1))
		eb = append(eb, sig(float64(s)+0.5, 2))
	}
	s := openSet(t, writeHostFile(t, dir, "a.stk", "a", ea...), writeHostFile(t, dir, "b.stk", "b", eb...))
	p := NewPlayer(s, 10*time.Second, nil)
	if p.Start() != xt(0) || p.End() != xt(199.5) {
		t.Fatalf("span %v..%v", p.Start(), p.End())
	}
	hist, err := p.Seek(xt(100))
	if err != nil {
		t.Fatal(err)
	}
	for p.Pending() {
		more, _ := p.Continue()
		hist = append(hist, more...)
	}
	var times []string
	for _, ev := range hist {
		if _, ok := event.As[schema.Signal](ev); ok {
			times = append(times, ev.Host+ev.Time.Format("05.0"))
		}
	}
	// [90, 100]: a at 90..100, b at 90.5..99.5.
	if len(times) != 21 || times[0] != "a30.0" || times[1] != "b30.5" || times[20] != "a40.0" {
		t.Fatalf("history %v", times)
	}
	evs, err := p.AdvanceTo(xt(150))
	for p.Pending() {
		more, _ := p.Continue()
		evs = append(evs, more...)
	}
	if err != nil {
		t.Fatal(err)
	}
	sigs := 0
	for i, ev := range evs {
		if i > 0 && ev.Time.Before(evs[i-1].Time) {
			t.Fatalf("out of order at %d", i)
		}
		if _, ok := event.As[schema.Signal](ev); ok {
			sigs++
		}
	}
	if sigs != 100 { // (100, 150]: 50 of each
		t.Fatalf("played %d signals to 150 s, want 100", sigs)
	}
}

// TestSetPassed: a merge has passed t only once every file has.
func TestSetPassed(t *testing.T) {
	dir := t.TempDir()
	a := writeHostFile(t, dir, "a.stk", "a", sig(1, 1), sig(2, 1), sig(9, 1))
	b := writeHostFile(t, dir, "b.stk", "b", sig(3, 2), sig(4, 2))
	s := openSet(t, a, b)
	it := s.Events(time.Time{})
	var seen []time.Time
	for {
		if it.Passed(xt(4)) {
			for _, tm := range []float64{1, 2, 3, 4} {
				if !contains(seen, xt(tm)) {
					t.Fatalf("passed 4 s before the event at %v", tm)
				}
			}
		}
		ev, ok := it.Next()
		if !ok {
			break
		}
		seen = append(seen, ev.Time)
	}
	if !it.Passed(xt(4)) {
		t.Fatal("never passed")
	}
}

func contains(ts []time.Time, t time.Time) bool {
	for _, x := range ts {
		if x.Equal(t) {
			return true
		}
	}
	return false
}

// TestSetExtractFlowsPerHost: two hosts both have a flow 2; an extract of
// a window in which only host a's flow 2 sends copies a's announcement of
// it, not b's (ids are per host, and so is the state kept).
func TestSetExtractFlowsPerHost(t *testing.T) {
	dir := t.TempDir()
	flow := func(s float64, src string) event.Event {
		return event.New(xt(s), "packets", &packet.FlowInfo{ID: 2, Iface: "eth0", Proto: "udp", Src: src + ":1", Dst: "10.0.0.9:2"})
	}
	batch := func(s float64) event.Event {
		return event.New(xt(s), "packets", &packet.PacketBatch{Iface: "eth0", Start: xt(s), DtUs: []int64{0}, Flow: []uint32{2}, Flags: packet.ByteNums{0}, Len: []uint32{60}})
	}
	a := writeHostFile(t, dir, "a.stk", "a", flow(1, "10.0.0.1"), batch(200))
	b := writeHostFile(t, dir, "b.stk", "b", flow(1, "10.0.0.2"), batch(10))
	s := openSet(t, a, b)
	out := filepath.Join(dir, "x.stk")
	if _, err := Extract(s, "set", out, xt(150), xt(250), ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, _ := readAll(t, r, time.Time{})
	var flows []string
	for _, ev := range got {
		if fi, ok := event.As[packet.FlowInfo](ev); ok {
			flows = append(flows, ev.Host+" "+fi.Src)
		}
	}
	if !reflect.DeepEqual(flows, []string{"a 10.0.0.1:1"}) {
		t.Fatalf("flows carried: %q", flows)
	}
}

// TestMergeKeepsHosts: a merged file names every host; merged again with
// another file, they stay apart, and its host_facts go along.
func TestMergeKeepsHosts(t *testing.T) {
	dir := t.TempDir()
	a := writeHostFile(t, dir, "a.stk", "web1", sig(1, 1), sig(3, 1))
	b := writeHostFile(t, dir, "b.stk", "db1", sig(2, 2))
	c := writeHostFile(t, dir, "c.stk", "lb1", sig(2.5, 3))
	ab := filepath.Join(dir, "ab.stk")
	h := openSet(t, a, b).Header()
	h.Command = []string{"stakeout", "merge"}
	st, err := Merge(openSet(t, a, b), ab, h, MergeOptions{})
	if err != nil || st.Events != 5 {
		t.Fatalf("merge: %+v %v", st, err)
	}
	if _, err := Merge(openSet(t, a, b), ab, h, MergeOptions{}); !errors.Is(err, os.ErrExist) {
		t.Fatalf("merging onto an existing file: %v", err)
	}
	all := filepath.Join(dir, "all.stk")
	if _, err := Merge(openSet(t, ab, c), all, h, MergeOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(all)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := readAll(t, r, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var sigs, facts []string
	for _, ev := range got {
		if f, ok := event.As[schema.HostFacts](ev); ok {
			facts = append(facts, f.Host+"@"+f.File)
		} else {
			sigs = append(sigs, ev.Host)
		}
	}
	sort.Strings(facts)
	if want := []string{"web1", "db1", "lb1", "web1"}; !reflect.DeepEqual(sigs, want) {
		t.Errorf("hosts of the signals %q, want %q", sigs, want)
	}
	if want := []string{"db1@b.stk", "lb1@c.stk", "web1@a.stk"}; !reflect.DeepEqual(facts, want) {
		t.Errorf("host facts %q, want %q", facts, want)
	}
}
