package handoff

import (
	"reflect"
	"testing"
	"time"

	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/sessions"
)

// The evidence of one finding, as the TUI asks for it when a finding is
// opened, is the evidence the handoff report lists for it: for each
// condition of the fixture (a disk saturated, a signal burst, a VRRP gap
// whose flow came back, a disk filling), read from its raise and its
// latest event as the replay's strip folds them.
func TestEvidenceOfOneFindingIsTheReports(t *testing.T) {
	path := writeFixture(t, plain)
	rep := build(t, path, Options{})
	r, err := sessions.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var conds event.Conditions
	err = engine.Replay(r.Iter(time.Time{}), findings.All(findings.ConfigOf(r.Header().Detectors)), func(ev event.Event) bool {
		if _, ok := event.As[event.Finding](ev); ok {
			conds.Add(ev)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range conds.List() {
		f := c.Finding()
		var want *Evidence
		for i, rf := range rep.Findings {
			if rf.Name == f.Finding && rf.Time.Equal(c.Since()) {
				want = &rep.Findings[i].Evidence
			}
		}
		if want == nil {
			continue // a host fact, listed apart
		}
		got, err := EvidenceOf(r, c.First, c.Last, nil)
		if err != nil {
			t.Fatalf("%s: %v", f.Finding, err)
		}
		if !reflect.DeepEqual(got, *want) {
			t.Errorf("%s: evidence\n%+v\nthe report's\n%+v", f.Finding, got, *want)
		}
		if len(got.Rows) == 0 {
			t.Errorf("%s: no evidence rows", f.Finding)
		}
		seen[f.Finding] = true
	}
	for _, name := range []string{findings.FindingIOSaturated, findings.FindingSignalBurst, findings.FindingPacketGap, findings.FindingDiskFilling} {
		if !seen[name] {
			t.Errorf("no %s in the fixture to compare: %v", name, seen)
		}
	}
	note := event.New(t0, event.ProbeNote, event.NewNote("a", "b"))
	if _, err := EvidenceOf(r, note, note, nil); err == nil {
		t.Error("a note's evidence: no error")
	}
}
