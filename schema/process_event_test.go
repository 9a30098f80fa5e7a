package schema

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// TestSnapshotBoundWorstCase: a snapshot with every list far past its cap
// and every string made of characters JSON escapes sixfold still marshals
// within MaxSnapshotBytes, so it can never reach the recording's 1 MiB
// record limit, and says it was truncated.
func TestSnapshotBoundWorstCase(t *testing.T) {
	ugly := strings.Repeat("\x01", 4*MaxSnapString)
	s := &ProcessSnapshot{PID: 1, Comm: ugly, State: "S", Wchan: ugly, Cgroup: ugly, Finding: ugly}
	for range 10 * MaxSnapArgs {
		s.Cmdline = append(s.Cmdline, ugly)
	}
	for i := range 10000 {
		th := ThreadSnap{TID: i, Comm: ugly, State: "D", Wchan: ugly}
		for range 3 * MaxSnapStackLines {
			th.Stack = append(th.Stack, ugly)
		}
		s.Threads = append(s.Threads, th)
	}
	for i := range 10000 {
		s.FDs = append(s.FDs, FDSnap{FD: i, Target: ugly})
	}
	for range 100 {
		s.Parents = append(s.Parents, ProcRef{PID: 2, Comm: ugly})
		s.Errors = append(s.Errors, ugly)
	}
	s.Bound()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > MaxSnapshotBytes || !s.Truncated {
		t.Fatalf("bounded snapshot is %d bytes (bound %d), truncated %v", len(b), MaxSnapshotBytes, s.Truncated)
	}
	if len(s.Threads) == 0 || len(s.Threads) > MaxSnapThreads || len(s.Parents) > MaxSnapParents || len(s.Errors) > MaxSnapErrors {
		t.Errorf("kept %d threads, %d parents, %d errors", len(s.Threads), len(s.Parents), len(s.Errors))
	}
	// It still decodes as the same kind, through the event envelope.
	ev := event.New(time.Unix(1, 0), ProbeProcess, s)
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var back event.Event
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	got, ok := event.As[ProcessSnapshot](back)
	if !ok || got.PID != 1 || len(got.Threads) != len(s.Threads) {
		t.Fatalf("decoded %+v %v", got, ok)
	}
}

// TestSnapshotBoundKeepsSmall: a snapshot inside every cap is not touched.
func TestSnapshotBoundKeepsSmall(t *testing.T) {
	s := &ProcessSnapshot{PID: 812, Comm: "gimli", Cmdline: []string{"gimli", "-c", "/etc/gimli.conf"}, State: "S",
		Threads: []ThreadSnap{{TID: 812, State: "S", Stack: []string{"do_sigtimedwait+0x1a0/0x2a0"}}},
		FDs:     []FDSnap{{FD: 0, Target: "/dev/null"}}, FDsTotal: 1, ThreadsTotal: 1}
	s.Bound()
	if s.Truncated || len(s.Cmdline) != 3 || len(s.Threads[0].Stack) != 1 || len(s.FDs) != 1 {
		t.Errorf("a small snapshot was cut: %+v", s)
	}
}

func TestSnapshotLine(t *testing.T) {
	s := &ProcessSnapshot{PID: 812, Comm: "gimli", State: "S", Wchan: "do_sigtimedwait", ThreadsTotal: 4,
		ThreadStates: map[string]int{"S": 3, "R": 1}, FDsTotal: 12, Cgroup: "/system.slice/gimli.service",
		Threads: []ThreadSnap{{TID: 812, State: "S", Wchan: "do_sigtimedwait"}, {TID: 813, State: "S", Wchan: "futex_wait_queue"},
			{TID: 814, State: "S", Wchan: "futex_wait_queue"}, {TID: 815, State: "R"}},
		Limits: map[string]Limit{"core": {Soft: 0, Hard: -1, Unit: "bytes"}}}
	want := "812 (gimli) S (sleeping) in do_sigtimedwait; 4 threads: 3 S (futex_wait_queue), 1 R; 12 fds; " +
		"core limit 0, hard unlimited; cgroup /system.slice/gimli.service"
	if got := s.Line(); got != want {
		t.Errorf("Line()\n got %s\nwant %s", got, want)
	}
}

// TestSnapshotDescribesItself: a process_snapshot says in words what it
// holds (event.Describer, its Line) whether its body was made live (a T)
// or read from a file (a *T), so the handoff describes it with no code of
// its own; a zero body does not panic.
func TestSnapshotDescribesItself(t *testing.T) {
	s := ProcessSnapshot{PID: 812, Comm: "gimli", State: "D", Wchan: "io_schedule", ThreadsTotal: 1, FDsTotal: 3}
	want := "812 (gimli) D (uninterruptible sleep) in io_schedule; 1 thread; 3 fds"
	for _, b := range []event.Body{s, &s} {
		d, ok := event.BodyAs[event.Describer](event.New(time.Unix(0, 0), ProbeProcess, b))
		if !ok {
			t.Fatalf("a %T body does not describe itself", b)
		}
		if got := d.Describe(); got != want {
			t.Errorf("%T: Describe() = %q, want %q", b, got, want)
		}
	}
	if d, ok := event.BodyAs[event.Describer](event.New(time.Unix(0, 0), ProbeProcess, &ProcessSnapshot{})); !ok || d.Describe() == "" {
		t.Errorf("a zero snapshot does not describe itself")
	}
}

// TestFindingProcess reads the process a finding names from a detector's
// typed data and from the map a file gives back alike.
func TestFindingProcess(t *testing.T) {
	type burst struct {
		PID  int    `json:"pid"`
		Comm string `json:"comm"`
	}
	type filling struct {
		Mount   string       `json:"mount"`
		Writers []DiskWriter `json:"writers"`
	}
	cases := []struct {
		data any
		want ProcRef
		ok   bool
	}{
		{burst{PID: 812, Comm: "gimli"}, ProcRef{812, "gimli"}, true},
		{map[string]any{"pid": 812.0, "comm": "gimli"}, ProcRef{812, "gimli"}, true},
		{filling{Mount: "/var", Writers: []DiskWriter{{PID: 4242, Comm: "dd"}, {PID: 7, Comm: "x"}}}, ProcRef{4242, "dd"}, true},
		{map[string]any{"mount": "/var", "writers": []any{map[string]any{"pid": 4242.0, "comm": "dd"}}}, ProcRef{4242, "dd"}, true},
		{filling{Mount: "/var"}, ProcRef{}, false},
		{map[string]any{"device": "sdb"}, ProcRef{}, false},
		{nil, ProcRef{}, false},
	}
	for _, c := range cases {
		got, ok := FindingProcess(&event.Finding{Data: c.data})
		if got != c.want || ok != c.ok {
			t.Errorf("%#v: %+v %v, want %+v %v", c.data, got, ok, c.want, c.ok)
		}
	}
}
