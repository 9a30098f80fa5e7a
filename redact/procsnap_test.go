package redact

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// TestProcessSnapshotRedacted: a process_snapshot's command line (a list
// of arguments: the secret is the one after its flag), its fds' targets
// and its stack go through the redactor like any event's strings.
func TestProcessSnapshotRedacted(t *testing.T) {
	r := New()
	s := &schema.ProcessSnapshot{PID: 4242, Comm: "mysql",
		Cmdline: []string{"mysql", "--password", "hunter2", "-h", "db1.prod.example.com", "--token=abc123"},
		FDs:     []schema.FDSnap{{FD: 3, Target: "/home/alice/.my.cnf"}, {FD: 4, Target: "socket:[81234]"}}}
	ev := r.Event(event.New(time.Unix(0, 0), schema.ProbeProcess, s))
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, secret := range []string{"hunter2", "abc123", "alice", "db1.prod.example.com"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q survived redaction: %s", secret, out)
		}
	}
	back, ok := event.As[schema.ProcessSnapshot](ev)
	if !ok || back.PID != 4242 || back.Cmdline[2] != Redacted || back.FDs[1].Target != "socket:[81234]" {
		t.Errorf("redacted snapshot %+v", back)
	}
}
