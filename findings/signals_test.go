package findings

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// sigAt is a signal to pid at t0+ms, sent by sender (0: the kernel).
func sigAt(msAt float64, pid int, sig string, sender int) event.Event {
	s := &schema.Signal{PID: pid, TID: pid, Comm: "gimli", Signal: sig, Code: "SI_USER", SenderPID: sender}
	if sender != 0 {
		s.SenderComm = "logrotate"
	} else {
		s.Code = "SI_KERNEL"
	}
	return event.New(t0.Add(time.Duration(msAt*float64(time.Millisecond))), "signals", s)
}

func bodyAt(msAt float64, b event.Body) event.Event {
	return event.New(t0.Add(time.Duration(msAt*float64(time.Millisecond))), "signals", b)
}

func sigFindings(evs []event.Event) []*event.Finding {
	var out []*event.Finding
	for _, ev := range Run([]Detector{NewSignals(SignalThresholds{})}, evs) {
		f, _ := event.As[event.Finding](ev)
		out = append(out, f)
	}
	return out
}

func named(fs []*event.Finding, name string) []*event.Finding {
	var out []*event.Finding
	for _, f := range fs {
		if f.Finding == name {
			out = append(out, f)
		}
	}
	return out
}

// The story: logrotate's two HUPs 3 ms apart.
func TestSignalBurstTwoHUPs(t *testing.T) {
	fs := sigFindings([]event.Event{sigAt(0, 812, "SIGHUP", 4410), sigAt(3, 812, "SIGHUP", 4410), sigAt(5000, 812, "SIGUSR1", 1)})
	if len(fs) != 1 {
		t.Fatalf("want one finding, got %+v", fs)
	}
	want := SignalBurstData{PID: 812, Comm: "gimli", Signal: "SIGHUP", Count: 2, WindowMs: 100, SpanMs: 3,
		GapsMs: []float64{3}, Senders: []BurstSender{{PID: 4410, Comm: "logrotate", Count: 2}}}
	if fs[0].Finding != "signal.burst" || fs[0].Severity != event.Warn || !reflect.DeepEqual(fs[0].Data, want) {
		t.Errorf("got %+v %+v", fs[0], fs[0].Data)
	}
	if fs[0].Summary != "2× SIGHUP to 812 (gimli) within 3 ms, from 4410 (logrotate)" {
		t.Errorf("summary %q", fs[0].Summary)
	}
	b, _ := json.Marshal(fs[0].Data)
	for _, k := range []string{`"count":2`, `"window_ms":100`, `"gaps_ms":[3]`, `"senders":[{"pid":4410`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON lacks %s: %s", k, b)
		}
	}
}

func TestSignalBurstRules(t *testing.T) {
	// 150 ms apart: no burst. Different signals or processes: no burst.
	if fs := sigFindings([]event.Event{sigAt(0, 1, "SIGHUP", 9), sigAt(150, 1, "SIGHUP", 9)}); len(fs) != 0 {
		t.Errorf("150 ms apart: %+v", fs[0])
	}
	if fs := sigFindings([]event.Event{sigAt(0, 1, "SIGHUP", 9), sigAt(1, 1, "SIGTERM", 9), sigAt(2, 2, "SIGHUP", 9)}); len(fs) != 0 {
		t.Errorf("unrelated: %+v", fs[0])
	}
	// Children ending together, or Go preempting itself, are not bursts.
	if fs := sigFindings([]event.Event{sigAt(0, 1, "SIGCHLD", 0), sigAt(1, 1, "SIGCHLD", 0), sigAt(2, 1, "SIGURG", 1), sigAt(3, 1, "SIGURG", 1)}); len(fs) != 0 {
		t.Errorf("SIGCHLD/SIGURG: %+v", fs[0])
	}
	// A custom window of 200 ms makes 150 ms a burst.
	fs := Run([]Detector{NewSignals(SignalThresholds{BurstWindow: 200 * time.Millisecond})},
		[]event.Event{sigAt(0, 1, "SIGHUP", 9), sigAt(150, 1, "SIGHUP", 9)})
	if len(fs) != 1 {
		t.Errorf("--burst-window 200ms: %d findings", len(fs))
	}
	// Four in 30 ms: reported at the second, then once more when it ends.
	got := sigFindings([]event.Event{sigAt(0, 1, "SIGHUP", 9), sigAt(10, 1, "SIGHUP", 8), sigAt(20, 1, "SIGHUP", 9),
		sigAt(30, 1, "SIGHUP", 9), sigAt(1000, 2, "SIGUSR1", 9)})
	if len(got) != 2 || got[1].Data.(SignalBurstData).Count != 4 {
		t.Fatalf("want count 2 then 4: %+v", got)
	}
	d := got[1].Data.(SignalBurstData)
	if !reflect.DeepEqual(d.GapsMs, []float64{10, 10, 10}) || len(d.Senders) != 2 || d.Senders[0].Count != 3 || d.SpanMs != 30 {
		t.Errorf("final burst %+v", d)
	}
}

func TestSignalStorm(t *testing.T) {
	var evs []event.Event
	for i := 0; i < 1000; i++ { // a 1 kHz heartbeat for a second
		evs = append(evs, sigAt(float64(i), 7, "SIGUSR1", 9))
	}
	fs := sigFindings(evs)
	storms := named(fs, "signal.storm")
	if len(storms) != 1 {
		t.Fatalf("storms %+v", storms)
	}
	if d := storms[0].Data.(SignalStormData); d.Count != 100 || d.RatePerS < 1000 || d.RatePerS > 1020 {
		t.Errorf("storm %+v", d)
	}
	if b := named(fs, "signal.burst"); len(b) != 1 {
		t.Errorf("a storm is one burst finding at its start, got %d", len(b))
	}
	// Go's own preemption signals are not a storm.
	evs = nil
	for i := 0; i < 500; i++ {
		evs = append(evs, sigAt(float64(i), 7, "SIGURG", 7))
	}
	if s := named(sigFindings(evs), "signal.storm"); len(s) != 0 {
		t.Errorf("SIGURG self-preemption storm: %+v", s)
	}
	// 10/s SIGCHLD from a shell loop is normal.
	evs = nil
	for i := 0; i < 100; i++ {
		evs = append(evs, sigAt(float64(i*100), 7, "SIGCHLD", 0))
	}
	if fs := sigFindings(evs); len(fs) != 0 {
		t.Errorf("shell loop: %+v", fs[0])
	}
}

func TestSignalExecRace(t *testing.T) {
	exec := &schema.Exec{PID: 812, OldComm: "gimli", Comm: "gimli", Filename: "/usr/sbin/gimli"}
	// A HUP 3 ms after the re-exec.
	fs := named(sigFindings([]event.Event{sigAt(0, 812, "SIGHUP", 4410), bodyAt(1, exec), sigAt(4, 812, "SIGHUP", 4410)}), "signal.exec_race")
	if len(fs) != 1 || fs[0].Severity != event.Critical {
		t.Fatalf("after exec: %+v", fs)
	}
	d := fs[0].Data.(ExecRaceData)
	if d.MsAfterExec == nil || *d.MsAfterExec != 3 || d.When != "3 ms after exec" || d.SenderPID != 4410 {
		t.Errorf("data %+v", d)
	}
	if fs[0].Summary != "SIGHUP reached 812 (gimli) 3 ms after exec, sent by 4410 (logrotate)" {
		t.Errorf("summary %q", fs[0].Summary)
	}
	// 60 ms after exec is fine; SIGCHLD and self-sent signals never race.
	if fs := sigFindings([]event.Event{bodyAt(0, exec), sigAt(60, 812, "SIGHUP", 1)}); len(fs) != 0 {
		t.Errorf("60 ms: %+v", fs[0])
	}
	if fs := sigFindings([]event.Event{bodyAt(0, exec), sigAt(1, 812, "SIGCHLD", 0), sigAt(2, 812, "SIGURG", 812)}); len(fs) != 0 {
		t.Errorf("own signals: %+v", fs[0])
	}
	// A child between fork and exec, and its parent meanwhile.
	fork := &schema.Fork{PID: 812, Comm: "gimli", ChildPID: 901, How: "fork"}
	fs = named(sigFindings([]event.Event{bodyAt(0, fork), sigAt(2, 901, "SIGHUP", 4410), sigAt(3, 812, "SIGHUP", 4410)}), "signal.exec_race")
	if len(fs) != 2 || fs[0].Data.(ExecRaceData).When != "between fork and exec" ||
		fs[1].Data.(ExecRaceData).When != "while child 901 was between fork and exec" || fs[1].Data.(ExecRaceData).ChildPID != 901 {
		t.Fatalf("fork: %+v", fs)
	}
	// After the child's exec (and 50 ms), neither is racing any more.
	childExec := &schema.Exec{PID: 901, OldComm: "gimli", Comm: "gimli"}
	if fs := sigFindings([]event.Event{bodyAt(0, fork), bodyAt(5, childExec), sigAt(70, 901, "SIGHUP", 1), sigAt(71, 812, "SIGTERM", 1)}); len(fs) != 0 {
		t.Errorf("after exec: %+v", fs[0])
	}
	// A pre-fork worker a minute later is not between fork and exec.
	if fs := sigFindings([]event.Event{bodyAt(0, fork), sigAt(60000, 901, "SIGHUP", 1)}); len(fs) != 0 {
		t.Errorf("worker: %+v", fs[0])
	}
}

func TestProcessKilled(t *testing.T) {
	fs := sigFindings([]event.Event{
		sigAt(0, 5, "SIGTERM", 4410),
		bodyAt(1, &schema.Exit{PID: 5, Comm: "gimli", Status: "killed by SIGTERM", Signal: "SIGTERM"}),
		bodyAt(2, &schema.Exit{PID: 6, Comm: "worker", Status: "killed by SIGKILL", Signal: "SIGKILL"}),
		bodyAt(3, &schema.Exit{PID: 7, Comm: "ok", Status: "exited 0"}),
	})
	if len(fs) != 2 {
		t.Fatalf("%+v", fs)
	}
	if d := fs[0].Data.(ProcessKilledData); d.SenderPID != 4410 || d.Signal != "SIGTERM" {
		t.Errorf("%+v", d)
	}
	if !strings.Contains(fs[1].Summary, "6 (worker) killed by SIGKILL; ptrace cannot see SIGKILL") {
		t.Errorf("summary %q", fs[1].Summary)
	}
}

func TestSignalsDetectorIsBounded(t *testing.T) {
	d := NewSignals(SignalThresholds{}).(*signals)
	for i := 0; i < maxSignalProcs+500; i++ {
		d.Observe(sigAt(float64(i), i+1, "SIGHUP", 1))
		d.Observe(sigAt(float64(i), i+1, fmt.Sprintf("SIG%d", i%200), 1))
	}
	if len(d.procs) > maxSignalProcs {
		t.Fatalf("%d processes kept", len(d.procs))
	}
	d.Observe(sigAt(1e7, 1, "SIGHUP", 1))
	runs := 0
	for _, p := range d.procs {
		runs += len(p.runs)
	}
	if runs > 2 {
		t.Errorf("%d quiet runs kept after a long silence", runs)
	}
}

// Forty seconds of a busy host as --signals host recorded it before the
// fix: Go programs preempting themselves (SIGURG, including stakeout's own,
// some to threads whose process could not be looked up), a timer's SIGALRM
// that named whichever task it interrupted as the sender, children ending
// together; and one real burst, two SIGHUPs from a shell. Only that burst
// is a finding, and it says who the shell is.
func TestSignalBurstOnlyFromAnotherProcess(t *testing.T) {
	sig := func(ms float64, pid int, name, code string, sender int, comm string) event.Event {
		return event.New(t0.Add(time.Duration(ms*float64(time.Millisecond))), "signals",
			&schema.Signal{PID: pid, TID: pid, Comm: "x", Signal: name, Code: code, SenderPID: sender, SenderComm: comm, Source: "tracefs"})
	}
	var evs []event.Event
	for ms := 0.0; ms < 40000; ms += 10 {
		for pid := 2000; pid < 2005; pid++ {
			evs = append(evs, sig(ms, pid, "SIGURG", "SI_TKILL", pid, "go"))
		}
		evs = append(evs, sig(ms+1, 3005, "SIGURG", "SI_TKILL", 3000, "stakeout")) // a thread's tid, looked up too late
		// A 20 Hz timer; a shell loop's children.
		if int(ms)%50 == 0 {
			evs = append(evs, sig(ms+2, 2100, "SIGALRM", "SI_KERNEL", 2001, "go"))
			evs = append(evs, sig(ms+3, 2200, "SIGCHLD", "CLD_EXITED", 2201, "sh"))
		}
	}
	hup := &schema.Signal{PID: 812, TID: 812, Comm: "gimli", Signal: "SIGHUP", Code: "SI_USER", SenderPID: 4410, SenderComm: "sh",
		SenderPPID: 4400, SenderParentComm: "bash", SenderCgroup: "/user.slice/user-0.slice/session-3.scope",
		SenderUnit: "session-3.scope", SenderTTY: "pts/0", Source: "tracefs"}
	evs = append(evs, bodyAt(10000.5, hup), bodyAt(10003.5, hup))
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })

	fs := sigFindings(evs)
	if len(fs) != 1 || fs[0].Finding != FindingSignalBurst {
		for _, f := range fs[:min(len(fs), 5)] {
			t.Logf("%s: %s", f.Finding, f.Summary)
		}
		t.Fatalf("%d findings, want the one SIGHUP burst", len(fs))
	}
	want := "2× SIGHUP to 812 (gimli) within 3 ms, from 4410 (sh; parent 4400 (bash), unit session-3.scope, tty pts/0)"
	if fs[0].Summary != want {
		t.Errorf("summary %q\nwant    %q", fs[0].Summary, want)
	}
	d := fs[0].Data.(SignalBurstData)
	wantSender := BurstSender{PID: 4410, Comm: "sh", Count: 2, PPID: 4400, ParentComm: "bash",
		Cgroup: "/user.slice/user-0.slice/session-3.scope", Unit: "session-3.scope", TTY: "pts/0"}
	if len(d.Senders) != 1 || d.Senders[0] != wantSender {
		t.Errorf("senders %+v", d.Senders)
	}
	b, _ := json.Marshal(d.Senders[0])
	if string(b) != `{"pid":4410,"comm":"sh","count":2,"ppid":4400,"parent_comm":"bash","cgroup":"/user.slice/user-0.slice/session-3.scope","unit":"session-3.scope","tty":"pts/0"}` {
		t.Errorf("sender JSON %s", b)
	}

	// A process signalling itself is not a burst either; a cgroup with no
	// unit is named as such.
	if fs := sigFindings([]event.Event{sigAt(0, 9, "SIGHUP", 9), sigAt(1, 9, "SIGHUP", 9)}); len(fs) != 0 {
		t.Errorf("self-sent: %s", fs[0].Summary)
	}
	s := BurstSender{PID: 7, Comm: "kill", Cgroup: "/mygroup"}
	if got := senderText(s); got != "7 (kill; cgroup /mygroup)" {
		t.Errorf("senderText %q", got)
	}
}

// A supervisor that ends, as --signals host saw it: its child was started
// with Pdeathsig SIGKILL, and each of its exiting threads sent the child
// the SIGKILL again (a thread id each, as the thread was gone before it
// could be looked up). The kernel delivered the first and dropped the
// rest: the child was already dying. That is one SIGKILL, not a burst;
// the same signals delivered would be one. A signal the process ignores
// is no part of a storm either.
func TestDroppedSignalsAreNoBurst(t *testing.T) {
	kill := func(ms float64, sender int, result string) event.Event {
		return bodyAt(ms, &schema.Signal{PID: 11711, TID: 11711, Comm: "sleep", Signal: "SIGKILL", Code: "SI_USER",
			SenderPID: sender, SenderComm: "supervisor", Source: "tracefs", Result: result})
	}
	evs := []event.Event{kill(0, 11697, "delivered")}
	for i := range 7 {
		evs = append(evs, kill(0.1+float64(i)*0.7, 11698+i, schema.SignalIgnored))
	}
	if fs := sigFindings(evs); len(fs) != 0 {
		t.Errorf("SIGKILLs the kernel dropped: %s", fs[0].Summary)
	}
	for i := range evs {
		b := *evs[i].Body.(*schema.Signal)
		b.Result = "delivered"
		evs[i].Body = &b
	}
	if fs := named(sigFindings(evs), FindingSignalBurst); len(fs) != 1 || fs[0].Data.(SignalBurstData).Count != 2 {
		t.Errorf("the same SIGKILLs delivered: %+v, want one burst", fs)
	}

	evs = nil
	for i := range 500 {
		evs = append(evs, bodyAt(float64(i), &schema.Signal{PID: 7, TID: 7, Comm: "nohup'd", Signal: "SIGHUP", Code: "SI_USER",
			SenderPID: 9, SenderComm: "loop", Source: "tracefs", Result: schema.SignalIgnored}))
	}
	if fs := sigFindings(evs); len(fs) != 0 {
		t.Errorf("500 ignored SIGHUPs: %s", fs[0].Summary)
	}
}

// What a busy host sends its processes by itself is no storm: a script
// running 150 short commands back to back (its shell gets a SIGCHLD per
// command, about 500 a second here), a tracer told of each stop of its
// tracees, a profiled program's SIGPROF ticks on two busy threads. The
// same rate of a signal sent by another process is one.
func TestKernelSignalsAreNoStorm(t *testing.T) {
	kernel := func(ms float64, pid int, sig, code string) event.Event {
		return bodyAt(ms, &schema.Signal{PID: pid, TID: pid, Comm: "sh", Signal: sig, Code: code, Source: "tracefs", Result: "delivered"})
	}
	var evs []event.Event
	for i := range 150 {
		evs = append(evs, kernel(float64(i)*2, 11384, "SIGCHLD", "CLD_EXITED"))
		evs = append(evs, kernel(float64(i)*2+1, 22424, "SIGCHLD", "CLD_TRAPPED"))
	}
	for i := range 400 {
		evs = append(evs, kernel(float64(i)*2.5, 2300, "SIGPROF", "SI_TIMER"))
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	if fs := sigFindings(evs); len(fs) != 0 {
		t.Errorf("the kernel's own signals: %s", fs[0].Summary)
	}
	evs = nil
	for i := range 150 {
		evs = append(evs, sigAt(float64(i)*2, 11384, "SIGUSR1", 4410))
	}
	if fs := named(sigFindings(evs), FindingSignalStorm); len(fs) != 1 {
		t.Errorf("150 SIGUSR1 from another process in 300 ms: %d storms", len(fs))
	}
}

// A process attached from the signals pane while host mode follows the
// host: each signal to it is recorded sent (tracefs) and delivered
// (ptrace, a duplicate). One SIGHUP sent and delivered is one signal, not
// a burst, and a real burst counts each signal once.
func TestDeliveredDuplicatesCountOnce(t *testing.T) {
	sent := func(ms float64) event.Event {
		return bodyAt(ms, &schema.Signal{PID: 812, TID: 812, Comm: "gimli", Signal: "SIGHUP", Code: "SI_USER",
			SenderPID: 4410, SenderComm: "logrotate", Source: "tracefs", Result: "delivered"})
	}
	delivered := func(ms float64) event.Event {
		return bodyAt(ms, &schema.Signal{PID: 812, TID: 812, Comm: "gimli", Signal: "SIGHUP", Code: "SI_USER",
			SenderPID: 4410, SenderComm: "logrotate", Source: schema.SourcePtrace})
	}
	if fs := sigFindings([]event.Event{sent(0), delivered(0.2)}); len(fs) != 0 {
		t.Errorf("one SIGHUP, sent and delivered: %s", fs[0].Summary)
	}
	fs := named(sigFindings([]event.Event{sent(0), delivered(0.2), sent(3), delivered(3.2)}), FindingSignalBurst)
	if len(fs) != 1 || fs[0].Data.(SignalBurstData).Count != 2 {
		t.Errorf("two SIGHUPs, each sent and delivered: %+v, want one burst of 2", fs)
	}
}
