package main

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
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/themes"
	"github.com/stakeout/stakeout/ui"
)

// runLive is `stakeout` with no subcommand: the live TUI.
func runLive(cmd *cobra.Command, lf *liveFlags) error {
	if !term.IsTerminal(os.Stdout.Fd()) || !term.IsTerminal(os.Stdin.Fd()) {
		return usageErr("stdout is not a terminal: use 'stakeout snapshot --duration 60s' for a headless run")
	}
	theme, err := pickTheme(lf.theme)
	if err != nil {
		return err
	}
	named, err := lf.selected()
	if err != nil {
		return err
	}
	var rec engine.Recorder
	evidence := noEvidence("recording is off (--no-record): no recorded events to show")
	if !lf.noRecord {
		path := lf.recordPath(lf.record, time.Now())
		w, err := openRecording(path, lf, os.Args)
		if err != nil {
			return err
		}
		rec, evidence = w, evidenceReader(path, true, lf.redact)
	}
	names := make([]string, len(named))
	for i, n := range named {
		names[i] = n.Name
	}
	host, _ := os.Hostname()
	// m in the TUI: the note goes through the engine into the recording,
	// and back to the screen, like any event. Declared before the engine
	// exists; the UI can only call it once the program runs.
	var eng *engine.Engine
	var engCtx context.Context
	saveNote := func(ev event.Event) error {
		if err := eng.Inject(engCtx, ev); err != nil {
			return err
		}
		if rec == nil {
			return errors.New("shown here only: recording is off (--no-record)")
		}
		if why, stopped := rec.Stopped(); stopped {
			return fmt.Errorf("shown here only: recording stopped (%s)", why)
		}
		if why, paused := rec.Paused(); paused {
			return fmt.Errorf("shown here only: recording is paused (%s)", why)
		}
		return nil
	}
	// Done: once the UI has applied a packet batch, its columns go back to
	// the capture (the engine can't tell when the UI is done with it).
	model := ui.NewLive(ui.Options{Host: host, Probes: names, Theme: theme, Now: time.Now, Note: saveNote,
		Done: packet.ReleaseBatch, Evidence: evidence, Trace: traceRequests(named)})
	prog := tea.NewProgram(model, profileOnce())

	// The engine must never wait on the screen: events go through a
	// bounded mailbox that sheds samples, never findings, when the UI lags.
	box := newMailbox(20000)
	var recState struct {
		sync.Mutex
		msg ui.RecordingMsg
	}
	ctx, cancel := context.WithCancel(context.Background())
	engCtx = ctx
	// SIGHUP (the ssh session dropped) quits like q, so the engine stops
	// the probes cleanly: the signals probe detaches before we exit.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		select {
		case <-hup:
			prog.Quit()
		case <-ctx.Done():
		}
	}()
	go func() {
		for {
			select {
			case <-box.ready:
				if evs := box.take(); len(evs) > 0 {
					prog.Send(ui.EventsMsg(evs))
				}
				recState.Lock()
				m := recState.msg
				recState.Unlock()
				if m.State != "" {
					prog.Send(m)
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	eng = engine.New(engine.Options{
		Probes:      named,
		Detectors:   findings.All(lf.detectorConfig()),
		Recorder:    rec,
		RecordGuard: recordGuard(rec),
		Sink:        box.put,
		OnRecording: func(s engine.RecordingState) {
			recState.Lock()
			recState.msg = ui.RecordingMsg{File: s.File, Bytes: s.Bytes, State: s.State, Reason: s.Reason, Hint: s.Hint}
			recState.Unlock()
			box.put(nil) // wake the forwarder
		},
	})
	engDone := make(chan error, 1)
	go func() { engDone <- eng.Run(ctx) }()

	_, uiErr := prog.Run()
	cancel()
	engErr := <-engDone // closes the recording cleanly
	if uiErr != nil {
		return uiErr
	}
	return engErr
}

// profileOnce hands Bubble Tea the colour profile lipgloss already detected
// at start-up. Detecting twice costs a second `tmux info` subprocess (about
// 50 ms) inside tmux, which is where many on-call engineers live.
func profileOnce() tea.ProgramOption { return tea.WithColorProfile(lipgloss.Writer.Profile) }

// pickTheme honours --theme; NO_COLOR or a dumb terminal pick mono.
func pickTheme(name string) (themes.Theme, error) {
	t, err := themes.Pick(name, os.Environ())
	if err != nil {
		return t, usageErr("--theme: %v", err)
	}
	return t, nil
}
