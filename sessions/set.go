package sessions

import (
	"container/heap"
	"errors"
	"path/filepath"
	"strconv"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// Set is several session files read as one multi-host timeline: recordings
// made separately on several hosts (`stakeout snapshot` across a fleet),
// opened together by replay, report, events, handoff and merge.
//
// Its events are the files' events merged by time: a k-way merge with one
// Iter per file, so it holds one segment per file and a heap of one event
// per file, and an event costs log N more than in one file. Each file's
// events that name no host (Event.Host "", the host that made the file)
// get the file's host name (SetFile.Host); events that carry a host (a
// file recorded live with --ssh, or a merged one) keep theirs. Right
// before a file's first such event comes a host_facts event
// (schema.HostFacts) with the file's header facts and its name, so
// readers know every host's facts.
//
// Damage is per file: a damaged file gives what it could, and the others
// are read to their end; Err is then the first file's damage, and each
// file's Reader.Damage says its own. Times are the files' own: recordings
// made separately line up only as well as their hosts' clocks do.
type Set struct {
	files []*Reader
	paths []string
	hosts []string
	hdr   Header
}

// SetFile is one file of a Set: its Reader and the path it was opened as.
type SetFile struct {
	Reader *Reader
	Path   string
	// Host, if set, is the name its own events get, as it is (the files
	// of one merge round are named as among all the files merged).
	Host string
}

// NewSet reads files as one Recording. The host name of each file's own
// events is its header's hostname, made unique with the file's base name
// when two files share one ("web1 (b.stk)"), or the base name alone when
// the header has none (see HostNames). Close closes every file.
func NewSet(files []SetFile) *Set {
	s := &Set{}
	var hostnames []string
	for _, f := range files {
		s.files = append(s.files, f.Reader)
		s.paths = append(s.paths, f.Path)
		hostnames = append(hostnames, f.Reader.Header().Hostname)
	}
	s.hosts = HostNames(hostnames, s.paths)
	for i, f := range files {
		if f.Host != "" {
			s.hosts[i] = f.Host
		}
	}
	if len(s.files) > 0 {
		s.hdr = s.files[0].Header()
		for _, r := range s.files[1:] {
			if st := r.Header().Started; !st.IsZero() && (s.hdr.Started.IsZero() || st.Before(s.hdr.Started)) {
				s.hdr.Started = st
			}
		}
	}
	return s
}

// HostNames names the own host of each of several files, given their
// headers' hostnames and their paths: the hostname, with the file's base
// name added when two files share one ("web1 (b.stk)"), the base name
// alone when the header has none.
func HostNames(hostnames, paths []string) []string {
	names := make([]string, len(hostnames))
	count := map[string]int{}
	for i, h := range hostnames {
		names[i] = h
		if names[i] == "" {
			names[i] = filepath.Base(paths[i])
		}
		count[names[i]]++
	}
	used := map[string]bool{}
	for i := range names {
		if count[names[i]] > 1 {
			names[i] += " (" + filepath.Base(paths[i]) + ")"
		}
		// The same hostname in two files of the same base name (two
		// directories): the order given tells them apart.
		for base, n := names[i], 2; used[names[i]]; n++ {
			names[i] = base + " #" + strconv.Itoa(n)
		}
		used[names[i]] = true
	}
	return names
}

// Header is the first file's header, with the earliest start of all of
// them: its detector settings are the ones findings are recomputed with.
// Every event of a Set names its host, so the header's hostname names
// none of them.
func (s *Set) Header() Header { return s.hdr }

// Hosts are the host names the files' own events are given, in the files'
// order.
func (s *Set) Hosts() []string { return append([]string(nil), s.hosts...) }

// Files are the files, in the order given.
func (s *Set) Files() []*Reader { return append([]*Reader(nil), s.files...) }

// Paths are the files' paths as given.
func (s *Set) Paths() []string { return append([]string(nil), s.paths...) }

// Start is the earliest event time of any file.
func (s *Set) Start() time.Time {
	return s.fold(func(r *Reader) time.Time { return r.Start() }, time.Time.Before)
}

// End is the latest event time of any file.
func (s *Set) End() time.Time {
	return s.fold(func(r *Reader) time.Time { return r.End() }, time.Time.After)
}

// SessionStart is the earliest of the files' session starts.
func (s *Set) SessionStart() time.Time {
	return s.fold(func(r *Reader) time.Time { return r.SessionStart() }, time.Time.Before)
}

// PlausibleSpan runs from the earliest of the files' plausible spans to
// the latest.
func (s *Set) PlausibleSpan() (lo, hi time.Time) {
	lo = s.fold(func(r *Reader) time.Time { l, _ := r.PlausibleSpan(); return l }, time.Time.Before)
	hi = s.fold(func(r *Reader) time.Time { _, h := r.PlausibleSpan(); return h }, time.Time.After)
	return lo, hi
}

func (s *Set) fold(get func(*Reader) time.Time, better func(a, b time.Time) bool) time.Time {
	var t time.Time
	for i, r := range s.files {
		if v := get(r); i == 0 || better(v, t) {
			t = v
		}
	}
	return t
}

// Close closes every file.
func (s *Set) Close() error {
	var errs []error
	for _, r := range s.files {
		errs = append(errs, r.Close())
	}
	return errors.Join(errs...)
}

// Events merges every file's Iter(from) by time.
func (s *Set) Events(from time.Time) Events {
	return s.merge(func(r *Reader) Events { return r.Iter(from) })
}

// EventsRange merges every file's IterRange(from, until) by time.
func (s *Set) EventsRange(from, until time.Time) Events {
	return s.merge(func(r *Reader) Events { return r.IterRange(from, until) })
}

// RawEvents merges every file's RawIter(from) by time.
func (s *Set) RawEvents(from time.Time) Events {
	return s.merge(func(r *Reader) Events { return r.RawIter(from) })
}

func (s *Set) playEvents(from time.Time) Events {
	return s.merge(func(r *Reader) Events { return r.playEvents(from) })
}

func (s *Set) merge(open func(*Reader) Events) *setIter {
	m := &setIter{parts: make([]*setPart, len(s.files))}
	for i, r := range s.files {
		m.parts[i] = &setPart{it: open(r), host: s.hosts[i], facts: s.facts(i)}
	}
	return m
}

// facts is the host_facts of file i's own host.
func (s *Set) facts(i int) schema.HostFacts {
	h := s.files[i].Header()
	return schema.HostFacts{Host: s.hosts[i], File: filepath.Base(s.paths[i]), Hostname: h.Hostname,
		Kernel: h.Kernel, BootTime: h.BootTime, CPUs: h.CPUs, MemoryBytes: h.MemoryBytes, StakeoutVersion: h.StakeoutVersion}
}

// setIter is the k-way merge: a heap of the files by the time of the
// event each has ready.
type setIter struct {
	parts   []*setPart
	heap    partHeap
	started bool
	err     error // an I/O error ended the merge
	damage  error // the first file's damage, reported at the end
}

// setPart is one file of the merge: its Iter and the events it has ready
// (its next event, with the file's host_facts before its first own one).
type setPart struct {
	it        Events
	host      string
	facts     schema.HostFacts
	factsSent bool
	ready     []event.Event // at most two
	buf       [2]event.Event
}

// fill readies the part's next event, reporting false at its end.
func (p *setPart) fill(m *setIter) bool {
	if len(p.ready) > 0 {
		return true
	}
	ev, ok := p.it.Next()
	if !ok {
		if err := p.it.Err(); err != nil {
			if !IsDamage(err) {
				m.err = err
			} else if m.damage == nil {
				m.damage = err
			}
		}
		return false
	}
	p.ready = p.buf[:0]
	if ev.Host == "" {
		ev.Host = p.host
		if !p.factsSent {
			p.factsSent = true
			f := p.facts
			fe := event.New(ev.Time, schema.ProbeRemote, &f)
			fe.Host = p.host
			p.ready = append(p.ready, fe)
		}
	}
	p.ready = append(p.ready, ev)
	return true
}

func (p *setPart) head() time.Time { return p.ready[0].Time }

func (m *setIter) Next() (event.Event, bool) {
	if !m.started {
		m.started = true
		for i, p := range m.parts {
			if p.fill(m) {
				m.heap = append(m.heap, partRef{i, p})
			}
		}
		heap.Init(&m.heap)
	}
	if m.err != nil || len(m.heap) == 0 {
		return event.Event{}, false
	}
	p := m.heap[0].p
	ev := p.ready[0]
	p.ready[0] = event.Event{}
	p.ready = p.ready[1:]
	if p.fill(m) {
		heap.Fix(&m.heap, 0)
	} else {
		heap.Pop(&m.heap)
	}
	return ev, true
}

// Err is the I/O error that ended the merge, else the first damage any
// file reached (every file was read to its end or its damage).
func (m *setIter) Err() error {
	if m.err != nil {
		return m.err
	}
	if len(m.heap) == 0 && m.started {
		return m.damage
	}
	return nil
}

// Passed says every file has passed t: none has an event at or before t
// ready, and each file's Iter has passed it.
func (m *setIter) Passed(t time.Time) bool {
	for _, p := range m.parts {
		if len(p.ready) > 0 && !p.head().After(t) {
			return false
		}
		if !p.it.Passed(t) {
			return false
		}
	}
	return true
}

func (m *setIter) work() int64 {
	var n int64
	for _, p := range m.parts {
		n += p.it.work()
	}
	return n
}

type partRef struct {
	i int
	p *setPart
}

// partHeap orders the files by the time of their ready event, then by
// their order given.
type partHeap []partRef

func (h partHeap) Len() int { return len(h) }
func (h partHeap) Less(i, j int) bool {
	a, b := h[i].p.head(), h[j].p.head()
	if !a.Equal(b) {
		return a.Before(b)
	}
	return h[i].i < h[j].i
}
func (h partHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *partHeap) Push(x any)   { *h = append(*h, x.(partRef)) }
func (h *partHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
