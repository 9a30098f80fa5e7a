package handoff

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stakeout/stakeout/chart"
	"github.com/stakeout/stakeout/event"
)

// WriteMarkdown renders the report as Markdown. Every string from the file
// goes through event.Sanitize (no control character reaches a terminal that
// cats the file) and then has the Markdown characters that could start
// markup, links, HTML or a table cell escaped. Literal blocks are indented
// code blocks, which no line of content can close.
func WriteMarkdown(w io.Writer, rep *Report) error {
	var b strings.Builder
	writeHeadMD(&b, rep)
	writeFindingsMD(&b, rep)
	writeNotesMD(&b, rep)
	writeProbesMD(&b, rep)
	writeReplayMD(&b, rep)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeHeadMD writes the title, the summary paragraph, the host's facts
// and the counts of findings and notes, and any damage to the file.
func writeHeadMD(b *strings.Builder, rep *Report) {
	fmt.Fprintf(b, "# Handoff: %s\n\n", mdText(reportTitle(rep)))
	for _, sp := range rep.Lead() {
		if sp.Strong {
			b.WriteString("**" + mdText(sp.Text) + "**")
		} else {
			b.WriteString(mdText(sp.Text))
		}
	}
	b.WriteString("\n\n")
	b.WriteString("| | |\n|---|---|\n")
	for _, f := range hostFacts(rep) {
		fmt.Fprintf(b, "| %s | %s |\n", f.K, mdText(f.V))
	}
	b.WriteString("\n")
	if t := hostRows(rep); len(t.Rows) > 0 {
		b.WriteString("|")
		for _, c := range t.Columns {
			b.WriteString(" " + mdText(c) + " |")
		}
		b.WriteString("\n|" + strings.Repeat("---|", len(t.Columns)) + "\n")
		for _, r := range t.Rows {
			b.WriteString("|")
			for _, c := range r {
				b.WriteString(" " + mdText(c) + " |")
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "**%s**: %d critical, %d warn, %d info. **%s.**\n", plural(rep.Critical+rep.Warn+rep.Info, "finding"),
		rep.Critical, rep.Warn, rep.Info, plural(len(rep.Notes)+rep.NotesOmitted, "note"))
	if rep.Damage != "" {
		fmt.Fprintf(b, "\n> **Warning:** %s; everything before it is reported.\n", mdText(rep.Damage))
	}
}

// writeFindingsMD writes the findings, each with its evidence, and how
// many more were left out.
func writeFindingsMD(b *strings.Builder, rep *Report) {
	b.WriteString("\n## Findings\n\n")
	if len(rep.Findings) == 0 {
		b.WriteString("No findings in this window.\n\n")
	}
	for i, f := range rep.Findings {
		host := ""
		if f.Host != "" {
			host = mdText(f.Host) + " · "
		}
		fmt.Fprintf(b, "### %d. %s · %s%s · %s%s\n\n", i+1, strings.ToUpper(f.Severity.String()), host, mdText(f.Name), fmtClock(f.Time),
			mdText(f.Repeats()))
		fmt.Fprintf(b, "**Summary** (probe %s): %s\n\n", mdText(f.Probe), mdText(f.Summary))
		writeEvidenceMD(b, f.Evidence)
		if len(f.Process.Rows) > 0 {
			writeEvidenceMD(b, f.Process)
		}
	}
	if rep.Omitted > 0 {
		fmt.Fprintf(b, "%d more findings, ranked lower, are not listed; `stakeout events FILE --kind finding` prints them all.\n\n", rep.Omitted)
	}
}

// writeNotesMD writes the engineers' notes, and how many more were left
// out.
func writeNotesMD(b *strings.Builder, rep *Report) {
	b.WriteString("## Notes\n\n")
	if len(rep.Notes) == 0 {
		b.WriteString("No notes in this window.\n")
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(b, "- **%s** %s: %s\n", fmtClock(n.Time), mdText(n.Author), mdText(n.Text))
	}
	if rep.NotesOmitted > 0 {
		fmt.Fprintf(b, "- … %d more notes not listed\n", rep.NotesOmitted)
	}
}

// writeProbesMD writes each probe's status, summary lines and charts.
func writeProbesMD(b *strings.Builder, rep *Report) {
	b.WriteString("\n## Probes\n\n")
	if len(rep.Summaries) == 0 {
		b.WriteString("No probe data in this window.\n\n")
	}
	for _, p := range rep.Summaries {
		status := p.Status
		if status == "" {
			status = "no status recorded"
		}
		host := ""
		if p.Host != "" {
			host = mdText(p.Host) + " · "
		}
		fmt.Fprintf(b, "### %s%s · %s\n\n", host, mdText(p.Name), mdText(status))
		if p.Reason != "" {
			fmt.Fprintf(b, "Reason: %s\n\n", mdText(p.Reason))
		}
		for _, l := range p.Lines {
			fmt.Fprintf(b, "    %s\n", event.Sanitize(l))
		}
		if len(p.Lines) > 0 {
			b.WriteString("\n")
		}
		for _, c := range p.Charts {
			writeChartMD(b, c)
		}
	}
}

// writeReplayMD writes the command that replays the file, then the host
// facts found in the window.
func writeReplayMD(b *strings.Builder, rep *Report) {
	b.WriteString("## Replay\n\n")
	b.WriteString("    " + rep.Replay + "\n")
	if len(rep.HostFacts) > 0 {
		b.WriteString("\n## Host facts\n\n")
		for _, f := range rep.HostFacts {
			fmt.Fprintf(b, "- %s\n", mdText(f))
		}
	}
}

func writeEvidenceMD(b *strings.Builder, ev Evidence) {
	if len(ev.Rows) == 0 {
		fmt.Fprintf(b, "Evidence (%s): no recorded events near this finding.\n\n", mdText(ev.Title))
		return
	}
	fmt.Fprintf(b, "Evidence: %s\n\n", mdText(ev.Title))
	b.WriteString("|")
	for _, c := range ev.Columns {
		b.WriteString(" " + mdText(c) + " |")
	}
	b.WriteString("\n|")
	for range ev.Columns {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range ev.Rows {
		clock := fmtClock(r.Time)
		if r.Mark {
			clock = "**" + clock + "** ◀"
		}
		b.WriteString("| " + clock + " |")
		for _, c := range r.Cells {
			b.WriteString(" " + mdText(c) + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// sparkWidth is the width of a Markdown sparkline; longer series are folded.
const sparkWidth = 60

func writeChartMD(b *strings.Builder, c Chart) {
	if len(c.Series) == 0 {
		return
	}
	fmt.Fprintf(b, "%s, %s → %s UTC, %s per point, each line on its own scale:\n\n", mdText(c.Title),
		c.From.UTC().Format("15:04:05"), c.To.UTC().Format("15:04:05"), fmtDur(c.Step))
	width := 0
	for _, s := range c.Series {
		width = max(width, len([]rune(event.Sanitize(s.Name))))
	}
	width = min(width, 24)
	for _, s := range c.Series {
		name := clip(event.Sanitize(s.Name), 24)
		name += strings.Repeat(" ", max(width-len([]rune(name)), 0))
		fmt.Fprintf(b, "    %s %s  %s\n", name, sparkLine(foldTo(s.Values, sparkWidth), s), scaleText(s, c.Unit))
	}
	b.WriteString("\n")
}

// sparkLine draws a series on its own scale. One that starts from zero (a
// count, an idle device) keeps zero as a blank and any activity at least ▁;
// any other runs from its lowest value (▁) to its highest (█).
func sparkLine(vals []float64, s Series) string {
	lo, hi, steady := s.Scale()
	if lo == 0 && !steady {
		return chart.Spark(vals, len(vals), 1, hi)[0]
	}
	if steady {
		hi = lo
	}
	return chart.SparkRange(vals, lo, hi)
}

// scaleText labels a series' scale: "min 8% · max 99.8%", or "steady at
// 65536" for one drawn flat.
func scaleText(s Series, unit string) string {
	lo, hi, steady := s.Scale()
	if steady {
		return "steady at " + fmtValue(hi, unit)
	}
	return "min " + fmtValue(lo, unit) + " · max " + fmtValue(hi, unit)
}

// foldTo shortens vals to at most n points, keeping the highest of each run.
func foldTo(vals []float64, n int) []float64 {
	if len(vals) <= n {
		return vals
	}
	out := make([]float64, n)
	for i := range out {
		lo, hi := i*len(vals)/n, (i+1)*len(vals)/n
		m := vals[lo]
		for _, v := range vals[lo+1 : hi] {
			if m != m || v > m { // m != m: NaN, nothing sampled yet
				m = v
			}
		}
		out[i] = m
	}
	return out
}

// fmtValue prints a chart value with its unit.
func fmtValue(v float64, unit string) string {
	switch unit {
	case "B":
		return fmtBytes(v)
	case "B/s":
		return fmtBytes(v) + "/s"
	case "%":
		return fmtNum(v) + "%"
	case "":
		return fmtNum(v)
	}
	return fmtNum(v) + " " + unit
}

func windowText(from, to time.Time) string {
	end := to.UTC().Format("15:04:05")
	if to.UTC().YearDay() != from.UTC().YearDay() || to.Year() != from.Year() {
		end = to.UTC().Format("2006-01-02 15:04:05")
	}
	return fmt.Sprintf("%s → %s UTC (%s)", from.UTC().Format("2006-01-02 15:04:05"), end, to.Sub(from).Round(time.Second))
}

// plural says "1 note", "2 notes".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return itoa(n) + " " + noun + "s"
}

func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = ShellQuote(a)
	}
	return strings.Join(q, " ")
}

// mdText makes a string from the file safe as Markdown inline text: control
// characters escaped by event.Sanitize, then a backslash before every
// character that could open emphasis, code, a link, raw HTML, an entity,
// strikethrough or a heading's closing sequence, or end a table cell.
// CommonMark lets any ASCII punctuation be backslash-escaped, so the text
// renders unchanged. Callers never start a line with it, so block markup
// (lists, headings, quotes) cannot begin there.
func mdText(s string) string {
	s = event.Sanitize(s)
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_[]<>|~&#", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
