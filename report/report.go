// Package report builds the findings-and-summary document that `snapshot`
// prints at the end of a live run and `report` prints for a recording. Both
// feed the same Builder, event by event, so the two always agree.
package report

import (
	"slices"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// MaxFindings bounds how many findings (conditions) a document keeps (the
// count goes on).
const MaxFindings = 5000

// HostFact says whether a finding is a standing fact about the host rather
// than something that happened: an info-level core.dumps_lost (most
// distributions start everything with a core size limit of 0). Text and
// Markdown list these last, under "host facts"; JSON keeps them among the
// findings. severity is the condition's worst.
func HostFact(f *event.Finding, severity event.Severity) bool {
	return f.Finding == "core.dumps_lost" && severity == event.Info
}

// ProbeStatus is one row of the document's "probes" list: one per probe,
// and per host and probe in a document of several hosts (Host set).
type ProbeStatus struct {
	Host   string `json:"host,omitempty"`
	Name   string `json:"name"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Document is the JSON shape of `snapshot --format json` and
// `report --format json`; a public contract.
type Document struct {
	Host any `json:"host"`
	// Hosts are the hosts whose events the document holds, by name: the
	// recording's own (its header's facts) and those its events name
	// (Event.Host), each with its facts (host_facts events), its clock
	// offset (clock events) and, in a document of several hosts, its
	// summary.
	Hosts     []Host        `json:"hosts"`
	Started   time.Time     `json:"started"`
	DurationS float64       `json:"duration_s"`
	File      string        `json:"file"`
	Probes    []ProbeStatus `json:"probes"`
	// Findings holds one finding per condition, worst first, then by when
	// it was raised: its latest event (time, summary, data, state), with
	// the worst severity it reached, its key, since (when it was raised)
	// and count (how many times it was seen). In a document of several
	// hosts every finding names its host ("host"), the recording's own
	// host's by its hostname.
	Findings []event.Event `json:"findings"`
	Omitted  int           `json:"findings_omitted,omitempty"`
	// Processes are the process snapshots listed under the findings that
	// name a process, each with its finding's key, in the findings' order.
	Processes []ProcessSnapshot `json:"process_snapshots,omitempty"`
	// Summary is each probe's summary of the recording's own host (the
	// events that name no host); the other hosts' are in Hosts.
	Summary map[string]any `json:"summary"`
	Damage  string         `json:"damage,omitempty"`
	// SummaryText is Summary as lines, for the text and Markdown forms.
	SummaryText map[string][]string `json:"-"`
	// MultiHost says the events name hosts (Event.Host): the text forms
	// name the host of each finding, probe and summary.
	MultiHost bool `json:"-"`
}

// Summarizer condenses one probe's events; each probe's schema registers
// its own (schema.ProbeInfo.Summary).
type Summarizer = schema.Summarizer

// extraSummaries serves summarizers for probes outside the registry (tests).
var extraSummaries = map[string]func() Summarizer{}

// RegisterSummary adds a summarizer for a name the probe registry lacks.
func RegisterSummary(probe string, mk func() Summarizer) { extraSummaries[probe] = mk }

func summarizerFor(probe string) func() Summarizer {
	if p, ok := schema.LookupProbe(probe); ok && p.Summary != nil {
		return p.Summary
	}
	return extraSummaries[probe]
}

// Builder accumulates a Document from events in time order.
type Builder struct {
	first, last time.Time
	order       []hostProbe
	status      map[hostProbe]ProbeStatus
	conds       event.Conditions
	sums        map[hostProbe]Summarizer
	snaps       []ProcessSnapshot
	hosts       hostSet
}

// hostProbe is a probe on a host ("": the recording's own).
type hostProbe struct{ host, probe string }

// NewBuilder starts an empty document.
func NewBuilder() *Builder {
	return &Builder{status: map[hostProbe]ProbeStatus{}, sums: map[hostProbe]Summarizer{}, conds: event.Conditions{Max: MaxFindings}}
}

// Expect lists probes up front so they appear in the document (in this
// order) even if they never reported.
func (b *Builder) Expect(names ...string) {
	for _, n := range names {
		b.see(hostProbe{"", n})
	}
}

func (b *Builder) see(k hostProbe) {
	if _, ok := b.status[k]; !ok {
		b.order = append(b.order, k)
		b.status[k] = ProbeStatus{Name: k.probe, Status: "unknown"}
	}
}

// Observe takes the next event.
func (b *Builder) Observe(ev event.Event) {
	if b.first.IsZero() || ev.Time.Before(b.first) {
		b.first = ev.Time
	}
	if ev.Time.After(b.last) {
		b.last = ev.Time
	}
	if !b.hosts.observe(ev) {
		return // a host past MaxHosts
	}
	k := hostProbe{ev.Host, ev.Probe}
	switch body := ev.Body.(type) {
	case *event.ProbeStatus:
		b.see(k)
		b.status[k] = ProbeStatus{Name: ev.Probe, Status: body.Status, Reason: body.Reason}
		return
	case *event.Finding:
		b.conds.Add(ev) // a raise, or an update or clear of one
		return
	case *schema.ProcessSnapshot:
		b.observeSnapshot(ev, body)
		return
	}
	s, ok := b.sums[k]
	if !ok {
		mk := summarizerFor(ev.Probe)
		if mk == nil {
			return
		}
		s = mk()
		b.sums[k] = s
	}
	s.Observe(ev)
}

// Findings returns the findings so far, one per condition, in the order
// the conditions were raised.
func (b *Builder) Findings() []event.Event {
	out := make([]event.Event, 0, b.conds.Len())
	for _, c := range b.conds.List() {
		out = append(out, c.Event())
	}
	return out
}

// Document returns the finished document. started/duration default to the
// span of events seen.
func (b *Builder) Document(host any, file string, started time.Time, duration time.Duration) Document {
	if started.IsZero() {
		started = b.first
	}
	if duration == 0 && !b.last.IsZero() {
		duration = b.last.Sub(started)
	}
	d := Document{Host: host, Started: started.UTC(), DurationS: duration.Seconds(), File: file,
		Findings: []event.Event{}, Omitted: b.conds.Omitted, Summary: map[string]any{}}
	own := ownFacts(host)
	multi := b.hosts.multi()
	// In a document of several hosts every finding, probe and snapshot
	// names its host; the recording's own is named by its hostname.
	name := func(h string) string {
		if multi && h == "" {
			return own.Host
		}
		return h
	}
	conds := slices.Clone(b.conds.List())
	slices.SortStableFunc(conds, event.CompareConditions)
	listed := map[string]bool{}
	for _, c := range conds {
		ev := c.Event()
		ev.Host = name(ev.Host)
		d.Findings = append(d.Findings, ev)
		for _, s := range SnapshotsFor(c, b.snaps) {
			s.Host = name(s.Host)
			if k := s.Host + "\x00" + s.Finding + "\x00" + s.Time.String(); !listed[k] {
				listed[k] = true
				d.Processes = append(d.Processes, s)
			}
		}
	}
	for _, k := range b.order {
		st := b.status[k]
		st.Host = name(k.host)
		d.Probes = append(d.Probes, st)
	}
	if d.Probes == nil {
		d.Probes = []ProbeStatus{}
	}
	d.SummaryText = map[string][]string{}
	for k, s := range b.sums {
		if k.host == "" {
			d.Summary[k.probe] = s.Result()
			d.SummaryText[k.probe] = s.Lines()
		}
	}
	d.Hosts = b.hosts.list(own, b.sums, multi)
	d.MultiHost = multi
	return d
}

// Worst returns the highest severity among the findings, and false if none.
// A condition counts once, at the worst it reached.
func (d Document) Worst() (event.Severity, bool) {
	worst, any := event.Info, false
	for _, ev := range d.Findings {
		if f, ok := event.As[event.Finding](ev); ok {
			if !any || f.Severity > worst {
				worst = f.Severity
			}
			any = true
		}
	}
	return worst, any
}
