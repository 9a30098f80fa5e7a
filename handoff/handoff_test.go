package handoff

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

func markdown(t *testing.T, rep *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteMarkdown(&b, rep); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func html(t *testing.T, rep *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func finding(t *testing.T, rep *Report, name string) Finding {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no %s among %d findings", name, len(rep.Findings))
	return Finding{}
}

// TestMarkdownGolden is the whole Markdown report of the fixture incident
// (go test ./handoff -run TestMarkdownGolden -update rewrites it).
func TestMarkdownGolden(t *testing.T) {
	golden.RequireEqual(t, []byte(markdown(t, build(t, writeFixture(t, plain), Options{}))))
}

func TestFindingsRankedBySeverityThenTime(t *testing.T) {
	rep := build(t, writeFixture(t, plain), Options{})
	var got []string
	for _, f := range rep.Findings {
		got = append(got, f.Severity.String()+" "+f.Name)
	}
	want := []string{"critical packet.gap", "critical disk.filling", "warn io.saturated", "warn signal.burst"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("order %v, want %v", got, want)
	}
	if rep.Critical != 2 || rep.Warn != 2 || rep.Info != 0 {
		t.Errorf("counts %d/%d/%d", rep.Critical, rep.Warn, rep.Info)
	}
	if rep.Probes[4].Name != "kmsg" || rep.Probes[4].Status != event.StatusUnavailable {
		t.Errorf("probes %+v", rep.Probes)
	}
}

// The burst's evidence is the two signal rows with their sender, the
// second (where the finding fired) marked.
func TestSignalBurstEvidence(t *testing.T) {
	f := finding(t, build(t, writeFixture(t, plain), Options{}), "signal.burst")
	rows := f.Evidence.Rows
	if len(rows) != 2 {
		t.Fatalf("want the two SIGHUP rows, got %+v", rows)
	}
	for i, ms := range []int{20_000, 20_003} {
		r := rows[i]
		if !r.Time.Equal(at(ms)) || r.Cells[0] != "signal" || r.Cells[1] != "812 (gimli)" || r.Cells[2] != "SIGHUP SI_USER" ||
			r.Cells[3] != "4410 (logrotate) uid 0" {
			t.Errorf("row %d: %v %q", i, r.Time, r.Cells)
		}
		if r.Mark != (i == 1) {
			t.Errorf("row %d mark %v: the finding fired at the second signal", i, r.Mark)
		}
	}
	if f.Evidence.Columns[4] != "sender" {
		t.Errorf("columns %q", f.Evidence.Columns)
	}
}

// The gap's evidence is the flow's packets either side of it, decoded from
// the 250 ms column batches (which also hold another flow's packets).
func TestPacketGapEvidence(t *testing.T) {
	f := finding(t, build(t, writeFixture(t, plain), Options{}), "packet.gap")
	var got []string
	for _, r := range f.Evidence.Rows {
		s := fmtClock(r.Time) + " " + strings.Join(r.Cells, " ")
		if r.Mark {
			s += " *"
		}
		got = append(got, s)
	}
	want := []string{
		"04:00:28.000 1.00 s — 54 B",
		"04:00:29.000 1.00 s — 54 B",
		"04:00:30.000 1.00 s — 54 B",
		"04:00:33.500 3.50 s — 54 B *",
		"04:00:34.000 500 ms — 54 B",
		"04:00:35.000 1.00 s — 54 B",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if f.Evidence.Title != "packets of 10.9.0.1 > 224.0.0.18 on veth1" {
		t.Errorf("title %q", f.Evidence.Title)
	}
}

// The disk's evidence is a few samples spread over the last two minutes,
// showing the used space growing at the rate.
func TestDiskFillingEvidence(t *testing.T) {
	f := finding(t, build(t, writeFixture(t, plain), Options{}), "disk.filling")
	rows := f.Evidence.Rows
	if len(rows) != 6 || !rows[5].Mark || !rows[5].Time.Equal(f.Time) {
		t.Fatalf("rows %+v", rows)
	}
	for i := 1; i < len(rows); i++ {
		if !rows[i].Time.After(rows[i-1].Time) || rows[i].Cells[2] != "47.7 MiB/s" {
			t.Errorf("row %d %v %q", i, rows[i].Time, rows[i].Cells)
		}
	}
}

func TestNotesInTimeOrder(t *testing.T) {
	rep := build(t, writeFixture(t, plain), Options{})
	if len(rep.Notes) != 2 || rep.Notes[0].Author != "bob" || rep.Notes[1].Author != "alice" ||
		!rep.Notes[1].Time.Equal(at(25_000)) {
		t.Errorf("notes %+v", rep.Notes)
	}
}

// Every string from the file is hostile: no control character, raw HTML or
// table-breaking character gets through either format.
func TestHostileStringsEscaped(t *testing.T) {
	rep := build(t, writeFixture(t, hostile), Options{File: "/tmp/x\x1b]0;t\x07 'y'.stk"})
	md, page := markdown(t, rep), html(t, rep)
	for name, out := range map[string]string{"markdown": md, "html": page} {
		if strings.ContainsAny(out, "\x1b\x07") || strings.Contains(out, "\u202e") {
			t.Errorf("%s holds a raw control or bidi character", name)
		}
	}
	// Outside indented code blocks (which show text literally), no tag.
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "    ") && strings.ContainsAny(strings.ReplaceAll(strings.ReplaceAll(line, `\<`, ""), `\>`, ""), "<>") {
			t.Errorf("markdown line holds a raw < or >: %s", line)
		}
	}
	for _, tag := range []string{"<script", "<img", "<b>", "<i>"} {
		if strings.Contains(page, tag) {
			t.Errorf("html holds raw %s from the file", tag)
		}
	}
	// Markdown: sanitized (\x1b shown), then each markup character escaped,
	// so it renders as the sanitized text.
	if !strings.Contains(md, `- **04:00:25.000** alice: \\x1b\]0;pwned\\x07\<script\>alert(1)\</script\> \| \*\*x\*\* \[l\](http://evil) \\x1b\[2J\\u202eevil`) {
		t.Errorf("markdown note not escaped as expected:\n%s", md)
	}
	if !strings.Contains(page, `\x1b]0;pwned\x07&lt;script&gt;alert(1)&lt;/script&gt;`) {
		t.Errorf("html note not sanitized and escaped")
	}
	// The sender's comm sits in a table cell: its | must not split the row.
	for _, line := range strings.Split(md, "\n") {
		if strings.Contains(line, "| signal |") {
			if n := strings.Count(line, "|") - strings.Count(line, `\|`); n != 6 {
				t.Errorf("signal row has %d cell separators, want 6: %s", n, line)
			}
		}
	}
	// The replay command quotes the hostile path so it pastes back exactly.
	if !strings.Contains(md, `stakeout replay $'/tmp/x\x1b]0;t\x07 \'y\'.stk'`) {
		t.Errorf("replay command: %s", rep.Replay)
	}
}

func TestWindow(t *testing.T) {
	path := writeFixture(t, plain)
	rep := build(t, path, Options{Since: at(15_000), Until: at(40_000)})
	var names []string
	for _, f := range rep.Findings {
		names = append(names, f.Name)
		if f.Last.Before(at(15_000)) || f.Last.After(at(40_000)) {
			t.Errorf("%s last at %s is outside the window", f.Name, fmtClock(f.Last))
		}
	}
	// disk.filling (04:00:49) is outside; the gap at 04:00:33.5 and the
	// burst at 04:00:20 are in; io.saturated, raised at 04:00:14, lasted
	// into the window (cleared at 04:00:25): it is there, since 04:00:14.
	if strings.Join(names, ",") != "packet.gap,io.saturated,signal.burst" {
		t.Errorf("findings %v", names)
	}
	if io := finding(t, rep, "io.saturated"); !io.Time.Equal(at(14_000)) || io.State != event.FindingCleared || !io.Last.Equal(at(25_000)) {
		t.Errorf("io.saturated since %s, %q at %s", fmtClock(io.Time), io.State, fmtClock(io.Last))
	}
	if len(rep.Notes) != 1 || rep.Notes[0].Author != "alice" {
		t.Errorf("notes %+v", rep.Notes)
	}
	if !rep.From.Equal(at(15_000)) || !rep.To.Equal(at(40_000)) {
		t.Errorf("window %s → %s", rep.From, rep.To)
	}
	if want := "stakeout replay /var/tmp/stakeout/db-7-20261123T040000Z.stk --since 2026-11-23T04:00:15Z"; rep.Replay != want {
		t.Errorf("replay %q, want %q", rep.Replay, want)
	}
	// Charts cover the window only: 25 one-second points.
	for _, p := range rep.Summaries {
		for _, c := range p.Charts {
			if !c.From.Equal(at(15_000)) || len(c.Series[0].Values) != 25 {
				t.Errorf("%s %q: from %s, %d points", p.Name, c.Title, c.From, len(c.Series[0].Values))
			}
		}
	}
	md := markdown(t, rep)
	if !strings.Contains(md, "| window | 2026-11-23 04:00:15 → 04:00:40 UTC (25s) |") {
		t.Errorf("window line missing:\n%s", md)
	}
}

// A long recording still makes charts of a fixed number of points.
func TestChartsAreDownsampled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "long.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "h", Started: t0}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	for s := range 4 * 3600 { // four hours, one sample a second
		util := float64(s % 100)
		if err := w.Write(event.New(t0.Add(time.Duration(s)*time.Second), "iostat",
			&schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{{Device: "vda", UtilPct: util}}})); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep := build(t, path, Options{})
	c := rep.Summaries[0].Charts[0]
	if len(c.Series[0].Values) != DefaultPoints || c.Step != rep.To.Sub(rep.From)/DefaultPoints {
		t.Fatalf("%d points of %s", len(c.Series[0].Values), c.Step)
	}
	if c.Series[0].Peak() != 99 {
		t.Errorf("a point keeps its highest sample: peak %v", c.Series[0].Peak())
	}
	if n := strings.Count(html(t, rep), "<polyline"); n != 2 { // %util and throughput, one unbroken line each
		t.Errorf("%d polylines", n)
	}
}

// A recording cut short is still reported, with a warning.
func TestDamagedTailIsReported(t *testing.T) {
	path := writeFixture(t, plain)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b[:len(b)*2/3], 0o600); err != nil {
		t.Fatal(err)
	}
	rep := build(t, path, Options{})
	if !strings.Contains(rep.Damage, "recording ends early") {
		t.Errorf("damage %q", rep.Damage)
	}
	if !strings.Contains(markdown(t, rep), "**Warning:** recording ends early") {
		t.Error("no warning in the Markdown")
	}
}

// A quoted word goes through a real shell and comes back byte for byte.
func TestShellQuote(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash on this host to check the quoting against")
	}
	for _, s := range []string{"plain.stk", "/var/tmp/a b.stk", "it's", `back\slash`, "$HOME `id` ;|&", "",
		"esc\x1b]0;t\x07", "nl\nx", "bad\xffutf8", "bidi\u202e", "ünïcode ✓", "-dash"} {
		q := ShellQuote(s)
		if strings.ContainsAny(q, "\x1b\x07\n") {
			t.Errorf("%q quoted as %q: not one printable line", s, q)
		}
		out, err := exec.Command(bash, "-c", "printf %s "+q).Output()
		if err != nil || string(out) != s {
			t.Errorf("%q quoted as %q reads back as %q (%v)", s, q, out, err)
		}
	}
	if got := ShellQuote("/var/tmp/stakeout/web-3.stk"); got != "/var/tmp/stakeout/web-3.stk" {
		t.Errorf("a plain path is left alone: %q", got)
	}
}

// TestReplayCommandNames: a file named like a flag is written as ./-e.stk,
// and every name is quoted for the shell, with --since after it.
func TestReplayCommandNames(t *testing.T) {
	start := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	for file, want := range map[string]string{
		"-e.stk":            "stakeout replay ./-e.stk",
		"--since":           "stakeout replay ./--since",
		"-it's here.stk":    `stakeout replay './-it'\''s here.stk'`,
		"/var/tmp/-x.stk":   "stakeout replay /var/tmp/-x.stk",
		"rec/a b.stk":       "stakeout replay 'rec/a b.stk'",
		"":                  "stakeout replay FILE",
		"-tab\there.stk":    `stakeout replay $'./-tab\x09here.stk'`,
		"web-3-2026.stk":    "stakeout replay web-3-2026.stk",
		"it's \"quoted\"":   `stakeout replay 'it'\''s "quoted"'`,
		"-dash --since.stk": "stakeout replay './-dash --since.stk'",
	} {
		if got := ReplayCommand(file, start, start); got != want {
			t.Errorf("ReplayCommand(%q) = %s, want %s", file, got, want)
		}
	}
	if got := ReplayCommand("-e.stk", start.Add(90*time.Second), start); got != "stakeout replay ./-e.stk --since 2026-11-23T04:01:30Z" {
		t.Errorf("with a window: %s", got)
	}
}
