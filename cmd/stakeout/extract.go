package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/sessions"
)

const (
	// extractHistory is how much of the recording before --since an extract
	// copies whole, so its panes and detectors start warm: rate and
	// trend windows, a gap detector's recent intervals, a saturation
	// episode already under way.
	extractHistory = time.Minute
)

func newExtractCmd() *cobra.Command {
	var since, until, out string
	var redactOut bool
	cmd := &cobra.Command{
		Use:   "extract FILE --since T --until T -o OUT.stk",
		Short: "write a time window of a recording as a smaller session file",
		Long: `extract copies a window of a recording into a new session file that replay,
events, report and handoff read like any other. It holds:

  - the window's events, its notes and its recorded findings;
  - the minute before --since in full, so panes and detectors start warm
    (a rate, a fill trend, a saturation already under way);
  - before that, the last state event of each kind (each probe's status,
    the module list, core-dump readiness, the last disk and I/O sample,
    each traced process's trace state, and the flow names the copied
    packets refer to), stamped with the time the history starts: the state
    in force then;
  - the original header, with an "extract" field naming the source file
    and the window.

Findings are recomputed when the extract is read, so report shows the same
findings inside the window as on the original, and may show some in the
minute before it. OUT must not exist. --since and --until take 04:00:10,
2026-11-23T04:00:10Z, +30s from the start or -5m from the end; either
defaults to the recording's start or end.`,
		Example: `  stakeout extract web-3.stk --since 04:10:00 --until 04:25:00 -o web-3-incident.stk
  stakeout extract web-3.stk --since -15m -o last-15-minutes.stk`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageErr("extract needs -o OUT.stk")
			}
			if since == "" && until == "" {
				return usageErr("extract needs a window: --since and/or --until")
			}
			r, err := openSession(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			from, to, err := window(r, since, until)
			if err != nil {
				return err
			}
			// The recording's plausible span: an event a bad clock dated
			// years off moves neither default (with no --until it is
			// copied all the same: ToEnd).
			sp := fileSpan(r)
			if from.IsZero() {
				from = sp.Start
			}
			if to.IsZero() {
				to = sp.End
			}
			if to.Before(r.Start()) || from.After(r.End()) {
				return usageErr("the window %s to %s is outside the recording (%s to %s)", clock(from), clock(to), clock(sp.Start), clock(sp.End))
			}
			if !from.Before(to) {
				return usageErr("--since %s is not before --until %s", clock(from), clock(to))
			}
			opt := extractOptions{ToEnd: until == ""}
			if redactOut {
				red := fileRedactor(r)
				opt.Transform, opt.Header = red.Event, red.Header
			}
			st, err := extractWindow(r, args[0], out, from, to, opt)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d events from %s to %s, and %d before it for context; %s\n",
				event.Sanitize(out), st.window, clock(from), clock(to), st.history, event.HumanBytes(st.bytes))
			return readDone(args[0], r, nil)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "session file to write (must not exist)")
	addWindowFlags(cmd, &since, &until)
	cmd.Flags().BoolVar(&redactOut, "redact", false, "replace addresses, host and user names and secret-looking values with pseudonyms")
	return cmd
}

func clock(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// endOfTime is later than any event: the upper bound of a window that runs
// to the end of a recording, whatever times its events have.
var endOfTime = time.Unix(1<<62, 0)

// extractOptions change what an extract holds. The zero value copies
// events and header as they are.
type extractOptions struct {
	// Transform rewrites every event on its way out (redaction).
	Transform func(event.Event) event.Event
	// Header rewrites the header written (redaction).
	Header func(sessions.Header) sessions.Header
	// ToEnd copies everything from since on: until is only the
	// recording's end as its index has it, and an event stamped later
	// (a bad clock) is copied too.
	ToEnd bool
}

type extractStats struct {
	window, history int // events in [since, until], and before since
	bytes           int64
}

// extractWindow writes the window [since, until] of r, with the history
// before it that replay needs, to a new file out (O_EXCL). On failure the
// partial output is removed. It reads the file three times: the window for
// the flows its packets name, everything before it for the state, then the
// window again to copy it, so memory holds only the state, never the window.
func extractWindow(r *sessions.Reader, src, out string, since, until time.Time, opt extractOptions) (extractStats, error) {
	var st extractStats
	from := since.Add(-extractHistory)
	if from.Before(r.Start()) {
		from = r.Start()
	}
	last := until
	if opt.ToEnd {
		last = endOfTime
	}
	flows, err := referencedFlows(r, from, last)
	if err != nil {
		return st, err
	}
	state, err := stateBefore(r, from, flows)
	if err != nil {
		return st, err
	}

	h := r.Header()
	h.Extract = &sessions.ExtractInfo{Source: filepath.Base(src), SourceStarted: h.Started, Since: since.UTC(), Until: until.UTC(), From: from.UTC()}
	h.Started = from.UTC()
	if opt.Header != nil {
		h = opt.Header(h)
	}
	w, err := sessions.Create(out, h, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return st, fmt.Errorf("-o %s: file exists", out)
		}
		return st, fmt.Errorf("-o %s: %v", out, unwrapPath(err))
	}
	ew := extractWriter{w: w, transform: opt.Transform}
	for _, ev := range state {
		if err := ew.write(restamp(ev, from)); err != nil {
			return st, ew.abort(out, err)
		}
	}
	st.history = len(state)
	// A recording is not in time order (the kernel log's backlog comes
	// after the first samples, notes are appended): each event is picked
	// by its time, and reading stops only where the index shows that
	// nothing of the window is left.
	it := r.IterRange(from, last)
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		if ev.Time.After(last) {
			continue
		}
		if err := ew.write(ev); err != nil {
			return st, ew.abort(out, err)
		}
		if ev.Time.Before(since) {
			st.history++
		} else {
			st.window++
		}
	}
	if err := it.Err(); err != nil && !isDamage(err) {
		return st, ew.abort(out, err)
	}
	if err := w.Close(); err != nil {
		os.Remove(out)
		return st, fmt.Errorf("-o %s: %v", out, err)
	}
	if fi, err := os.Stat(out); err == nil {
		st.bytes = fi.Size()
	}
	return st, nil
}

func isDamage(err error) bool {
	var d *sessions.Damage
	return errors.As(err, &d)
}

// extractWriter flushes a chunk per second of event time, as the live
// recorder does, so an extract seeks as finely as its source.
type extractWriter struct {
	w         *sessions.Writer
	transform func(event.Event) event.Event
	flushed   time.Time
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
		if errors.Is(err, sessions.ErrStopped) {
			return err
		}
		return nil // one event that cannot be encoded is left out, as the recorder would
	}
	return nil
}

// abort removes the partial extract: a window cut short is not the window
// that was asked for.
func (x *extractWriter) abort(out string, err error) error {
	x.w.Close()
	os.Remove(out)
	return fmt.Errorf("-o %s: %v", out, err)
}

type flowKey struct {
	iface string
	id    uint32
}

// referencedFlows collects the flows that packet batches in [from, until]
// name, so their announcements can be copied from before the window.
func referencedFlows(r *sessions.Reader, from, until time.Time) (map[flowKey]bool, error) {
	refs := map[flowKey]bool{}
	it := r.IterRange(from, until)
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		if b, ok := packet.AsPacketBatch(ev); ok && !ev.Time.After(until) {
			for _, id := range b.Flow[:b.N()] {
				refs[flowKey{b.Iface, id}] = true
			}
		}
	}
	if err := it.Err(); err != nil && !isDamage(err) {
		return nil, err
	}
	return refs, nil
}

// stateBefore returns, in time order, the last state event of each kind
// (per process for trace, per interface for capture stats, per flow for
// flow announcements, and only flows in refs) before from.
func stateBefore(r *sessions.Reader, from time.Time, refs map[flowKey]bool) ([]event.Event, error) {
	last := map[string]event.Event{}
	it := r.IterRange(time.Time{}, from)
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
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
	if err := it.Err(); err != nil && !isDamage(err) {
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

// stateKey names what a state event describes: its probe and kind, and the
// interface, process or flow when the kind has one per entity.
func stateKey(ev event.Event, refs map[flowKey]bool) (string, bool) {
	key := ev.Probe + "\x00" + ev.Kind
	if f, ok := packet.AsFlowInfo(ev); ok {
		if !refs[flowKey{f.Iface, f.ID}] {
			return "", false
		}
		return key + "\x00" + f.Iface + "\x00" + strconv.FormatUint(uint64(f.ID), 10), true
	}
	var ids struct {
		PID   *int   `json:"pid"`
		Iface string `json:"iface"`
	}
	raw := ev.Raw
	if raw == nil && ev.Body != nil {
		// MarshalFinite writes a NaN as null, where json.Marshal fails and
		// lost the ids: every process's state then shared one key, and only
		// the last one's was kept. A body it cannot write at all is keyed
		// by its kind alone.
		var err error
		if raw, err = event.MarshalFinite(ev.Body); err != nil {
			return key, true
		}
	}
	if json.Unmarshal(raw, &ids) == nil {
		if ids.Iface != "" {
			key += "\x00" + ids.Iface
		}
		if ids.PID != nil {
			key += "\x00" + strconv.Itoa(*ids.PID)
		}
	}
	return key, true
}
