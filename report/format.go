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

func writeText(w io.Writer, d Document, md bool) error {
	var b strings.Builder
	h := func(s string) {
		if md {
			fmt.Fprintf(&b, "\n## %s\n\n", s)
		} else {
			fmt.Fprintf(&b, "\n%s\n", strings.ToUpper(s))
		}
	}
	end := d.Started.Add(event.DurationOf(d.DurationS))
	title := "stakeout report"
	if md {
		title = "# " + title
	}
	fmt.Fprintf(&b, "%s: %s\n", title, hostLine(d.Host))
	if md {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%s → %s UTC (%s)\n", d.Started.UTC().Format("2006-01-02 15:04:05"),
		end.UTC().Format("15:04:05"), time.Duration(d.DurationS*float64(time.Second)).Round(time.Second))
	if d.File != "" {
		if md {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "file: %s\n", event.Sanitize(d.File))
	}
	if d.Damage != "" {
		fmt.Fprintf(&b, "warning: %s\n", event.Sanitize(d.Damage))
	}

	h("probes")
	for _, p := range d.Probes {
		line := fmt.Sprintf("%-10s %s", event.Sanitize(p.Name), p.Status)
		if p.Reason != "" {
			line += ": " + event.Sanitize(p.Reason)
		}
		if md {
			line = "- " + line
		} else {
			line = "  " + line
		}
		b.WriteString(line + "\n")
	}

	// Worst first, then by when raised; each condition once, with how many
	// times it was seen and when last. Standing facts about the host go last.
	var listed, facts []event.Event
	for _, ev := range d.Findings {
		if f, ok := event.AsFinding(ev); ok {
			if HostFact(f, f.Severity) {
				facts = append(facts, ev)
			} else {
				listed = append(listed, ev)
			}
		}
	}
	h(fmt.Sprintf("findings (%d)", len(listed)+d.Omitted))
	if len(listed) == 0 {
		b.WriteString("  none\n")
	}
	for _, ev := range listed {
		f, _ := event.AsFinding(ev)
		since := ev.Time
		if !f.Since.IsZero() {
			since = f.Since
		}
		clock := since.UTC().Format("15:04:05")
		more := Repeats(f.Count, f.State, ev.Time)
		line := fmt.Sprintf("%s  %-8s %-18s %s%s", clock, strings.ToUpper(f.Severity.String()),
			event.Sanitize(f.Finding), event.Sanitize(f.Summary), more)
		if md {
			line = "- `" + clock + "` **" + f.Severity.String() + "** `" +
				event.Sanitize(f.Finding) + "` " + event.Sanitize(f.Summary) + more
		} else {
			line = "  " + line
		}
		b.WriteString(line + "\n")
		for _, s := range d.SnapshotsOf(ev) {
			at := s.Time.UTC().Format("15:04:05.000")
			if md {
				b.WriteString("  - process at `" + at + "`: " + event.Sanitize(s.Summary) + "\n")
			} else {
				b.WriteString("            process at " + at + ": " + event.Sanitize(s.Summary) + "\n")
			}
		}
	}
	if d.Omitted > 0 {
		fmt.Fprintf(&b, "  … %d more findings not listed\n", d.Omitted)
	}

	h("summary")
	names := make([]string, 0, len(d.SummaryText))
	for n := range d.SummaryText {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		b.WriteString("  no probe data\n")
	}
	for _, n := range names {
		if md {
			fmt.Fprintf(&b, "### %s\n\n```\n", event.Sanitize(n))
		} else {
			fmt.Fprintf(&b, "  %s\n", event.Sanitize(n))
		}
		for _, l := range d.SummaryText[n] {
			if md {
				b.WriteString(event.Sanitize(l) + "\n")
			} else {
				b.WriteString("    " + event.Sanitize(l) + "\n")
			}
		}
		if md {
			b.WriteString("```\n\n")
		}
	}

	if len(facts) > 0 {
		h("host facts")
		for _, ev := range facts {
			f, _ := event.AsFinding(ev)
			if md {
				b.WriteString("- " + event.Sanitize(f.Summary) + "\n")
			} else {
				b.WriteString("  " + event.Sanitize(f.Summary) + "\n")
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
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
