package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/wiring"
	"github.com/stakeout/stakeout/sessions"
)

func newStreamCmd() *cobra.Command {
	lf := defaultLiveFlags()
	// As in the live TUI, a probe's bad settings (an --iface this host
	// lacks) become that probe's status, shown in its pane on the reading
	// side, instead of ending the stream: the flags were typed for several
	// hosts at once.
	lf.tui = true
	var (
		skew       time.Duration
		unlinkSelf bool
	)
	cmd := &cobra.Command{
		Use:   "stream [probe flags]",
		Short: "write this host's events to stdout for another stakeout: the other end of `stakeout --ssh`",
		Long: `stream is the other end of ` + "`stakeout --ssh`" + `: it runs the selected probes
with no terminal UI and no detectors (the reading side finds, per host), and
writes every event to stdout as a stream in the recording's own framing (see
sessions/FORMAT.md, "Streams"), for the stakeout that started it over ssh.
It records nothing on this host.

stdin carries lines from the reading side: "ping ID" is answered at once with
a stream.pong event, which the reading side times to estimate this host's
clock offset; other lines are ignored. When stdin ends (ssh closed it) the
probes stop, traced processes are detached, the stream ends cleanly, and it
exits 0. It also exits 0, silently, when stdout's reader goes away.

Exit status: 0 done; 1 error; 2 bad usage (stdout is a terminal, a bad flag).`,
		Example: `  ssh root@db-7 stakeout stream --probes packets,signals --iface eth0 > db-7.stk
  (stakeout --ssh root@db-7 runs it for you, and reads what it writes)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if unlinkSelf {
				removeSelf()
			}
			if err := needLinux("stream"); err != nil {
				return err
			}
			return runStream(lf, skew)
		},
	}
	fs := cmd.Flags()
	lf.bindProbes(fs)
	fs.DurationVar(&skew, "clock-skew", 0, "add this to every event time written (tests: a host whose clock is off)")
	fs.BoolVar(&unlinkSelf, "unlink-self", false, "remove this executable, and its directory if that is then empty, at start (a copy made for this run)")
	fs.MarkHidden("clock-skew")
	fs.MarkHidden("unlink-self")
	return cmd
}

func runStream(lf *liveFlags, skew time.Duration) error {
	if term.IsTerminal(os.Stdout.Fd()) {
		return usageErr("stream writes a binary event stream for another stakeout to read; run it through ssh or pipe it to a file")
	}
	named, err := lf.selected()
	if err != nil {
		return err
	}
	return wiring.Stream(wiring.StreamOptions{
		Probes:    named,
		Header:    sessions.HostHeader(version, os.Args, lf.cfg.Interval),
		Detectors: lf.detectorConfig(),
		Out:       os.Stdout, In: os.Stdin,
		ClockSkew: skew,
	})
}

// removeSelf removes the running executable, a copy `--ssh` made for this
// run, and then its directory if nothing else is in it. A directory
// anyone may write to (/tmp) is never removed. What cannot be removed is
// said on stderr; the stream runs anyway.
func removeSelf() {
	exe, err := os.Executable()
	if err == nil {
		err = os.Remove(exe)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stakeout: warning: --unlink-self: "+event.Sanitize(err.Error()))
		return
	}
	dir := filepath.Dir(exe)
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm()&0o002 != 0 || st.Mode()&os.ModeSticky != 0 || dir == "/" {
		return
	}
	os.Remove(dir) // fails, and removes nothing, unless the directory is empty
}
