package event

import (
	"slices"
	"testing"
	"time"
)

func condEv(s int, key, state string, sev Severity, count int, summary string) Event {
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	f := &Finding{Finding: "x.y", Key: key, State: state, Severity: sev, Count: count, Summary: summary}
	if state != "" {
		f.Since = t0
	}
	return New(t0.Add(time.Duration(s)*time.Second), "p", f)
}

func TestConditionsFoldUpdatesAndClears(t *testing.T) {
	var s Conditions
	evs := []Event{
		condEv(0, "a", "", Warn, 0, "a raised"),
		condEv(1, "", "", Info, 0, "keyless one"),
		condEv(2, "", "", Info, 0, "keyless two"),
		condEv(60, "a", FindingUpdate, Critical, 61, "a worse"),
		condEv(70, "a", FindingUpdate, Warn, 71, "a eased"),
		condEv(80, "a", FindingCleared, Warn, 75, "a over"),
		condEv(90, "a", "", Warn, 0, "a again"),
		// An update whose raise came before what was read.
		condEv(95, "b", FindingUpdate, Warn, 9, "b mid-way"),
		condEv(99, "q", "", Info, 0, "not a finding below"),
	}
	evs = append(evs, New(evs[0].Time, "note", NewNote("me", "hi")))
	started := 0
	for _, ev := range evs {
		if _, ok := s.Add(ev); ok {
			started++
		}
	}
	list := s.List()
	var sums []string
	for _, c := range list {
		sums = append(sums, c.Finding().Summary)
	}
	if want := []string{"a over", "keyless one", "keyless two", "a again", "b mid-way", "not a finding below"}; !slices.Equal(sums, want) || started != len(want) {
		t.Fatalf("conditions %q (%d started)", sums, started)
	}
	a := list[0]
	if !a.Cleared() || a.Worst != Critical || a.Count() != 75 || !a.Since().Equal(evs[0].Time) || a.Events != 4 {
		t.Errorf("a: cleared %v worst %v count %d since %v events %d", a.Cleared(), a.Worst, a.Count(), a.Since(), a.Events)
	}
	el := a.Event()
	f, _ := As[Finding](el)
	if !el.Time.Equal(evs[5].Time) || f.Severity != Critical || f.State != FindingCleared || f.Count != 75 || f.Summary != "a over" {
		t.Errorf("element %+v %+v", el, f)
	}
	// The source event is not changed by making the element.
	if src, _ := As[Finding](evs[5]); src.Severity != Warn {
		t.Error("element changed its source")
	}
	if b := list[4]; !b.Since().Equal(evs[0].Time) || b.Count() != 9 {
		t.Errorf("b: since %v count %d", b.Since(), b.Count())
	}
	if k := list[1]; k.Count() != 1 || k.Cleared() || !k.Since().Equal(evs[1].Time) {
		t.Errorf("keyless: %+v", k)
	}
	// Worst first, then earliest raised (b was raised at t0, before it was read).
	sorted := slices.Clone(list)
	slices.SortStableFunc(sorted, CompareConditions)
	sums = sums[:0]
	for _, c := range sorted {
		sums = append(sums, c.Finding().Summary)
	}
	if want := []string{"a over", "b mid-way", "a again", "keyless one", "keyless two", "not a finding below"}; !slices.Equal(sums, want) {
		t.Errorf("sorted %q", sums)
	}
}

func TestConditionsMaxCountsOmittedConditions(t *testing.T) {
	s := Conditions{Max: 1}
	s.Add(condEv(0, "a", "", Warn, 0, ""))
	s.Add(condEv(1, "b", "", Warn, 0, ""))
	s.Add(condEv(2, "b", FindingUpdate, Warn, 2, ""))
	s.Add(condEv(3, "a", FindingUpdate, Warn, 2, "a grew"))
	if s.Len() != 1 || s.Omitted != 1 || s.List()[0].Finding().Summary != "a grew" {
		t.Errorf("len %d omitted %d", s.Len(), s.Omitted)
	}
}

// TestConditionsPerHost: the same key raised on two hosts is two
// conditions; one host's clear ends only its own, and a condition's event
// names its host.
func TestConditionsPerHost(t *testing.T) {
	on := func(host string, ev Event) Event { ev.Host = host; return ev }
	var s Conditions
	for _, ev := range []Event{
		on("r1", condEv(0, "gap eth0 2", "", Warn, 0, "r1 gap")),
		on("r2", condEv(1, "gap eth0 2", "", Warn, 0, "r2 gap")),
		on("r1", condEv(5, "gap eth0 2", FindingCleared, Warn, 1, "r1 over")),
		on("r2", condEv(6, "gap eth0 2", FindingUpdate, Critical, 2, "r2 worse")),
	} {
		s.Add(ev)
	}
	if s.Len() != 2 {
		t.Fatalf("%d conditions, want one per host", s.Len())
	}
	r1, r2 := s.List()[0].Event(), s.List()[1].Event()
	f1, _ := As[Finding](r1)
	f2, _ := As[Finding](r2)
	if r1.Host != "r1" || f1.Summary != "r1 over" || r2.Host != "r2" || f2.Summary != "r2 worse" || f2.Severity != Critical {
		t.Fatalf("r1: %s %q; r2: %s %q %v", r1.Host, f1.Summary, r2.Host, f2.Summary, f2.Severity)
	}
}
