package wiring

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/probes"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/themes"
	"github.com/stakeout/stakeout/ui"
)

// liveFPS is how often Bubble Tea's renderer looks for a new frame to
// write. Its ticker wakes the process that often whether or not anything
// changed, and on an idle host its default of 60 was the largest cost of
// the live TUI (bench/idle.sh: 0.15-0.2% of a core per 10 frames a second
// on this PVM host). The screen changes once a second, and a key's frame
// waits at most 50 ms at 20.
const liveFPS = 20

// mailboxSize is how many events wait for a lagging screen before samples
// are shed (ui.Mailbox).
const mailboxSize = 20000

// LiveOptions are the live TUI's: what to watch, the theme, and how an
// opened finding's evidence is read (from the recording being written).
type LiveOptions struct {
	Watch
	Theme    themes.Theme
	Evidence func(first, last event.Event) (ui.Evidence, error)
}

// live is one run of the live TUI: the engine feeds the program through a
// mailbox, and notes typed in the program go back through the engine.
type live struct {
	rec  engine.Recorder
	eng  *engine.Engine
	ctx  context.Context // the engine's; cancelled when the program ends
	prog *tea.Program
	box  *ui.Mailbox

	recMu    sync.Mutex
	recMsg   ui.RecordingMsg // the latest recording state
	recShown ui.RecordingMsg // the last one the program was given
	// evsSent is when the forwarder last sent events (Unix ns): a size
	// that changed with no events to ride along wakes it after a while.
	evsSent atomic.Int64
}

// Live runs the live TUI on the terminal until the user quits or the ssh
// session hangs up, and returns once the probes have stopped and the
// recording is closed.
func Live(o LiveOptions) error {
	l := &live{rec: o.Recorder, box: ui.NewMailbox(mailboxSize)}
	l.prog = tea.NewProgram(liveModel{l.model(o), l}, profileOnce(), tea.WithFPS(liveFPS))
	ctx, cancel := context.WithCancel(context.Background())
	l.ctx = ctx
	stopHangup := l.quitOnHangup(ctx)
	defer stopHangup()
	go l.forward(ctx)
	// The engine must never wait on the screen: events go through a
	// bounded mailbox that sheds samples, never findings, when the UI lags.
	l.eng = o.newEngine(ctx, l.box.Put, false, l.onRecording)
	engDone := make(chan error, 1)
	go func() { engDone <- l.eng.Run(ctx) }()

	_, uiErr := l.prog.Run()
	cancel()
	engErr := <-engDone // closes the recording cleanly
	if uiErr != nil {
		return uiErr
	}
	return engErr
}

// model is the live UI over o's probes.
func (l *live) model(o LiveOptions) ui.Model {
	var names []string // the local probes' panes; each --ssh host's come with its events
	for _, n := range o.Probes {
		if n.Name != schema.ProbeRemote {
			names = append(names, n.Name)
		}
	}
	host, _ := os.Hostname()
	// i in the TUI: the inspector reads a process with the collector (ui
	// links none), and s saves it into the recording the way a note goes.
	inspect := func(pid int) (*schema.ProcessSnapshot, error) { return probes.ReadProcess(o.procfs(), pid) }
	// Done: once the UI has applied a packet batch, its columns go back to
	// the capture (the engine can't tell when the UI is done with it).
	// Trace: a and d in the signals pane, through the probe that can.
	return ui.NewLive(ui.Options{Host: host, Probes: names, Theme: o.Theme, Now: time.Now, Note: l.saveNote,
		Inspect: inspect, Save: l.saveNote, Done: packet.ReleaseBatch,
		Evidence: o.Evidence, Trace: traceRequests(o.Probes)})
}

// saveNote is m in the TUI: the note goes through the engine into the
// recording, and back to the screen, like any event. The UI can only call
// it once the program runs, when the engine exists. The error says when
// the note is on the screen only.
func (l *live) saveNote(ev event.Event) error {
	if err := l.eng.Inject(l.ctx, ev); err != nil {
		return err
	}
	if l.rec == nil {
		return errors.New("shown here only: recording is off (--no-record)")
	}
	if why, stopped := l.rec.Stopped(); stopped {
		return fmt.Errorf("shown here only: recording stopped (%s)", why)
	}
	if why, paused := l.rec.Paused(); paused {
		return fmt.Errorf("shown here only: recording is paused (%s)", why)
	}
	return nil
}

// quitOnHangup makes SIGHUP (the ssh session dropped) quit like q, so the
// engine stops the probes cleanly: the signals probe detaches before we
// exit. It returns the function that stops listening.
func (l *live) quitOnHangup(ctx context.Context) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		select {
		case <-hup:
			l.prog.Quit()
		case <-ctx.Done():
		}
	}()
	return func() { signal.Stop(hup) }
}

// forward hands what the mailbox holds to the program until ctx ends. The
// recording state rides with the events (liveModel folds it in), or goes
// alone when there are none: each message costs the program an Update and
// a whole View, and the size changes every second.
func (l *live) forward(ctx context.Context) {
	for {
		select {
		case <-l.box.Ready():
			if evs := l.box.Take(); len(evs) > 0 {
				l.evsSent.Store(time.Now().UnixNano())
				l.prog.Send(ui.EventsMsg(evs))
			} else if m, ok := l.takeRecording(); ok {
				l.prog.Send(m)
			}
		case <-ctx.Done():
			return
		}
	}
}

// takeRecording hands over the latest recording state if the program has
// not been given it yet.
func (l *live) takeRecording() (ui.RecordingMsg, bool) {
	l.recMu.Lock()
	defer l.recMu.Unlock()
	if l.recMsg.State == "" || l.recMsg == l.recShown {
		return ui.RecordingMsg{}, false
	}
	l.recShown = l.recMsg
	return l.recMsg, true
}

// recordingAlone is how long a new recording size may wait for events to
// ride with before it goes alone.
const recordingAlone = 2 * time.Second

// onRecording keeps the engine's latest recording state (once a second)
// and wakes the forwarder when it must go at once: a new state (paused,
// stopped), or a new size with no events sent for recordingAlone. A size
// alone rides with the next events, which on a host with any polling probe
// come every second.
func (l *live) onRecording(s engine.RecordingState) {
	m := ui.RecordingMsg{File: s.File, Bytes: s.Bytes, State: s.State, Reason: s.Reason, Hint: s.Hint}
	l.recMu.Lock()
	l.recMsg = m
	shown := l.recShown
	l.recMu.Unlock()
	sizeOnly := shown.State != "" && m != shown && m.Bytes != shown.Bytes
	if sizeOnly {
		sizeOnly = (ui.RecordingMsg{File: m.File, State: m.State, Reason: m.Reason, Hint: m.Hint} ==
			ui.RecordingMsg{File: shown.File, State: shown.State, Reason: shown.Reason, Hint: shown.Hint})
	}
	if m == shown || sizeOnly && time.Since(time.Unix(0, l.evsSent.Load())) < recordingAlone {
		return
	}
	l.box.Put(nil) // wake the forwarder
}

// liveModel is the live UI with the recording state folded into the
// update that applies events, so a second's events and the size of the
// recording they were written to cost one Update and one View, not two.
type liveModel struct {
	ui.Model
	l *live
}

func (m liveModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if _, ok := msg.(ui.EventsMsg); ok {
		if rec, ok := m.l.takeRecording(); ok {
			um, _ := m.Model.Update(rec) // a RecordingMsg asks for no command
			m.Model = um.(ui.Model)
		}
	}
	um, cmd := m.Model.Update(msg)
	m.Model = um.(ui.Model)
	return m, cmd
}

// profileOnce hands Bubble Tea the colour profile lipgloss already detected
// at start-up. Detecting twice costs a second `tmux info` subprocess (about
// 50 ms) inside tmux, which is where many on-call engineers live.
func profileOnce() tea.ProgramOption { return tea.WithColorProfile(lipgloss.Writer.Profile) }
