//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stakeout/stakeout/internal/testenv"
)

// Issue 14: with no signal flags, snapshot follows every signal on the host
// (tracefs), so the double SIGHUP nobody knew the pid of is found: a
// signal.burst naming the receiver and the shell that sent both, and no
// process traced. --signals off turns the probe off, and says so.
func TestSignalsHostByDefaultEndToEnd(t *testing.T) {
	share(t)
	testenv.NeedRoot(t, "tracefs")
	tg := startSigTarget(t)
	snap := exec.Command(binPath, "snapshot", "--duration", "3s", "--probes", "signals", "--format", "json", "--no-record")
	var out bytes.Buffer
	snap.Stdout, snap.Stderr = &out, os.Stderr
	if err := snap.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { snap.Process.Kill(); snap.Wait() })
	hostInstanceReady(t, snap.Process.Pid)
	sh := exec.Command("/bin/sh", "-c", `kill -HUP "$1"; kill -HUP "$1"`, "sh", strconv.Itoa(tg.pid))
	if err := sh.Run(); err != nil {
		t.Fatal(err)
	}
	tg.expect(t, "HUP 1") // the second may be merged into the first: both were sent
	if err := snap.Wait(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	var doc hostDoc
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	bursts := 0
	for _, f := range doc.Findings {
		if f.Finding != "signal.burst" || f.Data.PID != tg.pid {
			continue
		}
		bursts++
		if f.Data.Signal != "SIGHUP" || f.Data.Count != 2 || len(f.Data.Senders) != 1 || f.Data.Senders[0].PID != sh.Process.Pid {
			t.Errorf("burst %+v", f.Data)
		}
		t.Logf("%s", f.Summary)
	}
	if bursts != 1 {
		t.Errorf("%d SIGHUP bursts for the target, want 1:\n%s", bursts, out.String())
	}
	if n, st := traced(tg.pid); n != 0 || st == 't' {
		t.Errorf("host mode traced the target: tracer %d, state %c", n, st)
	}

	off := run(t, nil, "snapshot", "--duration", "300ms", "--probes", "signals", "--signals", "off", "--format", "json", "--no-record")
	if off.code != 0 {
		t.Fatalf("--signals off: exit %d: %s", off.code, off.stderr)
	}
	var offDoc struct {
		Probes []map[string]any `json:"probes"`
	}
	if err := json.Unmarshal([]byte(off.stdout), &offDoc); err != nil {
		t.Fatalf("%v\n%s", err, off.stdout)
	}
	if len(offDoc.Probes) != 1 || offDoc.Probes[0]["status"] != "unavailable" ||
		!strings.Contains(offDoc.Probes[0]["reason"].(string), "--signals off") {
		t.Errorf("--signals off: probes %+v", offDoc.Probes)
	}
}
