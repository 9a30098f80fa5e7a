package ui

import (
	"fmt"
	"sort"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
)

const (
	minSpeed   = 0.25
	maxSpeed   = 64
	replayStep = time.Second
	maxTickLag = time.Second // a late tick (suspended laptop) is not a jump
)

// replayCtl drives a ReplaySource from keys and a timer. It tells the root
// what to feed the panes; it draws the timeline and the go-to input.
type replayCtl struct {
	env      paneEnv
	src      ReplaySource
	findings []event.Event // findings and notes of the whole file, in time order
	marks    []event.Event // those n/N stop at and the timeline marks (see markStops)
	keys     replayKeys
	every    time.Duration
	lastTick time.Time
	input    gotoInput
	note     string // last error or "no later finding", sanitized
	more     int    // the current replayMoreMsg generation

	loading bool          // the findings are still being read (NewReplayLoading)
	loaded  float64       // how much of the recording has been read for them, 0 to 1
	added   []event.Event // notes saved meanwhile (AddMark), kept when they come
}

// feed is what a replay move asks the root to do to the panes and strip.
type feed struct {
	reset  bool // panes must Reset before events (a seek)
	events []event.Event
	moved  bool // the position changed: refresh the strip and clock
}

type replayKeys struct {
	Pause, Back, Forward, Slower, Faster, Goto, Start, End, NextFinding, PrevFinding key.Binding
}

func (k replayKeys) ShortHelp() []key.Binding { return []key.Binding{k.Pause, k.NextFinding, k.Goto} }
func (k replayKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Pause, k.Back, k.Forward, k.Slower, k.Faster},
		{k.Goto, k.Start, k.End, k.NextFinding, k.PrevFinding},
	}
}

func (k replayKeys) all() []key.Binding {
	return []key.Binding{k.Pause, k.Back, k.Forward, k.Slower, k.Faster, k.Goto, k.Start, k.End, k.NextFinding, k.PrevFinding}
}

func newReplayCtl(src ReplaySource, findings []event.Event, every time.Duration, env paneEnv) replayCtl {
	fs := append([]event.Event(nil), findings...)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Time.Before(fs[j].Time) })
	return replayCtl{env: env, src: src, findings: fs, marks: markStops(fs), every: every, input: newGotoInput(), keys: replayKeys{
		Pause:       key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "pause / play")),
		Back:        key.NewBinding(key.WithKeys("left"), key.WithHelp("←", "back 1s")),
		Forward:     key.NewBinding(key.WithKeys("right"), key.WithHelp("→", "forward 1s")),
		Slower:      key.NewBinding(key.WithKeys("["), key.WithHelp("[", "half speed")),
		Faster:      key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "double speed")),
		Goto:        key.NewBinding(key.WithKeys("g"), key.WithHelp("g", "go to time")),
		Start:       key.NewBinding(key.WithKeys("home"), key.WithHelp("home", "start")),
		End:         key.NewBinding(key.WithKeys("end"), key.WithHelp("end", "end")),
		NextFinding: key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "next finding or note")),
		PrevFinding: key.NewBinding(key.WithKeys("N"), key.WithHelp("N", "previous finding or note")),
	}}
}

// Init seeks to the start so panes show the first moment, and starts the timer.
func (r replayCtl) Init() (replayCtl, feed, tea.Cmd) {
	r, f := r.seek(r.src.Position())
	return askMore(r, f, r.tick())
}

// askMore adds, when the source stopped short of the position (Pending), a
// request for the rest. It is a message of its own, so keys typed while a
// heavy stretch decodes are handled between two steps. Every move makes the
// requests of the earlier ones stale, so one chain of them runs at a time.
func askMore(r replayCtl, f feed, cmd tea.Cmd) (replayCtl, feed, tea.Cmd) {
	r.more++
	if !r.src.Pending() {
		return r, f, cmd
	}
	gen := r.more
	return r, f, tea.Batch(cmd, func() tea.Msg { return replayMoreMsg{gen: gen} })
}

func (r replayCtl) tick() tea.Cmd {
	if r.every < 0 {
		return nil
	}
	return tea.Tick(r.every, func(t time.Time) tea.Msg { return tickMsg{at: t} })
}

// Editing says the go-to input has the keyboard.
func (r replayCtl) Editing() bool { return r.input.Active() }

// Handles says whether msg is one of the replay's keys.
func (r replayCtl) Handles(msg tea.KeyPressMsg) bool { return key.Matches(msg, r.keys.all()...) }

// markStops picks, from findings and notes in time order, what n/N stop
// at and the timeline marks: notes, each condition's raise, and its
// updates that change its severity. A condition's other updates (new
// figures) and its clear are not stops: one condition, one place.
func markStops(evs []event.Event) []event.Event {
	sev := map[string]event.Severity{} // open conditions' latest severity
	var out []event.Event
	for _, ev := range evs {
		f, ok := event.As[event.Finding](ev)
		if !ok {
			out = append(out, ev)
			continue
		}
		last, open := sev[f.Key]
		switch {
		case f.Key == "":
			out = append(out, ev)
		case f.State == event.FindingCleared:
			delete(sev, f.Key)
		case f.State == "" || !open || f.Severity != last:
			out = append(out, ev)
			sev[f.Key] = f.Severity
		}
	}
	return out
}

// AddMark puts a finding or note (one just saved) among the marks.
func (r replayCtl) AddMark(ev event.Event) replayCtl {
	insert := func(evs []event.Event) []event.Event {
		i := sort.Search(len(evs), func(i int) bool { return evs[i].Time.After(ev.Time) })
		return append(evs[:i:i], append([]event.Event{ev}, evs[i:]...)...)
	}
	r.findings, r.marks = insert(r.findings), insert(r.marks)
	if r.loading {
		r.added = append(r.added, ev)
	}
	return r
}

// FindingsUpTo returns the findings and notes at or before the position, for the strip.
func (r replayCtl) FindingsUpTo() []event.Event {
	pos := r.src.Position()
	n := sort.Search(len(r.findings), func(i int) bool { return r.findings[i].Time.After(pos) })
	return r.findings[:n]
}

func (r replayCtl) Update(msg tea.Msg) (replayCtl, feed, tea.Cmd) {
	switch msg := msg.(type) {
	case tickMsg:
		elapsed := r.every
		if !r.lastTick.IsZero() {
			elapsed = min(max(msg.at.Sub(r.lastTick), 0), maxTickLag)
		}
		r.lastTick = msg.at
		evs, err := r.src.Tick(max(elapsed, 0))
		r = r.fail(err)
		return askMore(r, feed{events: evs, moved: len(evs) > 0 || !r.src.Paused()}, r.tick())
	case replayMoreMsg:
		if msg.gen != r.more {
			return r, feed{}, nil
		}
		evs, err := r.src.Continue()
		r = r.fail(err)
		return askMore(r, feed{events: evs, moved: len(evs) > 0}, nil)
	case tea.KeyPressMsg:
		if r.input.Active() {
			return askMore(r.edit(msg))
		}
		return askMore(r.key(msg))
	}
	return r, feed{}, nil
}

func (r replayCtl) edit(msg tea.KeyPressMsg) (replayCtl, feed, tea.Cmd) {
	var submit bool
	r.input, submit = r.input.Update(msg)
	if !submit {
		return r, feed{}, nil
	}
	t, err := parseGoto(r.input.value, r.src.Position(), r.src.Start(), r.src.End(), r.env.loc)
	if err != nil {
		r.input = r.input.Fail(err)
		return r, feed{}, nil
	}
	r.input = r.input.Close()
	r, f := r.seek(t)
	return r, f, nil
}

func (r replayCtl) key(msg tea.KeyPressMsg) (replayCtl, feed, tea.Cmd) {
	pos := r.src.Position()
	r.note = ""
	var f feed
	switch {
	case key.Matches(msg, r.keys.Pause):
		r.src.SetPaused(!r.src.Paused())
	case key.Matches(msg, r.keys.Slower):
		r.src.SetSpeed(max(r.src.Speed()/2, minSpeed))
	case key.Matches(msg, r.keys.Faster):
		r.src.SetSpeed(min(r.src.Speed()*2, maxSpeed))
	case key.Matches(msg, r.keys.Back):
		r, f = r.seek(pos.Add(-replayStep))
	case key.Matches(msg, r.keys.Forward):
		r, f = r.seek(pos.Add(replayStep))
	case key.Matches(msg, r.keys.Start):
		r, f = r.seek(r.src.Start())
	case key.Matches(msg, r.keys.End):
		r, f = r.seek(r.src.End())
	case key.Matches(msg, r.keys.Goto):
		r.input = r.input.Open()
	case key.Matches(msg, r.keys.NextFinding):
		i := sort.Search(len(r.marks), func(i int) bool { return r.marks[i].Time.After(pos) })
		if i == len(r.marks) {
			r.note = "no later finding or note"
			break
		}
		r, f = r.seek(r.marks[i].Time)
	case key.Matches(msg, r.keys.PrevFinding):
		i := sort.Search(len(r.marks), func(i int) bool { return !r.marks[i].Time.Before(pos) }) - 1
		if i < 0 {
			r.note = "no earlier finding or note"
			break
		}
		r, f = r.seek(r.marks[i].Time)
	}
	return r, f, nil
}

// Jump goes to t and pauses there: g in an opened finding, so the panes
// hold its moment until space plays on.
func (r replayCtl) Jump(t time.Time) (replayCtl, feed, tea.Cmd) {
	r.note = ""
	r.src.SetPaused(true)
	r, f := r.seek(t)
	return askMore(r, f, nil)
}

func (r replayCtl) seek(t time.Time) (replayCtl, feed) {
	if t.Before(r.src.Start()) {
		t = r.src.Start()
	}
	if t.After(r.src.End()) {
		t = r.src.End()
	}
	evs, err := r.src.Seek(t)
	r = r.fail(err)
	return r, feed{reset: true, events: evs, moved: true}
}

func (r replayCtl) fail(err error) replayCtl {
	if err != nil {
		r.note = "replay: " + event.Sanitize(err.Error())
	}
	return r
}

// Mode is the status-line segment: ▶ or ⏸ and the speed.
func (r replayCtl) Mode() string {
	st := r.env.st
	state := "▶ playing"
	if r.src.Paused() {
		state = "⏸ paused"
	} else if !r.src.Position().Before(r.src.End()) {
		state = "■ at end"
	}
	return st.Replay.Render(fmt.Sprintf("REPLAY %s %s", state, fmtSpeed(r.src.Speed())))
}

func fmtSpeed(x float64) string {
	if x == float64(int(x)) {
		return fmt.Sprintf("%d×", int(x))
	}
	return fmt.Sprintf("%g×", x)
}
