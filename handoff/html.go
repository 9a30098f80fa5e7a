package handoff

import (
	_ "embed"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
)

//go:embed page.html.tmpl
var pageSource string

// page is parsed once; html/template escapes every value by its context.
var page = template.Must(template.New("handoff").Parse(pageSource))

// WriteHTML renders the report as one self-contained HTML page: inline CSS
// for light and dark, inline SVG charts, no script, no fetch (its Content
// Security Policy forbids any). Strings from the file are sanitized like
// everywhere else (control characters shown as \xNN) and then escaped by
// html/template.
func WriteHTML(w io.Writer, rep *Report) error {
	return page.Execute(w, htmlView(rep))
}

type kv struct{ K, V string }

// hostFacts are the header rows of a report (host, kernel, … the window
// and the file), unescaped: each format escapes them its own way.
func hostFacts(rep *Report) []kv {
	var facts []kv
	add := func(k, val string) { facts = append(facts, kv{k, val}) }
	if rep.MultiHost {
		// Each host's facts are in their own table (hostTable).
		add("hosts", hostsText(rep))
		if len(rep.Host.Command) > 0 {
			add("command", quoteArgs(rep.Host.Command))
		}
		return append(facts, windowFacts(rep)...)
	}
	add("host", reportTitle(rep))
	if rep.Host.Kernel != "" {
		add("kernel", "Linux "+rep.Host.Kernel)
	}
	if rep.Host.CPUs > 0 {
		add("CPUs", itoa(rep.Host.CPUs))
	}
	if rep.Host.MemoryBytes > 0 {
		add("memory", fmtBytes(float64(rep.Host.MemoryBytes)))
	}
	if !rep.Host.BootTime.IsZero() {
		add("booted", rep.Host.BootTime.UTC().Format("2006-01-02 15:04:05")+" UTC")
	}
	if rep.Host.StakeoutVersion != "" {
		add("recorded by", "stakeout "+rep.Host.StakeoutVersion)
	}
	if len(rep.Host.Command) > 0 {
		add("command", quoteArgs(rep.Host.Command))
	}
	return append(facts, windowFacts(rep)...)
}

// windowFacts are the header rows about the window and the file.
func windowFacts(rep *Report) []kv {
	var facts []kv
	add := func(k, val string) { facts = append(facts, kv{k, val}) }
	add("window", windowText(rep.From, rep.To))
	if e := rep.Earlier; e.Events > 0 {
		what := plural(e.Events, "event")
		if e.Backlog {
			what = plural(e.Events, "kernel log line") + " from the backlog"
		}
		add("before the session", what+", from "+e.First.Format("2006-01-02 15:04:05")+" UTC: listed, not charted")
	}
	if rep.File != "" {
		add("file", rep.File)
	}
	return facts
}

type viewPage struct {
	Host                 string
	Hosts                hostTable
	Lead                 []Span
	Facts                []kv
	Total, NoteCount     string
	Critical, Warn, Info int
	Damage               string
	Findings             []viewFinding
	Omitted              int
	Notes                []viewNote
	NotesOmitted         int
	Probes               []viewProbe
	Replay               string
	HostFacts            []string
}

type viewFinding struct {
	N                       int
	Host                    string // in a report of several hosts
	Severity, SeverityUpper string
	Name, Summary, Probe    string
	ISO, Clock, Repeats     string
	Title                   string
	Columns                 []string
	Rows                    []viewRow
	Process                 viewEvidence // the process it names, as /proc showed it
}

type viewEvidence struct {
	Title   string
	Columns []string
	Rows    []viewRow
}

type viewRow struct {
	Clock string
	Cells []string
	Mark  bool
}

type viewNote struct{ ISO, Clock, Author, Text string }

type viewProbe struct {
	Host                 string // in a report of several hosts
	Name, Status, Reason string
	Lines                []string
	Charts               []viewChart
}

type viewChart struct {
	Title, From, To, Step string
	W, H                  int
	X0, X1, YAxis         int
	Lanes                 []viewLane
	Legend                []viewLegend
}

// viewLane is one series' band of a chart, with its own scale: its lowest
// value at the bottom, its highest at the top, both labelled.
type viewLane struct {
	X0, Y0, PW, PH, YTop, YBottom, LabelX, NameX, NameY int
	Name, Top, Bottom                                   string
	Lines                                               []viewLine
}

type viewLine struct{ Class, Points string }

type viewLegend struct{ Class, Name, Scale string }

func clean(s string) string { return event.Sanitize(s) }

func htmlView(rep *Report) viewPage {
	v := viewPage{Host: clean(reportTitle(rep)), Hosts: cleanTable(hostRows(rep)), Total: plural(rep.Critical+rep.Warn+rep.Info, "finding"), Critical: rep.Critical, Warn: rep.Warn,
		Info: rep.Info, NoteCount: plural(len(rep.Notes)+rep.NotesOmitted, "note"), Damage: clean(rep.Damage), Omitted: rep.Omitted,
		NotesOmitted: rep.NotesOmitted, Replay: rep.Replay}
	for _, sp := range rep.Lead() {
		v.Lead = append(v.Lead, Span{Text: clean(sp.Text), Strong: sp.Strong})
	}
	for _, f := range hostFacts(rep) {
		v.Facts = append(v.Facts, kv{f.K, clean(f.V)})
	}
	for i, f := range rep.Findings {
		vf := viewFinding{N: i + 1, Severity: f.Severity.String(), SeverityUpper: strings.ToUpper(f.Severity.String()),
			Host: clean(f.Host), Name: clean(f.Name), Summary: clean(f.Summary), Probe: clean(f.Probe), ISO: f.Time.UTC().Format(time.RFC3339Nano),
			Clock: fmtClock(f.Time), Repeats: f.Repeats(), Title: clean(f.Evidence.Title)}
		for _, c := range f.Evidence.Columns {
			vf.Columns = append(vf.Columns, clean(c))
		}
		for _, r := range f.Evidence.Rows {
			vr := viewRow{Clock: fmtClock(r.Time), Mark: r.Mark}
			for _, c := range r.Cells {
				vr.Cells = append(vr.Cells, clean(c))
			}
			vf.Rows = append(vf.Rows, vr)
		}
		vf.Process.Title = clean(f.Process.Title)
		for _, c := range f.Process.Columns {
			vf.Process.Columns = append(vf.Process.Columns, clean(c))
		}
		for _, r := range f.Process.Rows {
			vr := viewRow{Clock: fmtClock(r.Time)}
			for _, c := range r.Cells {
				vr.Cells = append(vr.Cells, clean(c))
			}
			vf.Process.Rows = append(vf.Process.Rows, vr)
		}
		v.Findings = append(v.Findings, vf)
	}
	for _, f := range rep.HostFacts {
		v.HostFacts = append(v.HostFacts, clean(f))
	}
	for _, n := range rep.Notes {
		v.Notes = append(v.Notes, viewNote{ISO: n.Time.Format(time.RFC3339Nano), Clock: fmtClock(n.Time),
			Author: clean(n.Author), Text: clean(n.Text)})
	}
	for _, p := range rep.Summaries {
		vp := viewProbe{Host: clean(p.Host), Name: clean(p.Name), Status: clean(p.Status), Reason: clean(p.Reason)}
		if vp.Status == "" {
			vp.Status = "no status recorded"
		}
		for _, l := range p.Lines {
			vp.Lines = append(vp.Lines, clean(l))
		}
		for _, c := range p.Charts {
			if len(c.Series) > 0 {
				vp.Charts = append(vp.Charts, svgChart(c))
			}
		}
		v.Probes = append(v.Probes, vp)
	}
	return v
}

// Chart geometry, in SVG user units: one lane per series, stacked.
const (
	svgW           = 640
	plotX0, plotX1 = 100, 632
	laneTop        = 16 // room for the first lane's name above it
	laneH, laneGap = 56, 20
	axisRoom       = 28 // below the last lane, for the time labels
)

// svgChart lays a chart out as one lane per series, each on its own scale
// (Series.Scale), and each series as polylines: one per run of sampled
// points, so a stretch with no samples shows as a break, not as a fall.
func svgChart(c Chart) viewChart {
	n := len(c.Series)
	h := laneTop + n*(laneH+laneGap) - laneGap + axisRoom
	vc := viewChart{Title: clean(c.Title), From: c.From.UTC().Format("15:04:05"), To: c.To.UTC().Format("15:04:05"),
		Step: fmtDur(c.Step), W: svgW, H: h, X0: plotX0, X1: plotX1, YAxis: h - 10}
	for i, s := range c.Series {
		class := "s" + itoa(i%4)
		y0 := laneTop + i*(laneH+laneGap)
		y1 := y0 + laneH
		lane := viewLane{X0: plotX0, Y0: y0, PW: plotX1 - plotX0, PH: laneH, YTop: y0 + 10, YBottom: y1,
			LabelX: plotX0 - 6, NameX: plotX0, NameY: y0 - 4, Name: clean(s.Name)}
		lo, hi, steady := s.Scale()
		if steady {
			lane.Top = fmtValue(hi, c.Unit)
		} else {
			lane.Top, lane.Bottom = fmtValue(hi, c.Unit), fmtValue(lo, c.Unit)
		}
		var pts []string
		flush := func() {
			if len(pts) == 1 { // a lone sample: a dot (a zero-length round-capped line)
				pts = append(pts, pts[0])
			}
			if len(pts) > 0 {
				lane.Lines = append(lane.Lines, viewLine{Class: class, Points: strings.Join(pts, " ")})
			}
			pts = nil
		}
		for j, val := range s.Values {
			if math.IsNaN(val) || math.IsInf(val, 0) {
				flush()
				continue
			}
			x := float64(plotX0+plotX1) / 2
			if len(s.Values) > 1 {
				x = plotX0 + float64(j)*float64(plotX1-plotX0)/float64(len(s.Values)-1)
			}
			frac := 0.5
			if !steady {
				frac = min(max((val-lo)/(hi-lo), 0), 1)
			}
			y := float64(y1) - frac*float64(laneH)
			pts = append(pts, strconv.FormatFloat(x, 'f', 1, 64)+","+strconv.FormatFloat(y, 'f', 1, 64))
		}
		flush()
		vc.Lanes = append(vc.Lanes, lane)
		vc.Legend = append(vc.Legend, viewLegend{Class: "k" + itoa(i%4), Name: clean(s.Name), Scale: scaleText(s, c.Unit)})
	}
	return vc
}
