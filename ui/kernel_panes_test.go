package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/schema"
)

// kernelSession is both incident stories on one host: `iptables -t nat -L`
// loads nf_conntrack, the table fills and drops, and haproxy segfaults
// where apport, the core_pattern pipe, is missing.
func kernelSession() []event.Event {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	var seq uint64 = 900
	kmsg := func(s, prio int, text string) event.Event {
		seq++
		return event.New(at(s), "kmsg", &schema.Kmsg{Level: "info", Priority: prio, Facility: "kern", Seq: seq, Text: text})
	}
	no := false
	evs := []event.Event{
		event.New(t0, "kmsg", &event.ProbeStatus{Status: event.StatusOK}),
		event.New(t0, "conntrack", &event.ProbeStatus{Status: event.StatusOK}),
		event.New(t0, "modules", &event.ProbeStatus{Status: event.StatusOK}),
		event.New(t0, "coredump", &event.ProbeStatus{Status: event.StatusOK}),
		event.New(t0, "modules", &schema.ModuleList{Count: 41}),
		event.New(t0, "coredump", &schema.CoreReadiness{CorePattern: "|/usr/share/apport/apport %p %s %c %d %P %E",
			PipeTarget: "/usr/share/apport/apport", PipeTargetExists: &no, SuidDumpable: 2, Watched: true,
			Processes: 1, ZeroLimit: 1, NoCore: []schema.CoreLimit{{PID: 610, Comm: "haproxy", Hard: -1}}}),
		kmsg(1, 6, "EXT4-fs (sda1): re-mounted. Opts: errors=remount-ro"),
		kmsg(3, 6, "ip_tables: (C) 2000-2006 Netfilter Core Team"),
		event.New(at(3), "modules", &schema.ModuleLoad{Module: schema.Module{Module: "x_tables", Size: 29846, UsedBy: []string{"ip_tables"}}}),
		event.New(at(3), "modules", &schema.ModuleLoad{Module: schema.Module{Module: "ip_tables", Size: 27473}}),
		kmsg(5, 6, "nf_conntrack version 0.5.0 (16384 buckets, 65536 max)"),
		event.New(at(5), "modules", &schema.ModuleLoad{Module: schema.Module{Module: "nf_conntrack", Size: 81926, UsedBy: []string{"iptable_nat", "nf_nat"}}}),
	}
	for s := 5; s <= 20; s++ {
		c := schema.ConntrackSample{Count: uint64(20000 + (s-5)*3000), Max: 65536, IntervalS: 1}
		if s >= 19 {
			c.Drop = 120
		}
		evs = append(evs, event.New(at(s), "conntrack", &c))
	}
	evs = append(evs,
		kmsg(19, 4, "nf_conntrack: table full, dropping packet"),
		kmsg(20, 6, "haproxy[610]: segfault at 7fdb0426e000 ip 00007fdb0403305b sp 00007ffee5ff8988 error 4 in ld-musl-x86_64.so.1[7fdb03fe2000+87000]"),
		kmsg(20, 3, "evil\x1b]0;pwned\x07 name"),
	)
	return evs
}

func TestGoldenKernel(t *testing.T) {
	o := testOptions()
	o.Probes = []string{"kmsg", "conntrack", "modules", "coredump"}
	o.Now = func() time.Time { return t0.Add(21 * time.Second) }
	evs := kernelSession()
	// The findings strip shows what the detectors make of the same events.
	evs = append(evs, findings.Run(findings.All(findings.Config{}), evs)...)
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 80, Height: 24}, EventsMsg(evs))
	s := screen(t, m)
	for _, want := range []string{"SEGV", "haproxy[610]", "ld-musl-x86_64.so.1", "CT", "+ nf_conntrack (used by iptable_nat, nf_nat)",
		"cores lost: core_pattern pipes to /usr/share/apport/apport", "haproxy(610)", "99%"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
	if strings.Contains(s, "\x1b]0;") {
		t.Error("a host string reached the terminal unsanitized")
	}
	golden.RequireEqual(t, s)
}

// The modules probe as this build machine has it: unavailable, with its reason.
func TestModulesPaneUnavailableHere(t *testing.T) {
	o := testOptions()
	o.Probes = []string{"kmsg", "modules"}
	evs := []event.Event{event.New(t0, "modules", &event.ProbeStatus{Status: event.StatusUnavailable, Reason: modulesReason})}
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 80, Height: 24}, EventsMsg(evs))
	if s := screen(t, m); !strings.Contains(s, "no /proc/modules: this kernel has no loadable modules") {
		t.Errorf("screen:\n%s", s)
	}
}
