package findings

import (
	"math"
	"time"

	"github.com/stakeout/stakeout/event"
)

// Each detector registers, next to the data types of its findings, what a
// finding is about and which events around it show it: its evidence rule.
// The handoff report reads those events back from the recording; how it
// lays them out is its own business.

// EvidenceSource says which events show a finding.
type EvidenceSource int

const (
	// EvidenceNearest: the events of the finding's own probe nearest it.
	EvidenceNearest EvidenceSource = iota
	// EvidenceSignals: the signals to About.PID (of Evidence.Signal only,
	// if set), and its forks, execs and exit.
	EvidenceSignals
	// EvidencePackets: the packets of the flow About.Flow on About.Iface.
	EvidencePackets
	// EvidenceIO: the iostat samples of About.Device.
	EvidenceIO
	// EvidenceDisk and EvidenceInodes: the diskfill samples of
	// About.Mount, its bytes or its inodes.
	EvidenceDisk
	EvidenceInodes
)

// About is what a finding is about, as far as its data names it: a
// process, a flow or host on an interface, a device, a mount, a module,
// a file. Fields it does not name are zero.
type About struct {
	PID    int
	Comm   string
	Iface  string
	Flow   string
	Host   string
	Device string
	Mount  string
	Module string
	File   string
}

// Evidence is a finding's evidence rule: the events of source Of, in the
// window from Before the finding's time to After it, of which the last
// KeepBefore at or before the finding's time and the first KeepAfter past
// it are kept. Spread, if set, thins those before it to Spread rows
// evenly apart (samples over minutes).
type Evidence struct {
	Of     EvidenceSource
	About  About
	Signal string // EvidenceSignals: only this signal ("": any)

	Before, After         time.Duration
	KeepBefore, KeepAfter int
	Spread                int
}

// Nearest is the rule for a finding no rule of its own covers: the events
// of its probe in the 30 s either side of it, three before and two after.
func Nearest(about About) Evidence {
	return Evidence{Of: EvidenceNearest, About: about, Before: 30 * time.Second, After: 30 * time.Second, KeepBefore: 3, KeepAfter: 2}
}

// rules holds each registered finding name's rule, applied to data of the
// registered type.
var rules = map[string]func(data any) (Evidence, bool){}

// register makes T the data type of findings named name, so a recording's
// copy of one reads back as a T (event.RegisterFindingData), and rule the
// evidence of one. Detectors call it from init, beside T.
func register[T any](name string, rule func(T) Evidence) {
	if _, dup := rules[name]; dup {
		panic("findings: registered twice: " + name)
	}
	event.RegisterFindingData[T](name)
	rules[name] = func(data any) (Evidence, bool) {
		d, ok := data.(T)
		if !ok {
			return Evidence{}, false
		}
		return rule(d), true
	}
}

// EvidenceOf is the evidence rule of f: its detector's, for data of the
// type the detector registered. For any other data (an unknown finding,
// the recorder's, data a file held in another shape) it is Nearest, about
// what the data's fields name.
func EvidenceOf(f *event.Finding) Evidence {
	if rule := rules[f.Finding]; rule != nil {
		if e, ok := rule(f.Data); ok {
			return e
		}
	}
	m, _ := f.Data.(map[string]any)
	return Nearest(aboutMap(m))
}

// aboutMap reads what generic data names: its "pid", "comm", "iface",
// "flow", "host", "device", "mount", "module" and "file" members, where
// they have the right type (a pid must be a whole number).
func aboutMap(m map[string]any) About {
	str := func(k string) string { s, _ := m[k].(string); return s }
	return About{PID: wholeInt(m["pid"]), Comm: str("comm"), Iface: str("iface"), Flow: str("flow"), Host: str("host"),
		Device: str("device"), Mount: str("mount"), Module: str("module"), File: str("file")}
}

// wholeInt is v as an int if it is a whole number that fits one, else 0.
func wholeInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		if n >= math.MinInt && n <= math.MaxInt {
			return int(n)
		}
	case float64: // what encoding/json decodes a number as
		if n == math.Trunc(n) && n >= math.MinInt && n < math.MaxInt {
			return int(n)
		}
	}
	return 0
}

// MsWindow is a span of a finding's data (ms) as a Duration for an
// evidence window: at least 0 and at most a day, whatever the data says,
// so the window's arithmetic cannot wrap.
func MsWindow(ms float64) time.Duration {
	return min(max(event.DurationOf(ms/1000), 0), 24*time.Hour)
}

// signalEvidence: the process's signals (of sig, if set) from two seconds
// before the first of span to a second after the finding.
func signalEvidence(pid int, comm, sig string, spanMs float64) Evidence {
	about := About{PID: pid, Comm: comm}
	if pid == 0 {
		return Nearest(about)
	}
	return Evidence{Of: EvidenceSignals, About: about, Signal: sig,
		Before: MsWindow(spanMs) + 2*time.Second, After: time.Second, KeepBefore: 6, KeepAfter: 2}
}

// flowEvidence: the flow's packets over the silence (gapMs) and three
// usual gaps before it, and two usual gaps after.
func flowEvidence(iface, flow string, gapMs, usualMs float64) Evidence {
	gap, usual := MsWindow(gapMs), MsWindow(usualMs)
	return Evidence{Of: EvidencePackets, About: About{Iface: iface, Flow: flow},
		Before: gap + 3*usual + time.Second, After: 2*usual + time.Second, KeepBefore: 4, KeepAfter: 2}
}

// diskEvidence: the filesystem's samples of the two minutes before the
// finding, six of them evenly apart.
func diskEvidence(of EvidenceSource, about About) Evidence {
	if about.Mount == "" {
		return Nearest(about)
	}
	return Evidence{Of: of, About: about, Before: 2 * time.Minute, After: time.Second, KeepBefore: 240, Spread: 6}
}
