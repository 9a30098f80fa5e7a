package sessions

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/stakeout/stakeout/event"
)

// ExtractHistory is how much of the recording before the window an extract
// copies whole, so its panes and detectors start warm: rate and trend
// windows, a gap detector's recent intervals, a saturation episode already
// under way.
const ExtractHistory = time.Minute

// endOfTime is later than any event: the upper bound of a window that runs
// to the end of a recording, whatever times its events have.
var endOfTime = time.Unix(1<<62, 0)

// ExtractOptions change what an extract holds. The zero value copies
// events and header as they are.
type ExtractOptions struct {
	// Transform rewrites every event on its way out (redaction).
	Transform func(event.Event) event.Event
	// Header rewrites the header written (redaction).
	Header func(Header) Header
	// ToEnd copies everything from since on: until is only the
	// recording's end as its index has it, and an event stamped later
	// (a bad clock) is copied too.
	ToEnd bool
	// Progress, if set, is called for every event read, in each of the
	// three reads (see Extract), with how far the read has got.
	Progress func(Progress)
}

// ExtractStats count what an extract wrote.
type ExtractStats struct {
	Window  int   // events in [since, until]
	History int   // events before since: the history and the state before it
	Bytes   int64 // size of the file written
}

// OutputError is an extract's failure to make or write its output file.
// The partial file has been removed: a window cut short is not the window
// that was asked for. For a file that cannot be created, Err is the reason
// without the path an *os.PathError repeats (errors.Is(err, os.ErrExist):
// the file exists).
type OutputError struct {
	Path string
	Err  error
}

func (e *OutputError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *OutputError) Unwrap() error { return e.Err }

// IsDamage reports whether err is a recording's damage (*Damage): a reader
// delivered everything up to it, and the caller says once what was lost.
func IsDamage(err error) bool {
	var d *Damage
	return errors.As(err, &d)
}

// Extract writes the window [since, until] of r, with the history before
// it that a replay needs, to a new file out (O_EXCL). src names the
// recording in the new header. It holds the window's events; the
// ExtractHistory before since in full; before that, the last state event of
// each kind (event.Traits: every kind but the occurrences), stamped with
// the time the history starts. It reads the file three times: the window
// for the entities (flows) its events name, everything before it for the
// state, then the window again to copy it, so memory holds only the state,
// never the window. Damage in r ends each read where it is; the copy keeps
// what was read, and the caller reports the damage (r.Damage). An error
// about out is an *OutputError.
func Extract(r Recording, src, out string, since, until time.Time, opt ExtractOptions) (ExtractStats, error) {
	from := since.Add(-ExtractHistory)
	if from.Before(r.Start()) {
		from = r.Start()
	}
	last := until
	if opt.ToEnd {
		last = endOfTime
	}
	refs, err := referenced(r, from, last, ProgressTracker(r, opt.Progress, 1, 3, from, last))
	if err != nil {
		return ExtractStats{}, err
	}
	state, err := stateBefore(r, from, refs, ProgressTracker(r, opt.Progress, 2, 3, time.Time{}, from))
	if err != nil {
		return ExtractStats{}, err
	}
	h := extractHeader(r.Header(), src, since, until, from)
	if opt.Header != nil {
		h = opt.Header(h)
	}
	w, err := Create(out, h, WriterOptions{FlushEvery: -1})
	if err != nil {
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err // the path is the OutputError's
		}
		return ExtractStats{}, &OutputError{out, err}
	}
	x := &extractWriter{w: w, out: out, transform: opt.Transform}
	st, err := x.copy(r, state, from, since, last, ProgressTracker(r, opt.Progress, 3, 3, from, last))
	if err != nil {
		return st, x.abort(err)
	}
	if err := w.Close(); err != nil {
		os.Remove(out)
		return st, &OutputError{out, err}
	}
	if fi, err := os.Stat(out); err == nil {
		st.Bytes = fi.Size()
	}
	return st, nil
}

// extractHeader is the source's header for an extract: its start is the
// history's, and Extract names the source and the window.
func extractHeader(h Header, src string, since, until, from time.Time) Header {
	h.Extract = &ExtractInfo{Source: filepath.Base(src), SourceStarted: h.Started, Since: since.UTC(), Until: until.UTC(), From: from.UTC()}
	h.Started = from.UTC()
	return h
}

// extractWriter flushes a chunk per second of event time, as the live
// recorder does, so an extract seeks as finely as its source.
type extractWriter struct {
	w         *Writer
	out       string
	transform func(event.Event) event.Event
	flushed   time.Time
}

// copy writes the state, restamped to from, then every event of [from,
// last] by its own time. A recording is not in time order (the kernel
// log's backlog comes after the first samples, notes are appended): each
// event is picked by its time, and reading stops only where the index
// shows that nothing of the window is left.
func (x *extractWriter) copy(r Recording, state []event.Event, from, since, last time.Time, track func(time.Time)) (ExtractStats, error) {
	var st ExtractStats
	for _, ev := range state {
		if err := x.write(restamp(ev, from)); err != nil {
			return st, err
		}
	}
	st.History = len(state)
	it := r.EventsRange(from, last)
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		if track != nil {
			track(ev.Time)
		}
		if ev.Time.After(last) {
			continue
		}
		if err := x.write(ev); err != nil {
			return st, err
		}
		if ev.Time.Before(since) {
			st.History++
		} else {
			st.Window++
		}
	}
	if err := it.Err(); err != nil && !IsDamage(err) {
		return st, err
	}
	return st, nil
}

func (x *extractWriter) write(ev event.Event) error {
	if x.transform != nil {
		ev = x.transform(ev)
	}
	if ev.Time.Sub(x.flushed) >= time.Second || ev.Time.Before(x.flushed) {
		if err := x.w.Flush(); err != nil {
			return err
		}
		x.flushed = ev.Time
	}
	if err := x.w.Write(ev); err != nil {
		if errors.Is(err, ErrStopped) {
			return err
		}
		return nil // one event that cannot be encoded is left out, as the recorder would
	}
	return nil
}

// abort removes the partial extract.
func (x *extractWriter) abort(err error) error {
	x.w.Close()
	os.Remove(x.out)
	return &OutputError{x.out, err}
}

// hostRef is an entity on a host: ids are given by each host's own
// capture, so two hosts both have a flow 2.
type hostRef struct {
	host string
	ref  event.Ref
}

// referenced collects the entities (flows) that events in [from, until]
// name (event.Referrer), each on its event's host, so their announcements
// can be copied from before the window.
func referenced(r Recording, from, until time.Time, track func(time.Time)) (map[hostRef]bool, error) {
	refs := map[hostRef]bool{}
	it := r.EventsRange(from, until)
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		if track != nil {
			track(ev.Time)
		}
		if b, ok := ev.Body.(event.Referrer); ok && !ev.Time.After(until) {
			for ref := range b.Refs() {
				refs[hostRef{ev.Host, ref}] = true
			}
		}
	}
	if err := it.Err(); err != nil && !IsDamage(err) {
		return nil, err
	}
	return refs, nil
}

// stateBefore returns, in time order, the last state event of each kind
// (per process for trace, per interface for capture stats, per entity for
// announcements, and only entities in refs) before from.
func stateBefore(r Recording, from time.Time, refs map[hostRef]bool, track func(time.Time)) ([]event.Event, error) {
	last := map[string]event.Event{}
	it := r.EventsRange(time.Time{}, from)
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		if track != nil {
			track(ev.Time)
		}
		if !ev.Time.Before(from) {
			continue
		}
		// An occurrence (event.Traits.Occurrence) says nothing about the
		// window. Every other kind, including kinds this build does not
		// know, is state.
		if event.TraitsOf(ev.Kind).Occurrence {
			continue
		}
		key, keep := stateKey(ev, refs)
		if keep {
			last[key] = ev
		}
	}
	if err := it.Err(); err != nil && !IsDamage(err) {
		return nil, err
	}
	out := make([]event.Event, 0, len(last))
	for _, ev := range last {
		out = append(out, ev)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].Kind+out[i].Probe < out[j].Kind+out[j].Probe
	})
	return out, nil
}

// restamp moves a state event to t, the moment it describes the state at.
// An event of a kind this build does not know is kept as raw JSON, whose
// "time" member is rewritten too.
func restamp(ev event.Event, t time.Time) event.Event {
	ev.Time = t
	if ev.Body == nil && len(ev.Raw) > 0 {
		var obj map[string]json.RawMessage
		if json.Unmarshal(ev.Raw, &obj) != nil {
			return ev
		}
		tb, err := event.MarshalFinite(t.UTC()) // a time past 9999 as the latest JSON holds
		if err != nil {
			return ev
		}
		obj["time"] = tb
		if b, err := json.Marshal(obj); err == nil {
			ev.Raw = b
		}
	}
	return ev
}

// stateKey names what a state event describes: its host, probe and kind, and the
// entity (process, interface, announced flow) when the kind has one state
// per entity. Known kinds say so through event.Announcer and their
// Traits.Entity; for a kind this build does not know, a top-level "iface"
// or "pid" field stands in.
func stateKey(ev event.Event, refs map[hostRef]bool) (string, bool) {
	key := ev.Host + "\x00" + ev.Probe + "\x00" + ev.Kind
	if a, ok := ev.Body.(event.Announcer); ok {
		ref := a.Announces()
		if !refs[hostRef{ev.Host, ref}] {
			return "", false
		}
		return key + "\x00" + ref.Scope + "\x00" + strconv.FormatUint(ref.ID, 10), true
	}
	if event.Known(ev.Kind) && ev.Body != nil {
		if entity := event.TraitsOf(ev.Kind).Entity; entity != nil {
			return key + "\x00" + entity(ev.Body), true
		}
		return key, true
	}
	return key + unknownEntity(ev), true
}

// unknownEntity keys a kind this build does not know by the "iface" and
// "pid" fields of its JSON, if it has them.
func unknownEntity(ev event.Event) string {
	var ids struct {
		PID   *int   `json:"pid"`
		Iface string `json:"iface"`
	}
	raw := ev.Raw
	if raw == nil && ev.Body != nil {
		// MarshalFinite writes a NaN as null, where json.Marshal fails and
		// lost the ids. A body it cannot write at all is keyed by its kind
		// alone.
		var err error
		if raw, err = event.MarshalFinite(ev.Body); err != nil {
			return ""
		}
	}
	key := ""
	if json.Unmarshal(raw, &ids) == nil {
		if ids.Iface != "" {
			key += "\x00" + ids.Iface
		}
		if ids.PID != nil {
			key += "\x00" + strconv.Itoa(*ids.PID)
		}
	}
	return key
}
