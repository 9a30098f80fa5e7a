package ui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

const (
	sigRows       = 256 // timeline rows kept
	sigMaxProcs   = 256 // processes with per-signal counts and Δ state
	sigRaceWindow = 50 * time.Millisecond
	sigForkWindow = time.Second
)

// sigMark is how a timeline row is highlighted.
type sigMark int

const (
	markNone sigMark = iota
	markBurst
	markRace
)

// sigRow is one timeline line, host strings already sanitized.
type sigRow struct {
	at    time.Time
	delta string // Δ to the previous signal on the same process, "" for other rows
	what  string // "SIGHUP", "fork", "exec", "exit", "attach"
	text  string // the target of a signal, or the fork/exec/exit detail
	from  string // a signal's sender ("" for other rows)
	mark  sigMark
	// target and sender are the processes the row names, for the
	// inspector (pid 0: none).
	target, sender procRef
	pid            int // the process the row is about: a and d act on it
}

type sigProcState struct {
	comm       string
	lastSig    time.Time
	lastBySig  map[string]time.Time
	execAt     time.Time
	forkAt     time.Time // while it has not exec'd
	counts     map[string]int
	seen       int
	terminated bool
}

// signalsPane is a tcpdump -ttt–style timeline of signals, forks, execs and
// exits, with bursts and exec races highlighted, over per-process counts.
// Highlights use the detectors' default windows, since a pane only sees
// its probe's events.
type signalsPane struct {
	paneBase
	tl    timeline
	rows  []sigRow
	first int // seq of rows[0]: rows dropped off the front so far
	procs map[int]*sigProcState
	n     int
	keys  sigKeys
}

func init() { registerPane("signals", newSignalsPane) }

func newSignalsPane(env paneEnv) Pane {
	k := newSigKeys(env.trace)
	return signalsPane{paneBase: newTimelineBase(env, k.Attach, k.Detach, k.Inspect), keys: k, tl: newTimeline(), procs: map[int]*sigProcState{}}
}

// Reset keeps the search.
func (p signalsPane) Reset() Pane {
	f := newSignalsPane(p.env).(signalsPane)
	f.tl.query = p.tl.query
	return f
}

func (p signalsPane) Editing() bool       { return p.tl.Editing() }
func (p signalsPane) Paste(s string) Pane { p.tl = p.tl.Paste(s); return p }
func (p signalsPane) Scroll(n int) Pane   { p.tl = p.tl.Scroll(n, p, p.room()); return p }

func (p signalsPane) Marks() []paneMark {
	return []paneMark{
		{"◀ burst", fmt.Sprintf("signals: the same signal again within %s (the signal.burst window)", schema.DefaultBurstWindow)},
		{"◀ exec race", fmt.Sprintf("signals: a signal within %s of the process's exec or %s of its fork", sigRaceWindow, sigForkWindow)},
		{"Σ", "signals: signals per process this session, busiest first"},
	}
}

func (p signalsPane) span() (int, int)    { return p.first, p.first + len(p.rows) }
func (p signalsPane) text(seq int) string { return p.line(p.rows[seq-p.first], -1) }

// Apply updates the process table in place, as the iostat pane does with
// its history: copying it per event would cost more than the event.
func (p signalsPane) Apply(ev event.Event) Pane {
	p.n++
	var row *sigRow
	pid := 0
	if s, ok := event.As[schema.Signal](ev); ok {
		row, pid = p.signalRow(ev.Time, s), s.PID
	} else if f, ok := event.As[schema.Fork](ev); ok {
		pid = f.PID
		if c := p.proc(f.ChildPID, f.Comm); c != nil {
			c.forkAt, c.execAt = ev.Time, time.Time{}
		}
		row = &sigRow{at: ev.Time, what: "fork", text: fmt.Sprintf("%d %s → child %d (%s)", f.PID, event.Sanitize(f.Comm), f.ChildPID, event.Sanitize(f.How))}
	} else if x, ok := event.As[schema.Exec](ev); ok {
		pid = x.PID
		if c := p.proc(x.PID, x.Comm); c != nil {
			c.execAt, c.forkAt = ev.Time, time.Time{}
		}
		row = &sigRow{at: ev.Time, what: "exec", text: fmt.Sprintf("%d %s → %s %s", x.PID, event.Sanitize(x.OldComm), event.Sanitize(x.Comm), event.Sanitize(x.Filename)),
			target: procRef{pid: x.PID, comm: event.Sanitize(x.Comm), why: "exec'd " + event.Sanitize(x.Filename)}}
	} else if x, ok := event.As[schema.Exit](ev); ok {
		pid = x.PID
		if c := p.proc(x.PID, x.Comm); c != nil {
			c.terminated = true
		}
		row = &sigRow{at: ev.Time, what: "exit", text: fmt.Sprintf("%d %s %s", x.PID, event.Sanitize(x.Comm), event.Sanitize(x.Status))}
		if x.Signal != "" {
			row.mark = markBurst
		}
	} else if t, ok := event.As[schema.Trace](ev); ok {
		pid = t.PID
		text := fmt.Sprintf("%d %s %s", t.PID, event.Sanitize(t.Comm), t.State)
		if t.Threads > 0 {
			text += fmt.Sprintf(", %d thread(s)", t.Threads)
		}
		if t.Reason != "" {
			text = event.Sanitize(t.Reason)
		}
		row = &sigRow{at: ev.Time, what: "trace", text: text}
		if t.State == schema.TraceFailed {
			row.mark = markRace
		}
	}
	if row != nil {
		row.pid = pid
		n := len(p.rows)
		p.rows = appendCapped(p.rows, *row, sigRows)
		p.first += n + 1 - len(p.rows)
	}
	return p
}

func (p signalsPane) signalRow(at time.Time, s *schema.Signal) *sigRow {
	row := &sigRow{at: at, what: s.Signal}
	c := p.proc(s.PID, s.Comm)
	target := fmt.Sprintf("%d/%d %s", s.PID, s.TID, event.Sanitize(s.Comm))
	if s.TID == s.PID {
		target = fmt.Sprintf("%d %s", s.PID, event.Sanitize(s.Comm))
	}
	from := "kernel"
	switch {
	case s.SenderPID != 0:
		from = fmt.Sprintf("%d %s", s.SenderPID, event.Sanitize(s.SenderComm))
		if s.SenderUID != nil {
			from = fmt.Sprintf("%d u%d %s", s.SenderPID, *s.SenderUID, event.Sanitize(s.SenderComm))
		}
	case s.ChildPID != 0:
		from = fmt.Sprintf("child %d %s", s.ChildPID, event.Sanitize(s.Status))
	case s.Addr != "":
		from = "fault at " + event.Sanitize(s.Addr)
	}
	if s.Result != "" && s.Result != "delivered" { // --signals host: merged, ignored…
		from += " (" + event.Sanitize(s.Result) + ")"
	}
	row.text, row.from = target, from
	row.target = procRef{pid: s.PID, comm: event.Sanitize(s.Comm), why: "got " + s.Signal}
	if s.SenderPID != 0 {
		row.sender = procRef{pid: s.SenderPID, comm: event.Sanitize(s.SenderComm), why: fmt.Sprintf("sent %s to %d", s.Signal, s.PID)}
	}
	if s.Duplicate() {
		// The delivery to a process attached from this pane, of a signal
		// already shown sent: shown, counted once.
		row.from += " (delivered)"
		return row
	}
	if !c.lastSig.IsZero() {
		row.delta = fmtDelta(at.Sub(c.lastSig))
	}
	burstable := s.Signal != "SIGCHLD" && !(s.Signal == "SIGURG" && s.SenderPID == s.PID)
	if last, ok := c.lastBySig[s.Signal]; ok && at.Sub(last) < schema.DefaultBurstWindow && burstable {
		row.mark = markBurst
	}
	own := s.Signal == "SIGCHLD" || s.Addr != "" || s.SenderPID == s.PID
	if !own && ((!c.execAt.IsZero() && at.Sub(c.execAt) < sigRaceWindow) ||
		(!c.forkAt.IsZero() && at.Sub(c.forkAt) < sigForkWindow)) {
		row.mark = markRace
	}
	c.lastSig = at
	c.lastBySig[s.Signal] = at
	c.counts[s.Signal]++
	return row
}

// proc finds or adds a process; the least recently seen goes past the cap.
func (p signalsPane) proc(pid int, comm string) *sigProcState {
	c := p.procs[pid]
	if c == nil {
		if len(p.procs) >= sigMaxProcs {
			old, at := 0, p.n+1
			for k, v := range p.procs {
				if v.seen < at {
					old, at = k, v.seen
				}
			}
			delete(p.procs, old)
		}
		c = &sigProcState{lastBySig: map[string]time.Time{}, counts: map[string]int{}}
		p.procs[pid] = c
	}
	if comm != "" {
		c.comm = comm
	}
	c.seen = p.n
	return c
}

// fmtDelta prints a gap like tcpdump -ttt, compactly: +3.1ms, +850ms, +12.3s.
func fmtDelta(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("+%.1fms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("+%dms", d.Milliseconds())
	case d < 100*time.Second:
		return fmt.Sprintf("+%.1fs", d.Seconds())
	}
	return "+" + d.Round(time.Minute).String()
}

// room is how many timeline rows the pane draws at its size.
func (p signalsPane) room() int {
	n := max(p.h-1-p.nCounts(), 0)
	if p.tl.footer(p, p.env, p.w) != "" {
		n--
	}
	return max(n, 0)
}

// nCounts is how many per-process count lines go under the timeline. It
// counts, and builds no line: the pane asks for it on every scroll and
// twice a frame.
func (p signalsPane) nCounts() int {
	n := 0
	for _, c := range p.procs {
		for _, k := range c.counts {
			if k > 0 {
				n++
				break
			}
		}
	}
	return min(n, p.h/3, 4)
}

// line is a timeline row; the target column is cut to tw cells (tw < 0:
// whole, for search).
func (p signalsPane) line(r sigRow, tw int) string {
	l := fmt.Sprintf("%s %-7s %-8s ", r.at.In(p.env.loc).Format("15:04:05.000"), r.delta, r.what)
	switch {
	case r.from == "":
		l += r.text
	case tw < 0:
		l += r.text + " ← " + r.from
	default:
		l += fit(r.text, tw) + " ← " + r.from
	}
	switch {
	case r.mark == markBurst && r.from != "":
		l += " ◀ burst"
	case r.mark == markRace && r.from != "":
		l += " ◀ exec race"
	}
	return l
}

func (p signalsPane) View() string {
	st := p.env.st
	if len(p.rows) == 0 {
		return st.Muted.Render("no signal yet")
	}
	counts := p.countLines(p.nCounts())
	// The target column gets a third of what the fixed columns leave.
	tw := clamp((p.w-30)/3, 10, 24)
	lines := []string{st.TableHeader.Render(fit("TIME         Δ       WHAT     "+fit("TARGET", tw)+" ← SENDER", p.w))}
	from, to := p.tl.window(p, p.room())
	for seq := from; seq < to; seq++ {
		r := p.rows[seq-p.first]
		style := plainStyle
		switch r.mark {
		case markBurst:
			style = st.Sev(event.Warn)
		case markRace:
			style = st.Sev(event.Critical)
		}
		lines = append(lines, p.tl.render(seq, clip(p.line(r, tw), p.w), style, p.env))
	}
	if f := p.tl.footerLed(p, p.env, p.w, p.selectionLeads()...); f != "" {
		lines = append(lines, f)
	}
	for _, c := range counts {
		lines = append(lines, st.Muted.Render(clip(c, p.w)))
	}
	return strings.Join(lines, "\n")
}

// countLines: "812 gimli  SIGHUP×2 SIGUSR1×1000", busiest process first,
// the first n only (up to 256 processes are counted, and a frame shows 4).
func (p signalsPane) countLines(n int) []string {
	type pc struct {
		pid   int
		total int
	}
	busier := func(a, b pc) bool { return a.total > b.total || a.total == b.total && a.pid < b.pid }
	top := make([]pc, 0, n+1)
	for pid, c := range p.procs {
		t := 0
		for _, k := range c.counts {
			t += k
		}
		if t == 0 || n == 0 {
			continue
		}
		x := pc{pid, t}
		if len(top) == n && !busier(x, top[n-1]) {
			continue
		}
		i := sort.Search(len(top), func(i int) bool { return busier(x, top[i]) })
		top = append(top, pc{})
		copy(top[i+1:], top[i:])
		top[i] = x
		top = top[:min(len(top), n)]
	}
	out := make([]string, 0, len(top))
	for _, x := range top {
		c := p.procs[x.pid]
		names := make([]string, 0, len(c.counts))
		for n := range c.counts {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool {
			return c.counts[names[i]] > c.counts[names[j]] || (c.counts[names[i]] == c.counts[names[j]] && names[i] < names[j])
		})
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%s×%d", n, c.counts[n])
		}
		out = append(out, fmt.Sprintf("Σ %d %s  %s", x.pid, event.Sanitize(c.comm), strings.Join(parts, " ")))
	}
	return out
}
