package handoff

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// Issue 12's host, 40 minutes of it: processes come and go, so the
// core-dump readiness changes every 5 s (every process has a core limit of
// 0: context, not an alarm); a watched haproxy has a limit of 0 too (a
// warning); and kernel I/O errors on sdb come every 20 s (×118 by the last minute refresh). The handoff's 50
// slots were filled with repeats of the first; now each condition is one
// entry with ×N and its first and last time, the readiness context is a
// host fact at the end, and nothing is "not listed".
func TestHandoffOneEntryPerCondition(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web-3.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "web-3", Started: t0}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	write := func(at time.Time, probe string, b event.Body) {
		if err := w.Write(event.New(at, probe, b)); err != nil {
			t.Fatal(err)
		}
	}
	write(t0, "coredump", &event.ProbeStatus{Status: event.StatusOK})
	for s := 0; s < 40*60; s += 5 {
		n := 120 + s%11
		write(t0.Add(time.Duration(s)*time.Second), "coredump", &schema.CoreReadiness{CorePattern: "core", SuidDumpable: 1,
			Processes: n, ZeroLimit: n, NoCore: []schema.CoreLimit{{PID: 1, Comm: "init"}}})
		if s%20 == 0 {
			write(t0.Add(time.Duration(s)*time.Second+time.Millisecond), "kmsg", &schema.Kmsg{Level: "err", Priority: 3,
				Text: fmt.Sprintf("blk_update_request: I/O error, dev sdb, sector %d op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0", 1000+s)})
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep := build(t, path, Options{})
	if len(rep.Findings) != 1 || rep.Omitted != 0 || rep.Critical != 1 || rep.Warn != 0 || rep.Info != 0 {
		t.Fatalf("findings %+v, omitted %d, counts %d/%d/%d", rep.Findings, rep.Omitted, rep.Critical, rep.Warn, rep.Info)
	}
	io := rep.Findings[0]
	if io.Name != "kernel.io_error" || io.Count != 118 || !io.Time.Equal(t0.Add(time.Millisecond)) || io.State != event.FindingUpdate ||
		!io.Last.Equal(t0.Add(39*time.Minute+time.Millisecond)) {
		t.Errorf("io_error: ×%d since %s, %q last at %s", io.Count, fmtClock(io.Time), io.State, fmtClock(io.Last))
	}
	if len(rep.HostFacts) != 1 || !strings.Contains(rep.HostFacts[0], "processes have a core size limit of 0") {
		t.Fatalf("host facts %q", rep.HostFacts)
	}
	md := markdown(t, rep)
	heading := strings.Index(md, "### 1. CRITICAL · kernel.io\\_error · 04:00:00.001 (×118, last at 04:39:00)")
	replay, facts := strings.Index(md, "## Replay"), strings.Index(md, "## Host facts")
	if heading < 0 || replay < 0 || facts < replay || strings.Count(md, "among them init") != 1 || strings.Contains(md, "not listed") {
		t.Errorf("markdown:\n%s", md)
	}
	page := html(t, rep)
	if !strings.Contains(page, `<span class="status"> (×118, last at 04:39:00)</span>`) || !strings.Contains(page, `<h2>Host facts</h2>`) ||
		strings.Index(page, `id="host-facts"`) < strings.Index(page, `id="replay"`) {
		t.Errorf("html lacks the repeats or the host facts at the end")
	}
}
