package wiring

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
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

	recMu  sync.Mutex
	recMsg ui.RecordingMsg // the latest recording state, for the forwarder
}

// Live runs the live TUI on the terminal until the user quits or the ssh
// session hangs up, and returns once the probes have stopped and the
// recording is closed.
func Live(o LiveOptions) error {
	l := &live{rec: o.Recorder, box: ui.NewMailbox(mailboxSize)}
	l.prog = tea.NewProgram(l.model(o), profileOnce())
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

// forward hands what the mailbox holds to the program, and the latest
// recording state with it, until ctx ends.
func (l *live) forward(ctx context.Context) {
	for {
		select {
		case <-l.box.Ready():
			if evs := l.box.Take(); len(evs) > 0 {
				l.prog.Send(ui.EventsMsg(evs))
			}
			l.recMu.Lock()
			m := l.recMsg
			l.recMu.Unlock()
			if m.State != "" {
				l.prog.Send(m)
			}
		case <-ctx.Done():
			return
		}
	}
}

// onRecording keeps the engine's latest recording state for the forwarder
// and wakes it.
func (l *live) onRecording(s engine.RecordingState) {
	l.recMu.Lock()
	l.recMsg = ui.RecordingMsg{File: s.File, Bytes: s.Bytes, State: s.State, Reason: s.Reason, Hint: s.Hint}
	l.recMu.Unlock()
	l.box.Put(nil) // wake the forwarder
}

// profileOnce hands Bubble Tea the colour profile lipgloss already detected
// at start-up. Detecting twice costs a second `tmux info` subprocess (about
// 50 ms) inside tmux, which is where many on-call engineers live.
func profileOnce() tea.ProgramOption { return tea.WithColorProfile(lipgloss.Writer.Profile) }
