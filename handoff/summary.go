package handoff

import (
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
)

// Span is a piece of the summary paragraph; a Strong one is emphasised.
// Text is raw (from the file): each renderer escapes it.
type Span struct {
	Text   string
	Strong bool
}

// leadPerSeverity is how many conditions of one severity the summary
// names; the rest are counted.
const leadPerSeverity = 3

// leadNoteRunes bounds the latest note quoted in the summary.
const leadNoteRunes = 140

// Lead is the paragraph a report opens with, for whoever picks the incident
// up: what is critical and what is warn, on what, since when, and whether
// it was still going on when the window ended or had cleared; then the
// notes' gist. It is made from the report alone, so it is the same every
// time for the same recording.
func (r *Report) Lead() []Span {
	var out []Span
	add := func(text string, strong bool) { out = append(out, Span{text, strong}) }
	add("Between "+r.clock(r.From)+" and "+r.clock(r.To)+" UTC: ", false)
	if r.Critical+r.Warn == 0 {
		add("nothing critical or warn was found", true)
		add(".", false)
	}
	sep := ""
	for _, sev := range []event.Severity{event.Critical, event.Warn} {
		total := r.Critical
		if sev == event.Warn {
			total = r.Warn
		}
		if total == 0 {
			continue
		}
		add(sep, false)
		add(itoa(total)+" "+sev.String(), true)
		var items []string
		for _, f := range r.Findings {
			if f.Severity == sev && len(items) < leadPerSeverity {
				items = append(items, r.leadItem(f))
			}
		}
		text := ": " + strings.Join(items, "; ")
		if more := total - len(items); more > 0 {
			text += "; and " + itoa(more) + " more"
		}
		add(text+".", false)
		sep = " "
	}
	var also []string
	if r.Info > 0 {
		also = append(also, plural(r.Info, "info finding"))
	}
	if n := len(r.HostFacts); n > 0 {
		also = append(also, plural(n, "host fact")+" (listed last)")
	}
	if len(also) > 0 {
		add(" Also "+strings.Join(also, " and ")+".", false)
	}
	add(" ", false)
	notes := len(r.Notes) + r.NotesOmitted
	if notes == 0 {
		add("No notes.", false)
		return out
	}
	add(plural(notes, "note"), true)
	latest := r.Notes[len(r.Notes)-1]
	if notes == 1 {
		add(" by "+authors(r.Notes)+" at "+r.clock(latest.Time)+": ", false)
	} else {
		add(" by "+authors(r.Notes)+", the latest ("+nonEmpty(latest.Author)+", "+r.clock(latest.Time)+"): ", false)
	}
	add("“"+clip(strings.Join(strings.Fields(latest.Text), " "), leadNoteRunes)+"”.", false)
	return out
}

// leadItem says one condition in a few words: "disk.filling on /srv/binlog
// since 04:00:49, still going on at the end".
func (r *Report) leadItem(f Finding) string {
	s := f.Name
	if f.Host != "" {
		s = f.Host + ": " + s
	}
	if f.Subject != "" {
		s += " on " + f.Subject
	}
	var notes []string
	if f.Count > 1 {
		notes = append(notes, "×"+itoa(f.Count))
	}
	if f.Time.Before(r.Session) {
		notes = append(notes, "before the session")
	}
	aside := ""
	if len(notes) > 0 {
		aside = " (" + strings.Join(notes, ", ") + ")"
	}
	switch {
	case f.State == event.FindingCleared:
		s += " from " + r.clock(f.Time) + aside + ", cleared at " + r.clock(f.Last)
	case f.Open:
		s += " since " + r.clock(f.Time) + aside + ", still going on at the end (" + r.clock(r.To) + ")"
	case f.Count > 1:
		s += " from " + r.clock(f.Time) + aside + " to " + r.clock(f.Last)
	default:
		s += " at " + r.clock(f.Time) + aside
	}
	return s
}

// clock prints a time of the report to the second: the time of day, with
// the date too when it is not the day the window starts.
func (r *Report) clock(t time.Time) string {
	t = t.UTC()
	if y, m, d := t.Date(); y != r.From.UTC().Year() || m != r.From.UTC().Month() || d != r.From.UTC().Day() {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("15:04:05")
}

// authors names the notes' authors in the order they first wrote: "alice",
// "bob and alice", "bob, alice, carol and 2 others".
func authors(notes []Note) string {
	var names []string
	seen := map[string]bool{}
	for _, n := range notes {
		a := nonEmpty(n.Author)
		if !seen[a] {
			seen[a] = true
			names = append(names, a)
		}
	}
	switch {
	case len(names) == 1:
		return names[0]
	case len(names) <= 3:
		return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	}
	return strings.Join(names[:3], ", ") + " and " + plural(len(names)-3, "other")
}

func nonEmpty(author string) string {
	if strings.TrimSpace(author) == "" {
		return "unknown"
	}
	return author
}
