package probes

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

func TestSignalSummary(t *testing.T) {
	at := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	var s schema.SignalSummary
	for _, b := range []event.Body{
		&schema.Signal{PID: 812, Comm: "gimli", Signal: "SIGHUP"}, &schema.Signal{PID: 812, Comm: "gimli", Signal: "SIGHUP"},
		&schema.Signal{PID: 812, Comm: "gimli", Signal: "SIGUSR1"}, &schema.Fork{PID: 812, Comm: "gimli", ChildPID: 900},
		&schema.Exec{PID: 900, OldComm: "gimli", Comm: "gimli"}, &schema.Exit{PID: 900, Comm: "gimli", Status: "killed by SIGKILL"},
	} {
		s.Observe(event.New(at, "signals", b))
	}
	got := strings.Join(s.Lines(), "\n")
	want := "812 gimli: SIGHUP×2, SIGUSR1×1; 1 fork(s)\n900 gimli: no signals; 1 exec(s); killed by SIGKILL"
	if got != want {
		t.Errorf("lines:\n%s\nwant:\n%s", got, want)
	}
	b, _ := json.Marshal(s.Result())
	if !strings.Contains(string(b), `{"pid":812,"comm":"gimli","signals":{"SIGHUP":2,"SIGUSR1":1},"total":3,"forks":1}`) {
		t.Errorf("json %s", b)
	}
}

func TestSignalName(t *testing.T) {
	for n, want := range map[int]string{1: "SIGHUP", 9: "SIGKILL", 31: "SIGSYS", 34: "SIGRTMIN", 64: "SIGRTMIN+30", 99: "SIG99"} {
		if got := schema.SignalName(n); got != want {
			t.Errorf("SignalName(%d) = %s", n, got)
		}
	}
}
