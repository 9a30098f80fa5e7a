package handoff

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// Issue 12: the handoff opens with a paragraph a person arriving at 4 a.m.
// can act on.

// lead is the summary paragraph as plain text.
func lead(rep *Report) string {
	var b strings.Builder
	for _, s := range rep.Lead() {
		b.WriteString(s.Text)
	}
	return b.String()
}

// The report opens with one paragraph: what is critical, on what, since
// when, whether it still held at the end or cleared; the warnings; the
// notes' gist. It is the first thing under the title in both formats.
func TestLeadSaysWhatIsCriticalAndSince(t *testing.T) {
	rep := build(t, writeFixture(t, plain), Options{})
	got := lead(rep)
	for _, want := range []string{
		"Between 04:00:00 and 04:01:00 UTC: 2 critical: ",
		"packet.gap on flow 10.9.0.1 > 224.0.0.18 (veth1) from 04:00:32, cleared at 04:00:33;",
		"disk.filling on /srv/binlog since 04:00:49, still going on at the end (04:01:00).",
		" 2 warn: io.saturated on sdb from 04:00:14 (×9), cleared at 04:00:25;",
		"2 notes by bob and alice, the latest (alice, 04:00:25): “SIGHUP twice from logrotate; ruled out the load balancer”.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if strings.Index(got, "critical") > strings.Index(got, "warn") {
		t.Errorf("critical comes first: %s", got)
	}
	if again := lead(build(t, writeFixture(t, plain), Options{})); again != got {
		t.Errorf("the summary is not the same from the same recording:\n%s\n%s", got, again)
	}

	md := markdown(t, rep)
	first := strings.SplitN(md, "\n\n", 3)
	if len(first) < 3 || first[0] != "# Handoff: db-7.prod" ||
		!strings.HasPrefix(first[1], "Between 04:00:00 and 04:01:00 UTC: **2 critical**: ") ||
		!strings.Contains(first[1], `disk.filling on /srv/binlog since 04:00:49, still going on at the end (04:01:00)`) {
		t.Errorf("the Markdown does not open with the summary:\n%s", md[:min(len(md), 600)])
	}
	page := html(t, rep)
	h1, p := strings.Index(page, "<h1>"), strings.Index(page, `<p class="lead">Between 04:00:00 and 04:01:00 UTC: <strong>2 critical</strong>: `)
	if h1 < 0 || p < h1 || p > strings.Index(page, `<table class="facts">`) ||
		!strings.Contains(page, "disk.filling on /srv/binlog since 04:00:49, still going on at the end (04:01:00)") {
		t.Errorf("the page does not open with the summary")
	}
}

// Within a window the summary speaks of the window: sdb's saturation
// cleared inside it, the burst is the only other condition, one note.
func TestLeadOfAWindow(t *testing.T) {
	rep := build(t, writeFixture(t, plain), Options{Since: at(15_000), Until: at(40_000)})
	got := lead(rep)
	for _, want := range []string{"Between 04:00:15 and 04:00:40 UTC: 1 critical: packet.gap on flow",
		"2 warn: io.saturated on sdb from 04:00:14 (×9), cleared at 04:00:25; signal.burst on pid 812 (gimli) since 04:00:20, still going on at the end (04:00:40).",
		"1 note by alice at 04:00:25: “SIGHUP twice"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}

// A quiet recording says so, and a note with no author is still counted.
func TestLeadOfAQuietRecording(t *testing.T) {
	path := filepath.Join(t.TempDir(), "quiet.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "h", Started: t0}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	for s := range 10 {
		if err := w.Write(event.New(at(s*1000), "iostat", &schema.IOSample{IntervalS: 1})); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Write(event.New(at(5000), event.ProbeNote, &event.Note{Text: "looked at\nsdb: fine"})); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := lead(build(t, path, Options{}))
	if want := "Between 04:00:00 and 04:00:09 UTC: nothing critical or warn was found. 1 note by unknown at 04:00:05: “looked at sdb: fine”."; got != want {
		t.Errorf("summary\n%s\nwant\n%s", got, want)
	}
}
