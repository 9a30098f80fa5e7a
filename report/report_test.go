package report

import (
	"bytes"
	"encoding/json"
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
	if len(fs) != 2 || fs[0].(map[string]any)["finding"] != "demo.meh" {
		t.Errorf("findings not in time order: %v", fs)
	}
	f := fs[1].(map[string]any)
	for _, k := range []string{"time", "probe", "kind", "finding", "severity", "summary", "data"} {
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

func TestCoreDumpsLostIsNearTheTop(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	b := NewBuilder()
	b.Expect("kmsg", "coredump")
	b.Observe(event.New(t0, "kmsg", &event.Finding{Finding: "kernel.segfault", Severity: event.Warn, Summary: "haproxy segfaulted"}))
	b.Observe(event.New(t0.Add(time.Second), "coredump", &event.Finding{Finding: "core.dumps_lost", Severity: event.Warn,
		Summary: "core_pattern pipes to /usr/share/apport/apport, which does not exist on this host"}))
	d := b.Document(map[string]any{"hostname": "lb-1"}, "", time.Time{}, 0)
	for _, format := range []string{"text", "md"} {
		var buf bytes.Buffer
		if err := Write(&buf, d, format); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		core := strings.Index(out, "which does not exist on this host")
		probes := strings.Index(strings.ToLower(out), "probes")
		if core < 0 || probes < 0 || core > probes {
			t.Errorf("%s: core.dumps_lost is not above the probes and findings:\n%s", format, out)
		}
	}
}
