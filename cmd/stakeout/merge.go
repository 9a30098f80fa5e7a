package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/sessions"
)

func newMergeCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "merge -o OUT.stk FILE FILE...",
		Short: "write several recordings (one per host) as one multi-host recording",
		Long: `merge writes recordings made separately on several hosts (a fleet's
"stakeout snapshot" files) as one session file, merged by time, that replay,
report, events, handoff, extract and export read like any other. It holds
what "stakeout replay FILE FILE..." shows:

  - every event of every file, each naming its host ("host"): its file's
    header's hostname, with the file's name when two files share one
    (web1 (b.stk)); an event that names its host already (a file recorded
    with --ssh, or merged before) keeps it, so merging merged files works;
  - a host_facts event per host with its file's header facts (hostname,
    kernel, boot time, CPUs, memory, stakeout version) and its file name;
  - the first file's header, with the earliest start of all the files and
    this command as its command; its detector settings are the ones
    findings are recomputed with.

Times are each host's own clock: recordings made separately line up only
as well as the hosts' clocks agree (NTP). Live --ssh sessions measure and
correct each host's offset instead.

Files are read 32 at a time (a merge of more goes in rounds, through
temporary files beside OUT), so memory and open files stay bounded however
many hosts there are. A damaged file gives what it could; the others are
merged whole, and one warning line per damaged file follows (exit 4). A
file that is not a readable session (or of another format version) stops
the merge before anything is written. OUT must not exist; it cannot be
stdout.`,
		Example: `  stakeout merge -o fleet.stk web1.stk web2.stk db1.stk
  stakeout merge -o all.stk snapshots/*.stk && stakeout report all.stk --format json | jq '.hosts[].host'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case out == "":
				return usageErr("merge needs -o OUT.stk")
			case out == "-":
				return usageErr("-o -: a merge is written to a file, not to stdout")
			case len(args) < 2:
				return usageErr("merge needs two or more recordings (one given)")
			}
			if _, err := os.Lstat(out); err == nil {
				return fmt.Errorf("-o %s: file exists", event.Sanitize(out))
			}
			line := stderrProgress(out, false)
			st, err := sessions.MergeFiles(args, openSession, out, os.Args, sessions.MergeOptions{Progress: line.hook()})
			line.done()
			if err != nil {
				return mergeErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d events of %d recordings, %s\n",
				event.Sanitize(out), st.Events, len(args), event.HumanBytes(st.Bytes))
			for _, d := range st.Damaged {
				fmt.Fprintf(os.Stderr, "stakeout: warning: %s: %s\n", event.Sanitize(d.Path), event.Sanitize(d.Damage.Error()))
			}
			if len(st.Damaged) > 0 {
				return &exitErr{code: exitDamaged}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "session file to write (must not exist)")
	return cmd
}

// mergeErr names the output by its flag, as extract's errors do.
func mergeErr(err error) error {
	var oe *sessions.OutputError
	if !errors.As(err, &oe) {
		return err
	}
	if errors.Is(oe.Err, os.ErrExist) {
		return fmt.Errorf("-o %s: file exists", event.Sanitize(oe.Path))
	}
	return fmt.Errorf("-o %s: %v", event.Sanitize(oe.Path), oe.Err)
}
