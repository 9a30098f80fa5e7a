package findings

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// The line this host's kernel logged for a NULL write (debug.exception-trace 1).
const writeNullLine = "crashy[13354]: segfault at 0 ip 0000556999314139 sp 00007ffe8635ada0 error 6 in crashy[1139,556999314000+1000] likely on CPU 1 (core 1, socket 0)"

func i64(v int64) *int64 { return &v }
func yes(b bool) *bool   { return &b }

func crashAt(s float64, text string, facts *schema.CrashFacts) event.Event {
	return event.New(kt0.Add(seconds(s)), "kmsg", &schema.Kmsg{Level: "info", Priority: 6, Facility: "kern", Text: text, Crash: facts})
}

func readinessAt(s float64, r schema.CoreReadiness) event.Event {
	return event.New(kt0.Add(seconds(s)), "coredump", &r)
}

func segData(t *testing.T, evs ...event.Event) (SegfaultData, string) {
	t.Helper()
	d := NewKernelLog()
	var out []event.Event
	for _, ev := range evs {
		out = append(out, d.Observe(ev)...)
	}
	f := onlyFinding(t, out, FindingSegfault)
	return f.Data.(SegfaultData), f.Summary
}

// TestSegfaultSaysWhyNoCore: each way a crash's core dump is decided,
// from the facts the kmsg probe read with the line, or failing those the
// coredump probe's last reading, and unknown when neither says.
func TestSegfaultSaysWhyNoCore(t *testing.T) {
	gone := func(pattern string, exists *bool) *schema.CrashFacts {
		f := &schema.CrashFacts{Gone: true, CorePattern: pattern, PipeTargetExists: exists, SuidDumpable: 1}
		f.PipeTarget, _ = schema.PipeTarget(pattern)
		return f
	}
	read := func(pattern string, soft, hard int64) *schema.CrashFacts {
		f := gone(pattern, nil)
		f.Gone, f.TGID, f.CoreSoft, f.CoreHard = false, 13354, i64(soft), i64(hard)
		if f.PipeTarget != "" {
			f.PipeTargetExists = yes(true)
		}
		return f
	}
	for _, c := range []struct {
		name    string
		before  []event.Event
		facts   *schema.CrashFacts
		outcome string
		reason  string
	}{
		{"limit 0, read with the line", nil, read("core", 0, -1), CoreLost, "its core size limit (ulimit -c) was 0"},
		{"limit 0, from the coredump probe's last reading", []event.Event{readinessAt(0, schema.CoreReadiness{CorePattern: "core",
			SuidDumpable: 1, Watched: true, Processes: 1, ZeroLimit: 1, NoCore: []schema.CoreLimit{{PID: 13354, Comm: "crashy", Soft: 0, Hard: 0}}})},
			gone("core", nil), CoreLost, "its core size limit (ulimit -c) was 0"},
		{"listed pid but another comm: not this process", []event.Event{readinessAt(0, schema.CoreReadiness{CorePattern: "core",
			SuidDumpable: 1, NoCore: []schema.CoreLimit{{PID: 13354, Comm: "bash", Soft: 0}}})},
			gone("core", nil), CoreUnknown, "it was gone before its core size limit could be read"},
		{"gone, most processes have 0", []event.Event{readinessAt(0, schema.CoreReadiness{CorePattern: "core",
			SuidDumpable: 1, Processes: 120, ZeroLimit: 95})},
			gone("core", nil), CoreUnknown, "it was gone before its core size limit could be read; 95 of 120 processes here have a core size limit of 0"},
		{"pipe to a helper that is not there", nil, gone("|/usr/share/apport/apport %p", yes(false)), CoreLost,
			"core_pattern pipes to /usr/share/apport/apport, which does not exist on this host"},
		{"empty core_pattern", nil, gone("", nil), CoreLost, "core_pattern is empty"},
		{"limit 0 and systemd-coredump honours it", nil, read("|/usr/lib/systemd/systemd-coredump %P", 0, -1), CoreLost,
			"its core size limit (ulimit -c) was 0, and systemd-coredump honours it"},
		{"limit 1 turns pipes off", nil, read("|/bin/catcore", 1, 1), CoreLost, "its core size limit was 1, which tells the kernel to pipe no core"},
		{"limit under a page", nil, read("core", 512, 512), CoreLost, "its core size limit was 512 bytes, less than a page"},
		{"other pipe ignores the limit", nil, gone("|/bin/catcore %p", yes(true)), CoreLikely,
			"core_pattern pipes it to /bin/catcore (the kernel ignores the size limit for a pipe)"},
		{"unlimited, to a file", nil, read("/var/crash/core.%e.%p", -1, -1), CoreLikely, "core_pattern /var/crash/core.%e.%p, core size limit unlimited"},
		{"no facts and no coredump probe", nil, nil, CoreUnknown,
			"its core size limit was not recorded, and core_pattern was not read (the coredump probe was not running)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, sum := segData(t, append(c.before, crashAt(1, writeNullLine, c.facts))...)
			if data.CoreDump != c.outcome || data.CoreReason != c.reason {
				t.Errorf("got %s: %q\nwant %s: %q", data.CoreDump, data.CoreReason, c.outcome, c.reason)
			}
			if !strings.Contains(sum, c.reason) {
				t.Errorf("summary %q lacks the reason", sum)
			}
		})
	}
}

// TestSegfaultDataDecodesTheErrorAndCarriesTheLimit: error 6 is a user-mode
// write to an unmapped page, in the data and the summary; the limit read
// with the line and the core_pattern are in the data.
func TestSegfaultDataDecodesTheErrorAndCarriesTheLimit(t *testing.T) {
	facts := &schema.CrashFacts{TGID: 13354, CoreSoft: i64(0), CoreHard: i64(-1), CorePattern: "core"}
	d := NewKernelLog()
	f := onlyFinding(t, d.Observe(crashAt(0, writeNullLine, facts)), FindingSegfault)
	want := "crashy (pid 13354) segfaulted at 0 in crashy (error 6: user-mode write to an unmapped page); " +
		"no core dump: its core size limit (ulimit -c) was 0"
	if f.Summary != want {
		t.Errorf("summary\n got %q\nwant %q", f.Summary, want)
	}
	b, _ := json.Marshal(f.Data)
	for _, w := range []string{`"error":"6"`, `"mode":"user"`, `"access":"write"`, `"page":"unmapped"`,
		`"error_decoded":"user-mode write to an unmapped page"`, `"core_dump":"lost"`, `"core_limit_soft":0`,
		`"core_limit_hard":-1`, `"core_pattern":"core"`, `"core_reason":"its core size limit (ulimit -c) was 0"`} {
		if !strings.Contains(string(b), w) {
			t.Errorf("data %s lacks %s", b, w)
		}
	}
}

// TestProcessKilledSaysWhetherItDumpedCore: a traced process's exit status
// says whether the kernel dumped core; the settings say why not.
func TestProcessKilledSaysWhetherItDumpedCore(t *testing.T) {
	ready := &schema.CoreReadiness{CorePattern: "core", SuidDumpable: 1, Watched: true, Processes: 2, ZeroLimit: 1,
		NoCore: []schema.CoreLimit{{PID: 5, Comm: "gimli", Soft: 0, Hard: -1}},
		Limits: []schema.CoreLimit{{PID: 5, Comm: "gimli", Soft: 0, Hard: -1}, {PID: 6, Comm: "worker", Soft: -1, Hard: -1}}}
	fs := sigFindings([]event.Event{
		event.New(t0, "coredump", ready),
		bodyAt(1, &schema.Exit{PID: 5, Comm: "gimli", Status: "killed by SIGSEGV", Signal: "SIGSEGV"}),
		bodyAt(2, &schema.Exit{PID: 6, Comm: "worker", Status: "killed by SIGABRT (core dumped)", Signal: "SIGABRT", Core: true}),
		bodyAt(3, &schema.Exit{PID: 7, Comm: "idle", Status: "killed by SIGTERM", Signal: "SIGTERM"}),
		bodyAt(4, &schema.Exit{PID: 8, Comm: "odd", Status: "killed by SIGBUS", Signal: "SIGBUS"}),
	})
	if len(fs) != 4 {
		t.Fatalf("%+v", fs)
	}
	for i, w := range []struct{ dump, summary string }{
		{CoreLost, "5 (gimli) killed by SIGSEGV; no core dump: its core size limit (ulimit -c) was 0"},
		{CoreWritten, "6 (worker) killed by SIGABRT (core dumped)"},
		{"", "7 (idle) killed by SIGTERM"},
		{CoreLost, "8 (odd) killed by SIGBUS; no core dump: the kernel dumped none; its core size limit was not recorded"},
	} {
		d := fs[i].Data.(ProcessKilledData)
		if d.CoreDump != w.dump || !strings.Contains(fs[i].Summary, w.summary) {
			t.Errorf("#%d: %s %q, want %s %q", i, d.CoreDump, fs[i].Summary, w.dump, w.summary)
		}
	}
	if d := fs[1].Data.(ProcessKilledData); d.CoreLimitSoft == nil || *d.CoreLimitSoft != -1 {
		t.Errorf("worker's limit from the watched list: %+v", d)
	}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
