package handoff

import (
	"strings"
	"testing"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// TestProcessSnapshotIsEvidence: the process_snapshot stakeout took of
// gimli 120 ms after its burst is the burst's second table of evidence, in
// Markdown and HTML, with its kernel stack as functions; no other finding
// gets it, and the snapshot makes no probe section or chart of its own.
func TestProcessSnapshotIsEvidence(t *testing.T) {
	path := writeFixture(t, plain)
	snap := &schema.ProcessSnapshot{PID: 812, Comm: "gimli", State: "S", Wchan: "do_sigtimedwait", ThreadsTotal: 1,
		FDsTotal: 5, Finding: "signal.burst 812 SIGHUP", Limits: map[string]schema.Limit{"core": {Soft: 0, Hard: -1}},
		Threads: []schema.ThreadSnap{{TID: 812, State: "S", Wchan: "do_sigtimedwait",
			Stack: []string{"do_sigtimedwait+0x1a0/0x2a0", "__x64_sys_rt_sigtimedwait+0x6d/0xe0", "do_syscall_64+0x71/0x290"}}}}
	if err := sessions.AppendEvents(path, event.New(at(20_120), schema.ProbeProcess, snap)); err != nil {
		t.Fatal(err)
	}
	rep := build(t, path, Options{})
	for _, f := range rep.Findings {
		if f.Name != "signal.burst" && len(f.Process.Rows) > 0 {
			t.Errorf("%s has process evidence %+v", f.Name, f.Process.Rows)
		}
	}
	f := finding(t, rep, "signal.burst")
	if len(f.Process.Rows) != 1 {
		t.Fatalf("burst's process evidence %+v", f.Process)
	}
	r := f.Process.Rows[0]
	wantStack := "do_sigtimedwait ← __x64_sys_rt_sigtimedwait ← do_syscall_64"
	if !r.Time.Equal(at(20_120)) || r.Cells[0] != snap.Line() || r.Cells[1] != wantStack {
		t.Errorf("row %v %q", r.Time, r.Cells)
	}
	title := "process 812 (gimli) as /proc showed it"
	if f.Process.Title != title {
		t.Errorf("title %q", f.Process.Title)
	}
	md := markdown(t, rep)
	burst := md[strings.Index(md, "signal.burst ·"):]
	burst = burst[:strings.Index(burst[1:], "\n### ")+1]
	if !strings.Contains(burst, "Evidence: signals to pid 812") || !strings.Contains(burst, "Evidence: "+title) ||
		!strings.Contains(burst, mdText(wantStack)) || strings.Index(burst, "signals to pid 812") > strings.Index(burst, title) {
		t.Errorf("the burst's Markdown lacks its process table after its signals:\n%s", burst)
	}
	if strings.Count(md, title) != 1 {
		t.Errorf("process table appears %d times", strings.Count(md, title))
	}
	if h := html(t, rep); !strings.Contains(h, "Evidence: "+title) || !strings.Contains(h, "do_sigtimedwait ← __x64_sys_rt_sigtimedwait") {
		t.Error("the HTML page lacks the process table")
	}
	for _, p := range rep.Summaries {
		if p.Name == schema.ProbeProcess {
			t.Errorf("a probe section for the snapshots: %+v", p)
		}
	}
}

// TestProcessSnapshotDescribed: a process_snapshot in an evidence row is
// the line it describes itself with (event.Describer), from the file (a
// *T) or made live (a T), not its fields as key=value pairs; the handoff
// has no code of its own for the kind.
func TestProcessSnapshotDescribed(t *testing.T) {
	s := schema.ProcessSnapshot{PID: 812, Comm: "gimli", State: "S", Wchan: "do_sigtimedwait", ThreadsTotal: 1, FDsTotal: 5,
		Cmdline: []string{"gimli", "--serve"}}
	for _, b := range []event.Body{&s, s} {
		got := describe(event.New(at(0), schema.ProbeProcess, b))
		if want := s.Line(); got != want {
			t.Errorf("%T described as %q, want %q", b, got, want)
		}
	}
}
