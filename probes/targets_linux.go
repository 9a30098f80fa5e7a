package probes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

// validatePIDs fails on a --pid that names no process: the signals and
// coredump probes watch those processes, and `snapshot` must say in one
// line that the one asked for is not there rather than run without it.
// (--proc names processes that may start later, so it is not checked.)
func validatePIDs(cfg Config) error {
	for _, pid := range cfg.Signals.PIDs {
		if err := pidExists(cfg, pid); err != nil {
			return fmt.Errorf("--pid %w", err)
		}
	}
	return nil
}

// pidExists says "N: no such process" when /proc has no pid N.
func pidExists(cfg Config, pid int) error {
	if pid <= 0 {
		return fmt.Errorf("%d: no such process", pid)
	}
	if _, err := os.Stat(cfg.ProcPath(strconv.Itoa(pid))); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%d: no such process", pid)
	}
	return nil
}
