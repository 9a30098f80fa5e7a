package ui

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// procRef is a process a pane shows, offered by the inspector's picker.
// Strings are sanitized.
type procRef struct {
	pid  int
	host string // the host it runs on, as the events say it: "" is the local one
	comm string
	why  string // what the pane shows of it: "got SIGHUP", "writes /var at 5.0 MiB/s"
}

// procKey names a process on a host: a pid on another host is another
// process than the same pid here.
type procKey struct {
	host string
	pid  int
}

// processLister is a pane that shows processes: Processes lists them, the
// most recent or most pressing first, for the inspector (i).
type processLister interface {
	Processes() []procRef
}

// Bounds of the inspector.
const (
	maxPickRefs     = 50 // processes the picker offers
	maxRecordedPids = 64 // processes whose latest recorded snapshot is kept
)

type inspectMode int

const (
	inspectClosed inspectMode = iota
	inspectPicking
	inspectViewing
)

// inspector is the process inspector: i opens a picker of the processes
// the panes show (or a pid typed), Enter opens one. Live, the process is
// read from /proc through Options.Inspect (off the UI goroutine) and s
// saves what is on screen into the recording as a process_snapshot; in a
// replay, the latest snapshot the recording holds of it up to the
// position is shown. It remembers the latest recorded snapshot of each of
// the last maxRecordedPids processes, live and in a replay.
type inspector struct {
	env  paneEnv
	keys inspectKeys
	mode inspectMode

	refs  []procRef
	sel   int
	typed string // a pid being typed in the picker

	pid     int
	host    string // the process's host: "" is the local one, the only one read live
	snap    *schema.ProcessSnapshot
	at      time.Time // when snap was read
	live    bool      // snap was read from /proc just now, not recorded
	loading bool
	note    string // how the last read or save went, sanitized
	scroll  int
	gen     int  // the current read; a late answer to an earlier one is dropped
	direct  bool // opened from a pane's row (Enter), so esc goes back to the panes

	h int // lines of the grid it draws over, for paging

	recorded map[procKey]event.Event // latest process_snapshot per process
	order    []procKey               // processes of recorded, least recently updated first
}

type inspectKeys struct {
	Open, Up, Down, PageUp, PageDown, Top, Bottom, Pick, Save, Refresh, Back key.Binding
}

// The ? screen names only i: the inspector's own keys are in its title.
func (k inspectKeys) ShortHelp() []key.Binding  { return []key.Binding{k.Open} }
func (k inspectKeys) FullHelp() [][]key.Binding { return [][]key.Binding{{k.Open}} }

func newInspector(env paneEnv, canRead, canSave bool) inspector {
	k := inspectKeys{
		Open:     key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "inspect a process")),
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "space"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("home", "top")),
		Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("end", "bottom")),
		Pick:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open the process")),
		Save:     key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "save the inspection into the recording")),
		Refresh:  key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "read the process again")),
		Back:     key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("esc", "back / close")),
	}
	k.Save.SetEnabled(canSave && canRead)
	k.Refresh.SetEnabled(canRead)
	return inspector{env: env, keys: k, recorded: map[procKey]event.Event{}}
}

// Active says the inspector has the keyboard and the grid.
func (in inspector) Active() bool { return in.mode != inspectClosed }

// Remember keeps a recorded process_snapshot as its pid's latest.
func (in inspector) Remember(ev event.Event) inspector {
	s, ok := event.As[schema.ProcessSnapshot](ev)
	if !ok || s.PID <= 0 {
		return in
	}
	pk := procKey{ev.Host, s.PID}
	if old, ok := in.recorded[pk]; ok && old.Time.After(ev.Time) {
		return in
	}
	recorded := make(map[procKey]event.Event, len(in.recorded)+1)
	for k, v := range in.recorded {
		recorded[k] = v
	}
	recorded[pk] = ev
	order := append(slices.DeleteFunc(slices.Clone(in.order), func(p procKey) bool { return p == pk }), pk)
	if len(order) > maxRecordedPids {
		delete(recorded, order[0])
		order = order[1:]
	}
	in.recorded, in.order = recorded, order
	return in
}

// Forget drops the recorded snapshots, before a replay seek re-feeds them.
func (in inspector) Forget() inspector {
	in.recorded, in.order = map[procKey]event.Event{}, nil
	return in
}

// OpenPicker offers refs (the panes' processes), then the processes with
// a recorded snapshot not among them, newest first.
func (in inspector) OpenPicker(refs []procRef) inspector {
	seen := map[procKey]bool{}
	var out []procRef
	for _, r := range refs {
		if pk := (procKey{r.host, r.pid}); !seen[pk] && r.pid > 0 {
			seen[pk] = true
			out = append(out, r)
		}
	}
	for i := len(in.order) - 1; i >= 0; i-- {
		pk := in.order[i]
		ev := in.recorded[pk]
		s, _ := event.As[schema.ProcessSnapshot](ev)
		if seen[pk] {
			continue
		}
		seen[pk] = true
		why := "snapshot at " + ev.Time.In(in.env.loc).Format("15:04:05")
		if s.Finding != "" {
			why += " for " + event.Sanitize(s.Finding)
		}
		out = append(out, procRef{pid: s.PID, host: pk.host, comm: event.Sanitize(s.Comm), why: why})
	}
	if len(out) > maxPickRefs {
		out = out[:maxPickRefs]
	}
	in.mode, in.refs, in.sel, in.typed, in.note, in.direct = inspectPicking, out, 0, "", "", false
	return in
}

// OpenRefs opens the inspector on the processes a pane's selected row
// names (Enter on it): one is opened at once, and esc from it goes back to
// the panes; several (a signal's target and sender) are offered in the
// picker, and only they.
func (in inspector) OpenRefs(refs []procRef, canRead bool) (inspector, inspectAction) {
	var out []procRef
	for _, r := range refs {
		if r.pid > 0 && len(out) < maxPickRefs && !slices.ContainsFunc(out, func(o procRef) bool { return o.pid == r.pid && o.host == r.host }) {
			out = append(out, r)
		}
	}
	in.mode, in.refs, in.sel, in.typed, in.note, in.direct = inspectPicking, out, 0, "", "", false
	if len(out) != 1 {
		return in, inspectNothing
	}
	in.direct = true
	return in.open(out[0].host, out[0].pid, canRead)
}

// inspectAction is what a key in the inspector asks the root to do.
type inspectAction int

const (
	inspectNothing inspectAction = iota
	inspectRead                  // read in.pid live
	inspectSave                  // save in.snap
)

// Update handles a key. The root turns the action into a command, since
// only it holds Options.Inspect and Options.Save.
func (in inspector) Update(msg tea.KeyPressMsg, canRead bool) (inspector, inspectAction) {
	if in.mode == inspectPicking {
		return in.pickKey(msg, canRead)
	}
	return in.viewKey(msg)
}

func (in inspector) pickKey(msg tea.KeyPressMsg, canRead bool) (inspector, inspectAction) {
	k := in.keys
	switch {
	case msg.String() == "esc" || (msg.String() == "q" && in.typed == ""):
		in.mode = inspectClosed
	case msg.String() == "backspace":
		if in.typed != "" {
			in.typed = in.typed[:len(in.typed)-1]
		}
	case len(msg.Text) == 1 && msg.Text[0] >= '0' && msg.Text[0] <= '9':
		if len(in.typed) < 10 {
			in.typed += msg.Text
		}
	case key.Matches(msg, k.Up):
		in.sel = max(in.sel-1, 0)
	case key.Matches(msg, k.Down):
		in.sel = min(in.sel+1, max(len(in.refs)-1, 0))
	case key.Matches(msg, k.Pick):
		pid, host := 0, "" // a pid typed is the local host's
		if in.typed != "" {
			pid, _ = strconv.Atoi(in.typed)
		} else if in.sel < len(in.refs) {
			pid, host = in.refs[in.sel].pid, in.refs[in.sel].host
		}
		if pid <= 0 {
			in.note = "no process to open: pick one, or type its pid"
			return in, inspectNothing
		}
		return in.open(host, pid, canRead)
	}
	return in, inspectNothing
}

// open shows pid on host: live, it asks for a read (showing the recorded
// snapshot, if any, meanwhile); in a replay, the recorded one. Live, a
// process on another host is not opened: only the local /proc can be
// read, and the same pid there is another process.
func (in inspector) open(host string, pid int, canRead bool) (inspector, inspectAction) {
	if canRead && host != "" {
		in.note = remoteProcess("process inspector", pid, host, "opened")
		return in, inspectNothing
	}
	in.mode, in.pid, in.host, in.scroll, in.note, in.snap, in.live = inspectViewing, pid, host, 0, "", nil, false
	if ev, ok := in.recorded[procKey{host, pid}]; ok {
		in.snap, _ = event.As[schema.ProcessSnapshot](ev)
		in.at = ev.Time
	}
	if canRead {
		in.loading = true
		in.gen++
		return in, inspectRead
	}
	if in.snap == nil {
		in.note = fmt.Sprintf("the recording holds no snapshot of pid %d%s up to here", pid, onHostText(host))
	}
	return in, inspectNothing
}

// remoteProcess is the one line that says a process action is refused
// because the process is on another host: "process inspector: pid 812 is
// on r1; only the local host's processes can be opened".
func remoteProcess(what string, pid int, host, verb string) string {
	return fmt.Sprintf("%s: pid %d is on %s; only the local host's processes can be %s", what, pid, event.Sanitize(host), verb)
}

// onHostText is " on r1" for another host's process, "" for a local one.
func onHostText(host string) string {
	if host == "" {
		return ""
	}
	return " on " + event.Sanitize(host)
}

func (in inspector) viewKey(msg tea.KeyPressMsg) (inspector, inspectAction) {
	k := in.keys
	page := max(in.h-3, 1)
	switch {
	case key.Matches(msg, k.Back) && in.direct:
		in.mode = inspectClosed
		in.gen++
		in.loading = false
	case key.Matches(msg, k.Back):
		in.mode = inspectPicking
		in.gen++ // a read still under way is no longer wanted
		in.loading = false
	case key.Matches(msg, k.Up):
		in.scroll = max(in.scroll-1, 0)
	case key.Matches(msg, k.Down):
		in.scroll++
	case key.Matches(msg, k.PageUp):
		in.scroll = max(in.scroll-page, 0)
	case key.Matches(msg, k.PageDown):
		in.scroll += page
	case key.Matches(msg, k.Top):
		in.scroll = 0
	case key.Matches(msg, k.Bottom):
		in.scroll = 1 << 30 // clamped when drawn
	case key.Matches(msg, k.Refresh) && in.host != "":
		in.note = remoteProcess("process inspector", in.pid, in.host, "read")
	case key.Matches(msg, k.Refresh):
		in.loading, in.note = true, ""
		in.gen++
		return in, inspectRead
	case key.Matches(msg, k.Save):
		switch {
		case in.snap == nil || !in.live:
			in.note = "nothing read live to save: r reads the process"
		default:
			return in, inspectSave
		}
	}
	return in, inspectNothing
}

// inspectedMsg is a live read of a process.
type inspectedMsg struct {
	gen  int
	pid  int
	at   time.Time
	snap *schema.ProcessSnapshot
	err  error
}

// snapshotSavedMsg says how saving a snapshot went.
type snapshotSavedMsg struct {
	at  time.Time
	err error
}

// readProcess runs Options.Inspect off the UI goroutine: a process with
// thousands of threads takes a while to read.
func readProcess(read func(int) (*schema.ProcessSnapshot, error), gen, pid int, now func() time.Time) tea.Cmd {
	return func() tea.Msg {
		at := now()
		s, err := read(pid)
		return inspectedMsg{gen: gen, pid: pid, at: at, snap: s, err: err}
	}
}

// Inspected takes a live read. A process that is gone keeps the recorded
// snapshot on screen, saying so.
func (in inspector) Inspected(msg inspectedMsg) inspector {
	if msg.gen != in.gen || in.mode != inspectViewing || msg.pid != in.pid {
		return in
	}
	in.loading = false
	if msg.err != nil {
		in.note = "live: " + event.Sanitize(msg.err.Error())
		if in.snap != nil {
			in.note += "; showing the snapshot recorded at " + in.at.In(in.env.loc).Format("15:04:05")
		}
		return in
	}
	in.snap, in.at, in.live = msg.snap, msg.at, true
	return in
}

// SaveEvent is the snapshot on screen as the event s records.
func (in inspector) SaveEvent() event.Event {
	s := *in.snap
	s.Finding = ""
	return event.New(in.at.UTC(), schema.ProbeProcess, &s)
}

// Saved reports how a save went.
func (in inspector) Saved(msg snapshotSavedMsg) inspector {
	if msg.err != nil {
		in.note = "not saved: " + event.Sanitize(msg.err.Error())
	} else {
		in.note = "saved into the recording as a process_snapshot at " + msg.at.In(in.env.loc).Format("15:04:05")
	}
	return in
}

// SetHeight gives the height of the grid it draws over.
func (in inspector) SetHeight(h int) inspector { in.h = h; return in }
