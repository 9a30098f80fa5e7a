package findings

import (
	"slices"
	"testing"

	"github.com/stakeout/stakeout/event"
)

// The same segfault line on two hosts is two conditions, one per host,
// each finding naming its host; on one host, a second identical line is
// still one condition (an update, not a second finding).
func TestDetectorsKeepOneStatePerHost(t *testing.T) {
	line := "haproxy[610]: segfault at 7fdb0426e000 ip 00007fdb0403305b sp 00007ffee5ff8988 error 4 in ld-musl-x86_64.so.1[7fdb03fe2000+87000]"
	local := kmsgAt(0, line)
	r1 := kmsgAt(0.5, line)
	r1.Host = "r1"
	again := kmsgAt(1, line)
	again.Host = "r1"
	out := Run(All(Config{}), []event.Event{local, r1, again})
	var raised []string
	for _, ev := range out {
		f, ok := event.As[event.Finding](ev)
		if !ok || f.Finding != FindingSegfault {
			continue
		}
		if f.State == "" {
			raised = append(raised, ev.Host)
		}
	}
	if !slices.Equal(raised, []string{"", "r1"}) {
		t.Fatalf("segfault raised on hosts %q, want once on the local host and once on r1 (%d events)", raised, len(out))
	}
}

type countingDetector struct{ seen *[]string }

func (countingDetector) Produces() []string { return []string{"test.count"} }
func (c countingDetector) Observe(ev event.Event) []event.Event {
	*c.seen = append(*c.seen, ev.Host)
	return []event.Event{event.New(ev.Time, "findings", &event.Finding{Finding: "test.count"})}
}
func (countingDetector) Finish() []event.Event {
	return []event.Event{event.New(kt0, "findings", &event.Finding{Finding: "test.count", State: event.FindingCleared})}
}

func TestPerHostMakesOneInstancePerHostAndStampsItsFindings(t *testing.T) {
	made := 0
	var seen []string
	p := newPerHost(func() Detector { made++; return countingDetector{&seen} })
	for _, h := range []string{"", "a", "a", "b", "", "b"} {
		ev := kmsgAt(0, "x")
		ev.Host = h
		for _, f := range p.Observe(ev) {
			if f.Host != h {
				t.Fatalf("finding for host %q stamped %q", h, f.Host)
			}
		}
	}
	if made != 3 || !slices.Equal(p.Hosts(), []string{"", "a", "b"}) {
		t.Fatalf("%d instances for hosts %q", made, p.Hosts())
	}
	var fin []string
	for _, f := range p.Finish() {
		fin = append(fin, f.Host)
	}
	if !slices.Equal(fin, []string{"", "a", "b"}) {
		t.Fatalf("Finish closed hosts %q", fin)
	}
}
