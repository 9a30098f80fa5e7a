package main

import (
	"os"
	"runtime"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/internal/wiring"
	"github.com/stakeout/stakeout/themes"
)

// runLive is `stakeout` with no subcommand: the live TUI.
func runLive(_ *cobra.Command, lf *liveFlags) error {
	if err := needLinux("the live view"); err != nil {
		return err
	}
	if !term.IsTerminal(os.Stdout.Fd()) || !term.IsTerminal(os.Stdin.Fd()) {
		return usageErr("stdout is not a terminal: use 'stakeout snapshot --duration 60s' for a headless run")
	}
	theme, err := pickTheme(lf.theme)
	if err != nil {
		return err
	}
	named, err := lf.sources()
	if err != nil {
		return err
	}
	var rec engine.Recorder
	evidence := noEvidence("recording is off (--no-record): no recorded events to show")
	if !lf.noRecord {
		path := lf.recordPath(lf.record, time.Now())
		w, err := openRecording(path, lf, os.Args)
		if err != nil {
			wiring.CloseUnrun(named)
			return err
		}
		rec, evidence = w, evidenceReader(path, true, lf.redact)
	}
	return wiring.Live(wiring.LiveOptions{Watch: lf.watch(named, rec), Theme: theme, Evidence: evidence})
}

// pickTheme honours --theme; NO_COLOR or a dumb terminal pick mono.
func pickTheme(name string) (themes.Theme, error) {
	t, err := themes.Pick(name, os.Environ())
	if err != nil {
		return t, usageErr("--theme: %v", err)
	}
	return t, nil
}

// needLinux refuses, in one line and with exit code 2, what only Linux can
// do, and says what works here instead.
func needLinux(what string) error {
	if liveSupported {
		return nil
	}
	return usageErr("%s needs Linux (it reads /proc, ptrace and packet sockets); on %s, replay, report, events, handoff, extract, note and export work on recordings made there", what, runtime.GOOS)
}
