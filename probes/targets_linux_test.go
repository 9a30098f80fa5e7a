package probes

import (
	"errors"
	"testing"

	"github.com/stakeout/stakeout/schema"
)

// TestMissingPIDAndMountAreSaid: a --pid with no process fails Validate
// for snapshot; in the live TUI, where Validate does not run, the coredump
// probe is unavailable when none of its --pid processes exists, and a
// --mount on nothing makes diskfill unavailable instead of watching / (the
// longest mount prefix of any missing path).
func TestMissingPIDAndMountAreSaid(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Procfs = "testdata/coredump/apport/proc" // has pid 610
	for _, c := range []struct {
		pids []int
		want string
	}{
		{[]int{610}, ""},
		{[]int{610, 4242}, "--pid 4242: no such process"},
		{[]int{0}, "--pid 0: no such process"},
	} {
		cfg.Signals.PIDs = c.pids
		err := validatePIDs(cfg)
		if (err == nil) != (c.want == "") || (err != nil && err.Error() != c.want) {
			t.Errorf("%v: %v, want %q", c.pids, err, c.want)
		}
	}
	cfg.Signals.PIDs = []int{4242}
	var u *Unavailable
	if err := newCoredump(cfg).Check(); !errors.As(err, &u) || u.Reason != "pid 4242: no such process" {
		t.Errorf("coredump, only a missing pid: %v", err)
	}
	cfg.Signals.PIDs = []int{4242, 610}
	if err := newCoredump(cfg).Check(); err != nil {
		t.Errorf("coredump, one pid there: %v", err)
	}

	d := newDiskFill(Config{Procfs: "/proc", DiskFill: schema.DiskFillConfig{Mounts: []string{"/nonexistent-h-dsk/x"}}})
	if err := d.Check(); !errors.As(err, &u) || u.Reason != "--mount /nonexistent-h-dsk/x: no such file or directory" {
		t.Errorf("diskfill, missing --mount: %v", err)
	}
}
