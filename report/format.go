package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
)

// Formats accepted by --format.
var Formats = []string{"text", "md", "json"}

// Write prints d in the given format. Every host- or file-derived string in
// text and Markdown passes through event.Sanitize; JSON escapes by itself, and
// event.TerminalSafeJSON escapes the C1 and bidi controls it leaves raw.
func Write(w io.Writer, d Document, format string) error {
	switch format {
	case "json":
		b, err := event.MarshalIndentFinite(d, "", "  ") // a NaN is null, not a failed report
		if err != nil {
			return err
		}
		_, err = w.Write(append(event.TerminalSafeJSON(b), '\n'))
		return err
	case "text":
		return writeText(w, d, false)
	case "md":
		return writeText(w, d, true)
	}
	return fmt.Errorf("unknown format %q (want text, md or json)", format)
}

func hostLine(h any) string {
	b, err := json.Marshal(h)
	if err != nil {
		return ""
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	host, _ := m["hostname"].(string)
	kernel, _ := m["kernel"].(string)
	if host == "" {
		return ""
	}
	if kernel != "" {
		return event.Sanitize(host) + " (Linux " + event.Sanitize(kernel) + ")"
	}
	return event.Sanitize(host)
}

// writeText prints d as plain text, or as Markdown if md is set: a head,
// then the probes, the findings, the summaries and the host facts.
func writeText(w io.Writer, d Document, md bool) error {
	t := &textWriter{md: md}
	t.head(d)
	t.hosts(d)
	t.probes(d)
	listed, facts := splitFindings(d.Findings)
	t.findings(d, listed)
	if d.MultiHost {
		for _, h := range d.Hosts {
			t.summary("summary", h.Host, h.SummaryText)
		}
	} else {
		t.summary("summary", "", d.SummaryText)
	}
	t.hostFacts(facts)
	_, err := io.WriteString(w, t.b.String())
	return err
}

// textWriter builds the text or Markdown (md) form of a report.
type textWriter struct {
	b  strings.Builder
	md bool
}

// heading starts a section.
func (t *textWriter) heading(s string) { t.headingOf(s, "") }

// headingOf starts a section about a host, named as it is after s.
func (t *textWriter) headingOf(s, host string) {
	if host != "" {
		host = ": " + event.Sanitize(host)
	}
	if t.md {
		fmt.Fprintf(&t.b, "\n## %s%s\n\n", s, host)
	} else {
		fmt.Fprintf(&t.b, "\n%s%s\n", strings.ToUpper(s), host)
	}
}

// item writes one line of a list.
func (t *textWriter) item(line string) {
	if t.md {
		line = "- " + line
	} else {
		line = "  " + line
	}
	t.b.WriteString(line + "\n")
}

// head writes the title with the host, the time range, the file and any
// damage to it.
func (t *textWriter) head(d Document) {
	b := &t.b
	end := d.Started.Add(event.DurationOf(d.DurationS))
	title := "stakeout report"
	if t.md {
		title = "# " + title
	}
	host := hostLine(d.Host)
	if d.MultiHost {
		names := make([]string, len(d.Hosts))
		for i, h := range d.Hosts {
			names[i] = event.Sanitize(h.Host)
		}
		host = fmt.Sprintf("%d hosts (%s)", len(d.Hosts), strings.Join(names, ", "))
	}
	fmt.Fprintf(b, "%s: %s\n", title, host)
	if t.md {
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "%s → %s UTC (%s)\n", d.Started.UTC().Format("2006-01-02 15:04:05"),
		end.UTC().Format("15:04:05"), time.Duration(d.DurationS*float64(time.Second)).Round(time.Second))
	if d.File != "" {
		if t.md {
			b.WriteString("\n")
		}
		fmt.Fprintf(b, "file: %s\n", event.Sanitize(d.File))
	}
	if d.Damage != "" {
		fmt.Fprintf(b, "warning: %s\n", event.Sanitize(d.Damage))
	}
}

// hosts lists, in a document of several hosts, each host's facts and its
// clock's offset.
func (t *textWriter) hosts(d Document) {
	if !d.MultiHost {
		return
	}
	t.heading("hosts")
	for _, h := range d.Hosts {
		line := event.Sanitize(h.Host)
		if h.Hostname != "" && h.Hostname != h.Host {
			line += " is " + event.Sanitize(h.Hostname)
		}
		if h.Kernel != "" {
			line += ", Linux " + event.Sanitize(h.Kernel)
		}
		if h.File != "" {
			line += ", from " + event.Sanitize(h.File)
		}
		if h.ClockOffset != nil {
			line += fmt.Sprintf(", clock %+.3fs (±%.3fs)", h.ClockOffset.Seconds(), (h.ClockRTT / 2).Seconds())
		}
		t.item(line)
	}
}

// probes lists each probe's status (each host's, in a document of
// several).
func (t *textWriter) probes(d Document) {
	t.heading("probes")
	for _, p := range d.Probes {
		line := fmt.Sprintf("%-10s %s", event.Sanitize(p.Name), p.Status)
		if d.MultiHost {
			line = fmt.Sprintf("%-12s %-10s %s", event.Sanitize(p.Host), event.Sanitize(p.Name), p.Status)
		}
		if p.Reason != "" {
			line += ": " + event.Sanitize(p.Reason)
		}
		t.item(line)
	}
}

// splitFindings parts the document's findings (worst first, then by when
// raised; each condition once) into those listed and the standing facts
// about the host, which go last.
func splitFindings(evs []event.Event) (listed, facts []event.Event) {
	for _, ev := range evs {
		if f, ok := event.As[event.Finding](ev); ok {
			if HostFact(f, f.Severity) {
				facts = append(facts, ev)
			} else {
				listed = append(listed, ev)
			}
		}
	}
	return listed, facts
}

// findings lists the conditions, each with how many times it was seen and
// when last, and how many more were left out.
func (t *textWriter) findings(d Document, listed []event.Event) {
	omitted := d.Omitted
	t.heading(fmt.Sprintf("findings (%d)", len(listed)+omitted))
	if len(listed) == 0 {
		t.b.WriteString("  none\n")
	}
	for _, ev := range listed {
		f, _ := event.As[event.Finding](ev)
		since := ev.Time
		if !f.Since.IsZero() {
			since = f.Since
		}
		clock := since.UTC().Format("15:04:05")
		more := Repeats(f.Count, f.State, ev.Time)
		host := ""
		if d.MultiHost {
			host = fmt.Sprintf("%-12s ", event.Sanitize(ev.Host))
		}
		line := fmt.Sprintf("%s  %-8s %s%-18s %s%s", clock, strings.ToUpper(f.Severity.String()), host,
			event.Sanitize(f.Finding), event.Sanitize(f.Summary), more)
		if t.md {
			if host != "" {
				host = event.Sanitize(ev.Host) + " "
			}
			line = "`" + clock + "` **" + f.Severity.String() + "** " + host + "`" +
				event.Sanitize(f.Finding) + "` " + event.Sanitize(f.Summary) + more
		}
		t.item(line)
		t.snapshots(d.SnapshotsOf(ev))
	}
	if omitted > 0 {
		fmt.Fprintf(&t.b, "  … %d more findings not listed\n", omitted)
	}
}

// snapshots writes the process snapshots listed under a finding, a line
// each below its line.
func (t *textWriter) snapshots(snaps []ProcessSnapshot) {
	for _, s := range snaps {
		at := s.Time.UTC().Format("15:04:05.000")
		if t.md {
			t.b.WriteString("  - process at `" + at + "`: " + event.Sanitize(s.Summary) + "\n")
		} else {
			t.b.WriteString("            process at " + at + ": " + event.Sanitize(s.Summary) + "\n")
		}
	}
}

// summary writes each probe's summary lines, probes by name, under
// title and the host's name (if any) as it is.
func (t *textWriter) summary(title, host string, text map[string][]string) {
	b := &t.b
	t.headingOf(title, host)
	names := make([]string, 0, len(text))
	for n := range text {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		b.WriteString("  no probe data\n")
	}
	for _, n := range names {
		if t.md {
			fmt.Fprintf(b, "### %s\n\n```\n", event.Sanitize(n))
		} else {
			fmt.Fprintf(b, "  %s\n", event.Sanitize(n))
		}
		for _, l := range text[n] {
			if t.md {
				b.WriteString(event.Sanitize(l) + "\n")
			} else {
				b.WriteString("    " + event.Sanitize(l) + "\n")
			}
		}
		if t.md {
			b.WriteString("```\n\n")
		}
	}
}

// hostFacts lists the standing facts about the host, if any.
func (t *textWriter) hostFacts(facts []event.Event) {
	if len(facts) == 0 {
		return
	}
	t.heading("host facts")
	for _, ev := range facts {
		f, _ := event.As[event.Finding](ev)
		t.item(event.Sanitize(f.Summary))
	}
}

// Repeats is what a report line adds to a condition's summary: " (×N, last
// at T)" while it lasts, " (×N, cleared at T)" once it ended, nothing for
// one seen once and still open. count, state and last are its count, the
// state of its latest event and that event's time. The handoff uses it too.
func Repeats(count int, state string, last time.Time) string {
	var parts []string
	if count > 1 {
		parts = append(parts, fmt.Sprintf("×%d", count))
	}
	clock := last.UTC().Format("15:04:05")
	switch state {
	case event.FindingCleared:
		parts = append(parts, "cleared at "+clock)
	case event.FindingUpdate:
		parts = append(parts, "last at "+clock)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
