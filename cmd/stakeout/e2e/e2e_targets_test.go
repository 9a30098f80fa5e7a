//go:build linux

package e2e

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/stakeout/stakeout/internal/testenv"
)

// missingPID is a pid no process can have: pids stay below pid_max.
func missingPID(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Skip(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(n)
}

// TestMissingTargetsFailSnapshot: a --pid, --mount or --iface that names
// nothing on this host is bad usage for every probe that would watch it:
// exit 2, one line naming it, nothing run. A --pid no running probe uses
// changes nothing.
func TestMissingTargetsFailSnapshot(t *testing.T) {
	share(t)
	pid := missingPID(t)
	for _, c := range []struct {
		args    []string
		mention string
	}{
		{[]string{"--probes", "signals", "--pid", pid}, "--pid " + pid + ": no such process"},
		{[]string{"--pid", pid}, "--pid " + pid + ": no such process"},
		{[]string{"--probes", "signals", "--pid", "1," + pid}, "--pid " + pid + ": no such process"},
		{[]string{"--probes", "coredump", "--pid", pid}, "--pid " + pid + ": no such process"},
		{[]string{"--probes", "diskfill", "--mount", "/nonexistent-h-dsk"}, "--mount /nonexistent-h-dsk: no such file or directory"},
		{[]string{"--probes", "packets", "--iface", "nosuch-hdsk0"}, "--iface nosuch-hdsk0: no interface nosuch-hdsk0"},
	} {
		args := append([]string{"snapshot", "--duration", "1s", "--no-record"}, c.args...)
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			oneLineError(t, run(t, nil, args...), exitUsage, c.mention)
		})
	}
	if r := run(t, nil, "snapshot", "--duration", "1s", "--no-record", "--probes", "iostat", "--pid", pid); r.code != 0 {
		t.Errorf("--pid with no probe that uses it: exit %d, %s", r.code, r.stderr)
	}
}

// TestMissingTargetsInLiveTUI: the live TUI on a pseudo-terminal, given the
// same three missing targets, runs on and says in each probe's pane what is
// not there.
func TestMissingTargetsInLiveTUI(t *testing.T) {
	share(t)
	testenv.NeedRoot(t, "to run the signals and packets probes")
	pid := missingPID(t)
	p := startOnPTY(t, 200, 50, "--no-record", "--probes", "signals,diskfill,packets,coredump",
		"--pid", pid, "--mount", "/nonexistent-h-dsk", "--iface", "nosuch-hdsk0")
	want := []string{
		"unavailable: pid " + pid + ": no such process", // signals, and coredump (it watches --pid)
		"unavailable: --mount /nonexistent-h-dsk: no such file or directory",
		"unavailable: --iface nosuch-hdsk0: no interface nosuch-hdsk0",
	}
	for _, w := range want {
		p.waitShown(w)
	}
	p.quit(t)
	screen := ansi.Strip(p.written())
	for _, w := range want {
		if !strings.Contains(screen, w) {
			t.Errorf("the screen never showed %q", w)
		}
	}
	if n := strings.Count(screen, "unavailable: pid "+pid); n < 2 {
		t.Errorf("only %d panes (signals, coredump) say pid %s is missing", n, pid)
	}
	if t.Failed() {
		t.Logf("screen:\n%s", screen)
	}
}
