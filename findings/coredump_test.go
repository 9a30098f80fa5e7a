package findings

import (
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

func TestCoreDumpsLostInPlainWords(t *testing.T) {
	no := false
	r := schema.CoreReadiness{CorePattern: "|/usr/share/apport/apport %p %s %c %d %P %E", PipeTarget: "/usr/share/apport/apport",
		PipeTargetExists: &no, SuidDumpable: 2, Watched: true, Processes: 1, ZeroLimit: 1,
		NoCore: []schema.CoreLimit{{PID: 610, Comm: "haproxy", Soft: 0, Hard: -1}}}
	d := NewCoreDumpsLost()
	got := d.Observe(event.New(kt0, "coredump", &r))
	if len(got) != 2 {
		t.Fatalf("%d findings: %+v", len(got), got)
	}
	f0, _ := event.As[event.Finding](got[0])
	f1, _ := event.As[event.Finding](got[1])
	if d0 := f0.Data.(CoreDumpsLostData); d0.Reason != "core_pattern pipes to /usr/share/apport/apport, which does not exist on this host" ||
		d0.CorePattern != r.CorePattern || f0.Severity != event.Warn {
		t.Errorf("first %+v", f0)
	}
	if d1 := f1.Data.(CoreDumpsLostData); d1.Reason != "haproxy (pid 610) has a core size limit of 0 (apport honours it for piped cores)" ||
		len(d1.PIDs) != 1 || d1.PIDs[0] != 610 {
		t.Errorf("second %+v", f1)
	}
	// The same state again says nothing new.
	if got := d.Observe(event.New(kt0, "coredump", &r)); len(got) != 0 {
		t.Errorf("repeat: %+v", got)
	}
	// All processes, the build machine's default: context, not an alarm.
	all := schema.CoreReadiness{CorePattern: "core", SuidDumpable: 0, Processes: 40, ZeroLimit: 38,
		NoCore: []schema.CoreLimit{{PID: 1, Comm: "init"}}}
	got = NewCoreDumpsLost().Observe(event.New(kt0, "coredump", &all))
	if len(got) != 2 {
		t.Fatalf("%+v", got)
	}
	f0, _ = event.As[event.Finding](got[0])
	if f0.Severity != event.Info || f0.Data.(CoreDumpsLostData).Reason != "38 of 40 processes have a core size limit of 0, among them init (pid 1)" {
		t.Errorf("%+v", f0)
	}
}

// Issue 12: on a host where processes come and go, the readiness event came
// every 5 s with a new process count, and each count was a new finding (314
// in 65 minutes). The count is a figure: one condition, raised once.
func TestCoreDumpsLostOneConditionWhileCountsDrift(t *testing.T) {
	d := NewCoreDumpsLost()
	var raises, updates, clears int
	var last *event.Finding
	for i := range 65 * 12 {
		n := 26 + i%7
		r := schema.CoreReadiness{CorePattern: "core", SuidDumpable: 1, Processes: n, ZeroLimit: n,
			NoCore: []schema.CoreLimit{{PID: 1000 + i, Comm: "sh"}}}
		for _, ev := range d.Observe(event.New(kt0.Add(time.Duration(i)*5*time.Second), "coredump", &r)) {
			f, _ := event.As[event.Finding](ev)
			last = f
			switch f.State {
			case "":
				raises++
			case event.FindingUpdate:
				updates++
			case event.FindingCleared:
				clears++
			}
			if f.Key != "core.dumps_lost zero_limit" {
				t.Fatalf("key %q", f.Key)
			}
		}
	}
	// One raise, then a refresh a minute at most (65 minutes: 64 or 65).
	if raises != 1 || clears != 0 || updates < 60 || updates > 65 {
		t.Fatalf("%d raises, %d updates, %d clears", raises, updates, clears)
	}
	if last.Count != 65*12-(65*12-1)%12 || !last.Since.Equal(kt0) {
		t.Errorf("last update: count %d since %v", last.Count, last.Since)
	}
	// Fixed (limits raised): cleared. Broken again: a new finding.
	fixed := schema.CoreReadiness{CorePattern: "core", SuidDumpable: 1, Processes: 30}
	got := d.Observe(event.New(kt0.Add(2*time.Hour), "coredump", &fixed))
	if len(got) != 1 {
		t.Fatalf("fixed: %+v", got)
	}
	if f, _ := event.As[event.Finding](got[0]); f.State != event.FindingCleared || f.Count != 65*12 {
		t.Errorf("clear %+v", f)
	}
	broken := schema.CoreReadiness{CorePattern: "core", SuidDumpable: 1, Processes: 30, ZeroLimit: 3}
	got = d.Observe(event.New(kt0.Add(2*time.Hour+time.Minute), "coredump", &broken))
	if len(got) != 1 {
		t.Fatalf("broken again: %+v", got)
	}
	if f, _ := event.As[event.Finding](got[0]); f.State != "" {
		t.Errorf("broken again is not a raise: %+v", f)
	}
}

// A watched process's limit: which processes it names is material, so a
// second watched process with a limit of 0 is an update at once (within
// the 10 s rate limit), not a minute later.
func TestCoreDumpsLostWatchedProcessesAreMaterial(t *testing.T) {
	d := NewCoreDumpsLost()
	one := schema.CoreReadiness{CorePattern: "/var/core", SuidDumpable: 1, Watched: true, Processes: 1, ZeroLimit: 1,
		NoCore: []schema.CoreLimit{{PID: 610, Comm: "haproxy"}}}
	two := one
	two.Processes, two.ZeroLimit = 2, 2
	two.NoCore = []schema.CoreLimit{{PID: 610, Comm: "haproxy"}, {PID: 611, Comm: "haproxy"}}
	d.Observe(event.New(kt0, "coredump", &one))
	if got := d.Observe(event.New(kt0.Add(2*time.Second), "coredump", &two)); len(got) != 0 {
		t.Fatalf("within 10 s of the raise: %+v", got)
	}
	got := d.Observe(event.New(kt0.Add(12*time.Second), "coredump", &two))
	if len(got) != 1 {
		t.Fatalf("material change after 10 s: %+v", got)
	}
	if f, _ := event.As[event.Finding](got[0]); f.State != event.FindingUpdate || f.Count != 3 ||
		f.Summary != "core dumps would be lost: haproxy (pid 610), haproxy (pid 611) have a core size limit of 0" {
		t.Errorf("%+v", f)
	}
}
