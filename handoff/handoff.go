// Package handoff builds the on-call handoff report of a recording: a
// one-paragraph summary (Report.Lead), host facts and the time range,
// findings ranked by severity with the events around each one as evidence
// (rows of words), the engineers' notes, a per-probe summary with charts
// (each series on its own scale, the time axis from the session's start),
// and the command that replays the file. It renders as Markdown or as one
// self-contained HTML page.
//
// The report is made from the recording as a stream of events in two
// passes. The first runs the whole file through today's detectors (as
// `stakeout report` does, so the two agree) and keeps the findings, notes,
// summaries and downsampled chart series of the window. The second reads
// back only the few seconds around each listed finding to collect its
// evidence. Memory is bounded by the caps below, whatever the file's length.
package handoff

import (
	"sort"
	"time"

	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/report"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// endOfTime is later than any event.
var endOfTime = time.Unix(1<<62, 0)

// Caps that bound the report whatever the recording holds.
const (
	DefaultPoints      = 60   // chart points across the window
	DefaultMaxFindings = 50   // findings listed, each with its evidence
	MaxNotes           = 1000 // notes listed (each at most event.MaxNoteRunes)
	maxKeptFindings    = report.MaxFindings
	maxFlowNames       = 1 << 16
)

// Options says what to put in the report and how to rewrite what is read.
type Options struct {
	// Since and Until bound the window; zero means the recording's start or end.
	Since, Until time.Time
	// File is the recording's path as shown in the report and in the replay
	// command.
	File string
	// Files, if set, are the paths of the several files read as one: the
	// replay command names them all.
	Files []string
	// Transform, if set, rewrites every event read from the file before
	// anything else sees it: the detectors, the summaries, the charts and
	// the evidence. Redaction plugs in here.
	Transform func(event.Event) event.Event
	// Header, if set, rewrites the recording's header (host facts).
	Header func(sessions.Header) sessions.Header
	// Points is the number of points of each chart (DefaultPoints if 0).
	Points int
	// MaxFindings is how many findings are listed (DefaultMaxFindings if 0).
	MaxFindings int
	// Progress, if set, is called for every event read, in both passes
	// (pass 1 of 2: the replay through the detectors; pass 2: the evidence
	// sweep), with how far the pass has got. It must be cheap and
	// rate-limit what it shows; the report is the same with or without it.
	Progress func(sessions.Progress)
}

// Report is a finished handoff, ready to render.
type Report struct {
	Host sessions.Header
	// Hosts are the hosts of the window's events with their facts, as
	// `report` lists them; MultiHost says the events name hosts (several
	// recordings read as one, or one recorded with --ssh): the findings
	// and summaries then name their host.
	Hosts     []report.Host
	MultiHost bool
	File      string
	// From and To are the window shown, and the charts' time axis. From
	// is never before the session's start (Session), whatever events
	// from before it the window holds (see Earlier).
	From, To time.Time
	Session  time.Time
	Probes   []report.ProbeStatus
	// Findings are the window's conditions, one each, worst first.
	Findings []Finding
	// Omitted counts findings left out (lower ranked than the listed ones).
	Omitted int
	// Counts of the findings (conditions) kept, by the worst severity each
	// reached; host facts are not counted, nor conditions past the
	// report's bound (those are in Omitted).
	Critical, Warn, Info int
	// HostFacts are standing facts about the host found in the window
	// (report.HostFact: an info-level core.dumps_lost), listed at the end.
	HostFacts    []string
	Notes        []Note
	NotesOmitted int
	Summaries    []ProbeSummary
	// Replay is the shell command that opens the file at the window's start.
	Replay string
	// Damage says the recording ends early; what came before is reported.
	Damage string
	// Earlier are the window's events from before From, the session's
	// start (the kernel log's backlog).
	Earlier Earlier
}

// Finding is one condition with the events that show it: when it was
// raised (Time, where its evidence is) and its latest event (Last, State,
// Summary), how many times it was seen and the worst severity it reached.
type Finding struct {
	Time time.Time
	// Host is the host it was found on, in a report of several hosts.
	Host     string
	Probe    string
	Name     string
	Severity event.Severity
	Summary  string
	Count    int
	Last     time.Time
	State    string // of its latest event: "", "update" or "cleared"
	// Subject is what it is about: a device, mount, flow, process or
	// module ("" when the finding names none).
	Subject string
	// Open says the condition was still going on when the window ended:
	// its detector had not cleared it (or, for conditions made of events,
	// its quiet window had not passed). Findings that are one event each
	// (packet.gap, packet.stall_reset, and those without a key) are never
	// open.
	Open     bool
	Evidence Evidence
	// Process is the process the finding names as /proc showed it (its
	// process_snapshot events near the finding); no rows when none.
	Process Evidence
}

// Repeats is the "(×N, last at T)" or "(×N, cleared at T)" after its title.
func (f Finding) Repeats() string { return report.Repeats(f.Count, f.State, f.Last) }

// Evidence is a small table of the events around a finding.
type Evidence struct {
	Title   string
	Columns []string // the first is always the time
	Rows    []Row
}

// Row is one evidence row. Mark is set on the row at the finding's time
// (the second signal of a burst, the packet that ended a gap).
type Row struct {
	Time  time.Time
	Cells []string // after the time
	Mark  bool
}

// Note is an engineer's note on the timeline.
type Note struct {
	Time   time.Time
	Author string
	Text   string
}

// ProbeSummary is one probe's status, its summary lines and its charts:
// on one host (Host) in a report of several.
type ProbeSummary struct {
	Host   string
	Name   string
	Status string
	Reason string
	Lines  []string
	Charts []Chart
}

// Build reads the recording (one file, or several read as one) and makes
// the report.
func Build(r sessions.Recording, opt Options) (*Report, error) {
	opt = opt.withDefaults()
	hdr := r.Header()
	if opt.Header != nil {
		hdr = opt.Header(hdr)
	}
	w := windowOf(r, opt.Since, opt.Until)
	rep := &Report{Host: hdr, File: opt.File, From: w.axis.UTC(), To: w.to.UTC(), Session: sessionStart(r).UTC()}
	rep.Replay = ReplayCommand(opt.File, w.from, r.Start())
	if len(opt.Files) > 1 {
		rep.Replay = ReplayCommandOf(opt.Files, w.from, r.Start())
	}

	p := newFirstPass(rep, w, opt)
	if err := damageOf(r, p.run(r, opt), rep); err != nil {
		return nil, err
	}
	rep.Omitted = p.conds.Omitted
	found := rep.rank(p.found, p.flows, opt.MaxFindings)
	if err := damageOf(r, collectEvidence(r, opt.Transform, found, opt.Progress), rep); err != nil {
		return nil, err
	}
	doc := p.b.Document(hdr, opt.File, w.axis, w.to.Sub(w.axis))
	rep.Hosts, rep.MultiHost = doc.Hosts, doc.MultiHost
	rep.list(found, p.snaps)
	sort.SliceStable(rep.Notes, func(i, j int) bool { return rep.Notes[i].Time.Before(rep.Notes[j].Time) })
	rep.summarize(doc, p.charts)
	return rep, nil
}

// withDefaults fills in the caps left at zero.
func (opt Options) withDefaults() Options {
	if opt.Points <= 0 {
		opt.Points = DefaultPoints
	}
	if opt.MaxFindings <= 0 {
		opt.MaxFindings = DefaultMaxFindings
	}
	return opt
}

// window is the part of the recording a report covers.
type window struct {
	// from and to bound the events listed: the options' bounds, kept
	// inside the recording.
	from, to time.Time
	// axis is where the time axis (the charts, the window shown) starts:
	// the session's start, if it is later than from. The kernel log's
	// backlog, stamped minutes before it, is listed but does not stretch
	// the axis.
	axis time.Time
}

// windowOf is the window from since to until (zero: the recording's start
// or end) of r.
func windowOf(r sessions.Recording, since, until time.Time) window {
	from, to := since, until
	if from.IsZero() || from.Before(r.Start()) {
		from = r.Start()
	}
	if to.IsZero() || to.After(r.End()) {
		to = r.End()
	}
	if to.Before(from) {
		to = from
	}
	axis := from
	if s := sessionStart(r); s.After(axis) && !s.After(to) {
		axis = s
	}
	return window{from: from, to: to, axis: axis}
}

// firstPass runs the whole file through the detectors and keeps what the
// report lists of the window: the findings (one per condition, with where
// to collect its evidence), the notes, the summaries and the charts.
type firstPass struct {
	rep    *Report
	w      window
	last   time.Time // events after it are past the window
	b      *report.Builder
	charts *charts
	flows  map[flowKey]uint32 // the flows' ids by name, for the evidence
	conds  event.Conditions
	found  []pending
	snaps  []report.ProcessSnapshot // the file's process snapshots, for the evidence
}

func newFirstPass(rep *Report, w window, opt Options) *firstPass {
	p := &firstPass{rep: rep, w: w, last: w.to, b: report.NewBuilder(),
		charts: newCharts(w.axis, w.to, opt.Points), flows: map[flowKey]uint32{},
		conds: event.Conditions{Max: maxKeptFindings}}
	// Without --until the window runs to the end of the file, whatever the
	// times in it.
	if opt.Until.IsZero() {
		p.last = endOfTime
	}
	return p
}

// run feeds the file to the detectors. They see the file from its start,
// as report's do. A recording is not in time order (the kernel log's
// backlog comes after the first samples, a bad clock stamps an event years
// ahead), so each event is picked by its own time, and reading stops only
// where the time index shows that nothing of the window is left.
func (p *firstPass) run(r sessions.Recording, opt Options) error {
	it := r.Events(time.Time{})
	if !opt.Until.IsZero() {
		it = r.EventsRange(time.Time{}, p.last.Add(engine.FindingLag))
	}
	track := sessions.ProgressTracker(r, opt.Progress, 1, 2, time.Time{}, p.last.Add(engine.FindingLag))
	return engine.Replay(transformed(tracked(it, track), opt.Transform), findings.All(findings.ConfigOf(r.Header().Detectors)), p.observe)
}

// observe takes one event of the replay (the detectors' findings among
// them) and always asks for the next.
func (p *firstPass) observe(ev event.Event) bool {
	if ev.Time.After(p.last) {
		return true
	}
	var isSnap bool
	if p.snaps, isSnap = keepSnapshot(p.snaps, ev); isSnap {
		return true // evidence of its finding, not a probe's data
	}
	if fi, ok := event.As[packet.FlowInfo](ev); ok {
		if len(p.flows) >= maxFlowNames {
			clear(p.flows)
		}
		p.flows[flowKey{ev.Host, fi.Iface, fi.String()}] = fi.ID
	}
	if ev.Time.Before(p.w.from) {
		if _, ok := ev.Body.(*event.ProbeStatus); ok {
			p.b.Observe(ev) // a probe's status holds until it changes
		}
		return true
	}
	if f, ok := event.As[event.Finding](ev); ok {
		// One entry per condition; its evidence is where it was raised.
		if c, started := p.conds.Add(ev); started {
			p.found = append(p.found, newPending(ev, f, c, p.flows))
		}
		return true
	}
	if n, ok := event.As[event.Note](ev); ok {
		p.rep.addNote(ev.Time, n)
		return true
	}
	p.b.Observe(ev)
	if ev.Time.Before(p.w.axis) {
		p.rep.Earlier.add(ev)
	} else {
		p.charts.observe(ev)
	}
	return true
}

// addNote lists a note, or counts it past MaxNotes.
func (r *Report) addNote(t time.Time, n *event.Note) {
	if len(r.Notes) < MaxNotes {
		r.Notes = append(r.Notes, Note{Time: t.UTC(), Author: n.Author, Text: n.Text})
	} else {
		r.NotesOmitted++
	}
}

// rank takes the conditions the first pass found: it lists host facts
// apart, counts the rest by severity, moves a resumed gap's evidence to its
// clear, and keeps the worst keep of them, worst first, then earliest: the
// reader starts with what matters most. The rest add to Omitted.
func (r *Report) rank(found []pending, flows map[flowKey]uint32, keep int) []pending {
	found = r.splitHostFacts(found)
	gapEvidenceAtClear(found, flows)
	sort.SliceStable(found, func(i, j int) bool { return event.CompareConditions(found[i].c, found[j].c) < 0 })
	if len(found) > keep {
		r.Omitted += len(found) - keep
		found = found[:keep]
	}
	return found
}

// splitHostFacts moves the host facts (report.HostFact) to HostFacts and
// counts the other conditions by the worst severity each reached.
func (r *Report) splitHostFacts(found []pending) []pending {
	incidents := found[:0]
	for _, p := range found {
		if report.HostFact(p.c.Finding(), p.c.Worst) {
			r.HostFacts = append(r.HostFacts, p.c.Finding().Summary)
			continue
		}
		r.count(p.c.Worst)
		incidents = append(incidents, p)
	}
	return incidents
}

// gapEvidenceAtClear: a gap is raised while its flow is silent; what
// shows it is the packet that ended it, so a gap that resumed takes its
// evidence at its clear.
func gapEvidenceAtClear(found []pending, flows map[flowKey]uint32) {
	for i, p := range found {
		if p.f.Finding != findings.FindingPacketGap {
			continue
		}
		if lf, ok := event.As[event.Finding](p.c.Last); ok && lf.State == event.FindingCleared && p.c.Last.Time.After(p.ev.Time) {
			found[i].col = evidenceFor(p.c.Last, findings.EvidenceOf(lf), flows)
		}
	}
}

// list adds the ranked conditions, their evidence collected, as findings,
// each with the process snapshots of snaps that are its own.
func (r *Report) list(found []pending, snaps []report.ProcessSnapshot) {
	for _, p := range found {
		last := p.c.Finding()
		r.Findings = append(r.Findings, Finding{Time: p.c.Since().UTC(), Host: r.hostName(p.ev.Host), Probe: p.ev.Probe, Name: p.f.Finding,
			Severity: p.c.Worst, Summary: last.Summary, Count: p.c.Count(), Last: p.c.Last.Time.UTC(), State: last.State,
			Subject: p.subject, Open: open(p.c), Evidence: p.col.evidence(), Process: processEvidence(p.c, snaps)})
	}
}

// hostName is how the report names the host of an event: as it is, but
// the recording's own host ("") by its hostname in a report of several.
func (r *Report) hostName(host string) string {
	if host == "" && r.MultiHost {
		return r.Host.Hostname
	}
	return host
}

// summarize adds the probes' statuses and a summary of each probe, with
// its charts, in the document's order, then the probes that sent data but
// no status (a pcap converted to a session); each host's, in a report of
// several.
func (r *Report) summarize(doc report.Document, ch *charts) {
	r.Probes = doc.Probes
	lines := map[probeKey][]string{}
	for name, l := range doc.SummaryText {
		lines[probeKey{"", name}] = l
	}
	raw := map[string]string{} // a host's name in the document: its key here
	for _, h := range doc.Hosts {
		for name, l := range h.SummaryText {
			lines[probeKey{h.Host, name}] = l
		}
	}
	for _, k := range ch.probes() {
		raw[r.hostName(k.host)] = k.host
	}
	key := func(host, probe string) probeKey {
		if k, ok := raw[host]; ok && k == "" {
			return probeKey{"", probe}
		}
		return probeKey{host, probe}
	}
	listed := map[probeKey]bool{}
	for _, p := range doc.Probes {
		k := key(p.Host, p.Name)
		listed[k] = true
		r.Summaries = append(r.Summaries, ProbeSummary{Host: p.Host, Name: p.Name, Status: p.Status, Reason: p.Reason,
			Lines: r.summaryLines(lines, p.Host, p.Name), Charts: ch.charts(k.host, p.Name)})
	}
	for _, k := range ch.probes() {
		if !listed[k] {
			listed[k] = true
			r.Summaries = append(r.Summaries, ProbeSummary{Host: r.hostName(k.host), Name: k.probe,
				Lines: r.summaryLines(lines, r.hostName(k.host), k.probe), Charts: ch.charts(k.host, k.probe)})
		}
	}
}

// summaryLines are a probe's summary lines on a host, as the document has
// them: the recording's own host's at its top, the others' in its hosts.
func (r *Report) summaryLines(lines map[probeKey][]string, host, probe string) []string {
	if !r.MultiHost {
		return lines[probeKey{"", probe}]
	}
	return lines[probeKey{host, probe}]
}

// sessionStart is when the session began: the header's start, unless it
// is missing or lies outside the events (a header written by hand, a
// clock set after the fact), then the earliest event.
func sessionStart(r sessions.Recording) time.Time {
	s := r.Header().Started
	if s.IsZero() || s.Before(r.Start()) || s.After(r.End()) {
		return r.Start()
	}
	return s
}

// Earlier counts the events of the window from before the session's start
// (the time axis): the kernel log's backlog, read from its buffer when
// the session began. They are listed (their findings, the kmsg summary)
// but not charted.
type Earlier struct {
	Events  int
	First   time.Time
	Backlog bool // every one of them is a kernel log line from the backlog
}

func (e *Earlier) add(ev event.Event) {
	k, ok := event.As[schema.Kmsg](ev)
	backlog := ok && k.Backlog
	if e.Events == 0 {
		e.Backlog = backlog
	}
	e.Backlog = e.Backlog && backlog
	if e.Events == 0 || ev.Time.Before(e.First) {
		e.First = ev.Time.UTC()
	}
	e.Events++
}

func (r *Report) count(s event.Severity) {
	switch s {
	case event.Critical:
		r.Critical++
	case event.Warn:
		r.Warn++
	default:
		r.Info++
	}
}

// flowKey names a flow on a host's interface: flow ids are per host.
type flowKey struct{ host, iface, name string }

// subject names what a finding is about, as its detector's rule says.
func subject(a findings.About) string {
	switch {
	case a.Flow != "" && a.Iface != "":
		return "flow " + a.Flow + " (" + a.Iface + ")"
	case a.Mount != "":
		return a.Mount
	case a.Device != "":
		return a.Device
	case a.Module != "":
		return "module " + a.Module
	case a.Host != "" && a.Iface != "":
		return a.Host + " (" + a.Iface + ")"
	case a.Iface != "":
		return a.Iface
	case a.PID != 0:
		return "pid " + schema.Proc(a.PID, a.Comm)
	case a.Comm != "":
		return a.Comm
	}
	return a.File
}

// open says a condition had not ended when the window did (see Finding.Open).
func open(c *event.Condition) bool {
	f := c.Finding()
	switch f.Finding {
	case findings.FindingPacketStallReset: // one event, over when raised
		return false
	case findings.FindingPacketGap:
		// The end of the capture clears a gap whose flow never came back:
		// that flow is still silent, not recovered.
		if c.Cleared() && findings.GapStillSilent(f.Data) {
			return true
		}
	}
	return c.Key() != "" && !c.Cleared()
}

// pending is a condition waiting for its evidence, collected around the
// event that raised it (ev, f).
type pending struct {
	ev      event.Event
	f       *event.Finding
	c       *event.Condition
	col     *collector
	subject string
}

func newPending(ev event.Event, f *event.Finding, c *event.Condition, flows map[flowKey]uint32) pending {
	e := findings.EvidenceOf(f)
	return pending{ev: ev, f: f, c: c, col: evidenceFor(ev, e, flows), subject: subject(e.About)}
}
