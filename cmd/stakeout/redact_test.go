package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// With --redact, a recording's default name carries the host's pseudonym:
// the file name is handed on with the file.
func TestRedactedDefaultRecordPath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("STAKEOUT_DIR", dir)
	host, err := os.Hostname()
	if err != nil || len(host) < 2 {
		t.Skipf("hostname %q: nothing to hide", host)
	}
	at := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	lf := defaultLiveFlags()
	if got := lf.recordPath("", at); filepath.Base(got) != host+"-20261123T040000Z.stk" {
		t.Errorf("plain: %s", got)
	}
	lf.redact = true
	got := lf.recordPath("", at)
	if filepath.Dir(got) != dir || !strings.HasPrefix(filepath.Base(got), "host-") || strings.HasPrefix(filepath.Base(got), host+"-") {
		t.Errorf("redacted: %s (host %s)", got, host)
	}
	if explicit := filepath.Join(dir, "mine.stk"); lf.recordPath(explicit, at) != explicit {
		t.Error("an explicit --record path was changed")
	}
}
