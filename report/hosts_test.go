package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// TestDocumentOfSeveralHosts: events of the recording's own host and of
// r1, with the same finding key on each: two findings, each naming its
// host (the own one by its hostname), probes and summaries per host, and
// a hosts list with r1's facts and clock offset, which jq can group by.
func TestDocumentOfSeveralHosts(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	on := func(host string, ev event.Event) event.Event { ev.Host = host; return ev }
	b := NewBuilder()
	b.Observe(on("r1", event.New(t0, schema.ProbeRemote, &schema.HostFacts{Host: "r1", Target: "root@r1:2222", Hostname: "router-1", Kernel: "6.1"})))
	b.Observe(on("r1", event.New(t0, schema.ProbeRemote, &schema.Clock{Host: "r1", Offset: 3 * time.Second, RTT: 2 * time.Millisecond, Samples: 5})))
	for _, h := range []string{"", "r1"} {
		b.Observe(on(h, event.New(t0, "demo", &event.ProbeStatus{Status: event.StatusOK})))
		for i := range 2 {
			b.Observe(on(h, event.New(t0.Add(time.Duration(i)*time.Second), "demo", &sample{})))
		}
		b.Observe(on(h, event.New(t0.Add(time.Second), "demo", &event.Finding{Finding: "demo.bad", Key: "demo.bad sda", Severity: event.Warn, Summary: "bad on " + h})))
	}
	b.Observe(on("r1", event.New(t0.Add(2*time.Second), "demo", &sample{})))
	d := b.Document(map[string]any{"hostname": "web-3", "kernel": "6.18.0"}, "x.stk", time.Time{}, 0)
	var buf bytes.Buffer
	if err := Write(&buf, d, "json"); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Findings []struct{ Host, Summary string }
		Probes   []struct{ Host, Name, Status string }
		Hosts    []struct {
			Host, Hostname, Kernel, Target string
			Offset                         *int64 `json:"clock_offset_ns"`
			Summary                        map[string]map[string]int
		}
		Summary map[string]map[string]int
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Findings) != 2 || doc.Findings[0].Host != "web-3" || doc.Findings[1].Host != "r1" {
		t.Fatalf("findings %+v", doc.Findings)
	}
	if len(doc.Probes) != 2 || doc.Probes[0].Host != "web-3" || doc.Probes[1].Host != "r1" {
		t.Fatalf("probes %+v", doc.Probes)
	}
	if len(doc.Hosts) != 2 {
		t.Fatalf("hosts %+v", doc.Hosts)
	}
	r1, own := doc.Hosts[0], doc.Hosts[1]
	if r1.Host != "r1" || r1.Hostname != "router-1" || r1.Target != "root@r1:2222" || r1.Offset == nil || *r1.Offset != int64(3*time.Second) {
		t.Errorf("r1: %+v", r1)
	}
	if own.Host != "web-3" || own.Kernel != "6.18.0" || own.Offset != nil {
		t.Errorf("own host: %+v", own)
	}
	if r1.Summary["demo"]["events"] != 3 || own.Summary["demo"]["events"] != 2 || doc.Summary["demo"]["events"] != 2 {
		t.Errorf("summaries: r1 %v, own %v, top %v", r1.Summary, own.Summary, doc.Summary)
	}
	buf.Reset()
	if err := Write(&buf, d, "text"); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, want := range []string{"stakeout report: 2 hosts (r1, web-3)", "r1 is router-1, Linux 6.1, clock +3.000s (±0.001s)",
		"WARN     r1           demo.bad", "WARN     web-3        demo.bad", "SUMMARY: r1", "SUMMARY: web-3"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

// TestDocumentOfOneHost: a recording of its own host alone is as before:
// no host on the findings, and one entry in hosts with the header's facts.
func TestDocumentOfOneHost(t *testing.T) {
	d := build()
	var buf bytes.Buffer
	if err := Write(&buf, d, "json"); err != nil {
		t.Fatal(err)
	}
	var doc struct{ Findings []map[string]any }
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, f := range doc.Findings {
		if _, ok := f["host"]; ok {
			t.Errorf("a finding of the recording's own host names it: %v", f)
		}
	}
	if len(d.Hosts) != 1 || d.Hosts[0].Host != "web-3" || d.Hosts[0].Summary != nil || d.MultiHost {
		t.Errorf("hosts %+v", d.Hosts)
	}
}
