package findings

import (
	"testing"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/probes"
)

func TestCoreDumpsLostInPlainWords(t *testing.T) {
	no := false
	r := probes.CoreReadiness{CorePattern: "|/usr/share/apport/apport %p %s %c %d %P %E", PipeTarget: "/usr/share/apport/apport",
		PipeTargetExists: &no, SuidDumpable: 2, Watched: true, Processes: 1, ZeroLimit: 1,
		NoCore: []probes.CoreLimit{{PID: 610, Comm: "haproxy", Soft: 0, Hard: -1}}}
	d := NewCoreDumpsLost()
	got := d.Observe(event.New(kt0, "coredump", &r))
	if len(got) != 2 {
		t.Fatalf("%d findings: %+v", len(got), got)
	}
	f0, _ := event.AsFinding(got[0])
	f1, _ := event.AsFinding(got[1])
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
	all := probes.CoreReadiness{CorePattern: "core", SuidDumpable: 0, Processes: 40, ZeroLimit: 38,
		NoCore: []probes.CoreLimit{{PID: 1, Comm: "init"}}}
	got = NewCoreDumpsLost().Observe(event.New(kt0, "coredump", &all))
	if len(got) != 2 {
		t.Fatalf("%+v", got)
	}
	f0, _ = event.AsFinding(got[0])
	if f0.Severity != event.Info || f0.Data.(CoreDumpsLostData).Reason != "38 of 40 processes have a core size limit of 0, among them init (pid 1)" {
		t.Errorf("%+v", f0)
	}
}
