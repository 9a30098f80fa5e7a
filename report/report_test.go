package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

type countSum struct{ n int }

func (c *countSum) Observe(event.Event) { c.n++ }
func (c *countSum) Result() any         { return map[string]int{"events": c.n} }
func (c *countSum) Lines() []string     { return []string{"events seen: " + strings.Repeat("|", c.n)} }

type sample struct{}

func (sample) EventKind() string { return "report_test_sample" }

func init() {
	event.Register("report_test_sample", func() event.Body { return &sample{} })
	RegisterSummary("demo", func() Summarizer { return &countSum{} })
}

func build() Document {
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	b := NewBuilder()
	b.Expect("demo", "modules")
	b.Observe(event.New(t0, "demo", &event.ProbeStatus{Status: event.StatusOK}))
	b.Observe(event.New(t0, "modules", &event.ProbeStatus{Status: event.StatusUnavailable, Reason: "no /proc/modules: this kernel has no loadable modules"}))
	for i := 0; i < 3; i++ {
		b.Observe(event.New(t0.Add(time.Duration(i)*time.Second), "demo", &sample{}))
	}
	b.Observe(event.New(t0.Add(2*time.Second), "demo", &event.Finding{Finding: "demo.bad", Severity: event.Critical,
		Summary: "evil\x1b]0;title\x07 process", Data: map[string]any{"pid": 610}}))
	b.Observe(event.New(t0.Add(time.Second), "demo", &event.Finding{Finding: "demo.meh", Severity: event.Warn, Summary: "meh"}))
	return b.Document(map[string]any{"hostname": "web-3", "kernel": "6.18.0"}, "/tmp/x.stk", time.Time{}, 0)
}

func TestDocumentJSONContract(t *testing.T) {
	d := build()
	var buf bytes.Buffer
	if err := Write(&buf, d, "json"); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"host", "started", "duration_s", "file", "probes", "findings", "summary"} {
		if _, ok := m[k]; !ok {
			t.Errorf("document lacks %q", k)
		}
	}
	if m["duration_s"].(float64) != 2 {
		t.Errorf("duration_s = %v, want 2 (span of events)", m["duration_s"])
	}
	probes := m["probes"].([]any)
	if len(probes) != 2 || probes[1].(map[string]any)["status"] != "unavailable" {
		t.Errorf("probes = %v", probes)
	}
	fs := m["findings"].([]any)
	if len(fs) != 2 || fs[0].(map[string]any)["finding"] != "demo.bad" {
		t.Errorf("findings not worst first: %v", fs)
	}
	f := fs[0].(map[string]any)
	for _, k := range []string{"time", "probe", "kind", "finding", "severity", "summary", "data", "since", "count"} {
		if _, ok := f[k]; !ok {
			t.Errorf("finding lacks %q", k)
		}
	}
	if w, ok := d.Worst(); !ok || w != event.Critical {
		t.Errorf("Worst = %v %v", w, ok)
	}
}

func TestTextAndMarkdownAreSanitized(t *testing.T) {
	d := build()
	for _, format := range []string{"text", "md"} {
		var buf bytes.Buffer
		if err := Write(&buf, d, format); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if strings.ContainsRune(out, 0x1b) || strings.ContainsRune(out, 0x07) {
			t.Errorf("%s output carries raw control characters", format)
		}
		for _, want := range []string{`evil\x1b]0;title\x07 process`, "web-3 (Linux 6.18.0)", "no /proc/modules", "events seen: |||"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s output lacks %q:\n%s", format, want, out)
			}
		}
	}
	if err := Write(&bytes.Buffer{}, d, "yaml"); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestFindingsAreBounded(t *testing.T) {
	b := NewBuilder()
	for i := 0; i < MaxFindings+7; i++ {
		b.Observe(event.New(time.Unix(int64(i), 0), "demo", &event.Finding{Finding: "x"}))
	}
	d := b.Document(nil, "", time.Time{}, 0)
	if len(d.Findings) != MaxFindings || d.Omitted != 7 {
		t.Fatalf("kept %d, omitted %d", len(d.Findings), d.Omitted)
	}
}

// Issue 12: a condition that stays true with drifting figures was 300
// findings and the report opened with them. Now it is one element: the
// latest summary, the worst severity, since, count and state; the document
// lists the worst first, and Worst (snapshot --fail-on) counts it once.
func TestOneElementPerCondition(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	b := NewBuilder()
	core := func(s int, state string, count int) event.Event {
		f := &event.Finding{Finding: "core.dumps_lost", Severity: event.Warn, Key: "core.dumps_lost zero_limit", State: state,
			Count: count, Summary: fmt.Sprintf("core dumps would be lost: %d processes have a core size limit of 0", 26+count%7)}
		if state != "" {
			f.Since = t0
		}
		return event.New(at(s), "coredump", f)
	}
	b.Observe(core(0, "", 0))
	for i := 1; i <= 300; i++ {
		b.Observe(core(i*5, event.FindingUpdate, i+1))
	}
	b.Observe(event.New(at(20), "diskfill", &event.Finding{Finding: "disk.filling", Severity: event.Warn, Key: "disk.filling /var", Summary: "/var: full in 3h"}))
	b.Observe(event.New(at(40), "diskfill", &event.Finding{Finding: "disk.filling", Severity: event.Critical, Key: "disk.filling /var",
		State: event.FindingUpdate, Since: at(20), Count: 21, Summary: "/var: full in 20m"}))
	b.Observe(event.New(at(100), "diskfill", &event.Finding{Finding: "disk.filling", Severity: event.Warn, Key: "disk.filling /var",
		State: event.FindingCleared, Since: at(20), Count: 75, Summary: "/var: full in 5h"}))
	// The same mount filling again is a new condition.
	b.Observe(event.New(at(200), "diskfill", &event.Finding{Finding: "disk.filling", Severity: event.Warn, Key: "disk.filling /var", Summary: "/var again"}))
	d := b.Document(map[string]any{"hostname": "web-3"}, "", time.Time{}, 0)

	var buf bytes.Buffer
	if err := Write(&buf, d, "json"); err != nil {
		t.Fatal(err)
	}
	var m struct {
		Findings []map[string]any `json:"findings"`
	}
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range m.Findings {
		got = append(got, fmt.Sprintf("%v %v %v since %v ×%v %v", f["severity"], f["summary"], f["state"], f["since"], f["count"], f["time"]))
	}
	want := []string{
		"critical /var: full in 5h cleared since 2026-11-23T04:00:20Z ×75 2026-11-23T04:01:40Z",
		"warn core dumps would be lost: 26 processes have a core size limit of 0 update since 2026-11-23T04:00:00Z ×301 2026-11-23T04:25:00Z",
		"warn /var again <nil> since 2026-11-23T04:03:20Z ×1 2026-11-23T04:03:20Z",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("findings:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if m.Findings[0]["key"] != "disk.filling /var" {
		t.Errorf("key %v", m.Findings[0]["key"])
	}
	if w, ok := d.Worst(); !ok || w != event.Critical {
		t.Errorf("worst %v", w)
	}

	buf.Reset()
	if err := Write(&buf, d, "text"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"FINDINGS (3)\n  04:00:20  CRITICAL disk.filling       /var: full in 5h (×75, cleared at 04:01:40)\n" +
			"  04:00:00  WARN     core.dumps_lost    core dumps would be lost: 26 processes have a core size limit of 0 (×301, last at 04:25:00)\n" +
			"  04:03:20  WARN     disk.filling       /var again\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks\n%s\nin\n%s", want, out)
		}
	}
}

// Info-level readiness facts (everything started with a core limit of 0)
// are not incidents: text and Markdown list them after everything else,
// under host facts; a warning about a watched process stays a finding.
func TestHostFactsComeLast(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	b := NewBuilder()
	b.Expect("kmsg", "coredump")
	b.Observe(event.New(t0, "coredump", &event.Finding{Finding: "core.dumps_lost", Severity: event.Info, Key: "core.dumps_lost zero_limit",
		Summary: "core dumps would be lost: 38 of 40 processes have a core size limit of 0"}))
	b.Observe(event.New(t0.Add(time.Second), "kmsg", &event.Finding{Finding: "kernel.segfault", Severity: event.Warn, Summary: "haproxy segfaulted"}))
	b.Observe(event.New(t0.Add(2*time.Second), "coredump", &event.Finding{Finding: "core.dumps_lost", Severity: event.Warn,
		Key: "core.dumps_lost pipe_target", Summary: "core_pattern pipes to /usr/share/apport/apport, which does not exist on this host"}))
	d := b.Document(map[string]any{"hostname": "lb-1"}, "", time.Time{}, 0)
	if len(d.Findings) != 3 {
		t.Fatalf("JSON keeps every condition: %d", len(d.Findings))
	}
	for _, format := range []string{"text", "md"} {
		var buf bytes.Buffer
		if err := Write(&buf, d, format); err != nil {
			t.Fatal(err)
		}
		out := strings.ToLower(buf.String())
		findings := strings.Index(out, "findings (2)")
		segv := strings.Index(out, "haproxy segfaulted")
		pipe := strings.Index(out, "which does not exist on this host")
		summary := strings.Index(out, "summary\n")
		facts := strings.Index(out, "host facts")
		limit := strings.Index(out, "38 of 40 processes")
		if findings < 0 || !(findings < segv && segv < pipe && pipe < summary && summary < facts && facts < limit) ||
			strings.Count(out, "38 of 40") != 1 {
			t.Errorf("%s: findings %d segfault %d pipe %d summary %d host facts %d limit %d:\n%s",
				format, findings, segv, pipe, summary, facts, limit, out)
		}
	}
}
