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

	// Why a crash would leave no core goes near the top: by the time someone
	// reads this, the crash may already have happened.
	if lost := coreDumpsLost(d); len(lost) > 0 {
		h("core dumps would be lost")
		for _, l := range lost {
			if md {
				b.WriteString("- " + event.Sanitize(l) + "\n")
			} else {
				b.WriteString("  " + event.Sanitize(l) + "\n")
			}
		}
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

	h(fmt.Sprintf("findings (%d)", len(d.Findings)+d.Omitted))
	if len(d.Findings) == 0 {
		b.WriteString("  none\n")
	}
	for _, ev := range d.Findings {
		f, ok := event.AsFinding(ev)
		if !ok {
			continue
		}
		line := fmt.Sprintf("%s  %-8s %-18s %s", ev.Time.UTC().Format("15:04:05"), strings.ToUpper(f.Severity.String()),
			event.Sanitize(f.Finding), event.Sanitize(f.Summary))
		if md {
			line = "- `" + ev.Time.UTC().Format("15:04:05") + "` **" + f.Severity.String() + "** `" +
				event.Sanitize(f.Finding) + "` " + event.Sanitize(f.Summary)
		} else {
			line = "  " + line
		}
		b.WriteString(line + "\n")
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
	_, err := io.WriteString(w, b.String())
	return err
}

// coreDumpsLost lists the core.dumps_lost summaries, once each.
func coreDumpsLost(d Document) []string {
	var out []string
	seen := map[string]bool{}
	for _, ev := range d.Findings {
		if f, ok := event.AsFinding(ev); ok && f.Finding == "core.dumps_lost" && !seen[f.Summary] {
			seen[f.Summary] = true
			out = append(out, f.Summary)
		}
	}
	return out
}
