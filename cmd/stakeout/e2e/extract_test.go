//go:build linux

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/wiring"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// xt is the synthetic recording's clock: 04:00:00 plus s seconds.
func xt(s float64) time.Time { return noteT0.Add(time.Duration(s * float64(time.Second))) }

// writeIncident records ten minutes of a host through the real writer: sdb
// saturates from +300 s to +330 s; a 1 s periodic flow (announced once, at
// the start) goes silent from +350 s to +360 s; a note at +100 s and one,
// appended after the recording ended, at +310 s.
func writeIncident(t *testing.T, path string) {
	t.Helper()
	w, err := sessions.Create(path, sessions.Header{Hostname: "db-7", Kernel: "6.18.0", Started: xt(0), Interval: time.Second},
		sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"iostat", "packets", "modules"} {
		must(w.Write(event.New(xt(0), p, &event.ProbeStatus{Status: event.StatusOK})))
	}
	must(w.Write(event.New(xt(0), "modules", &schema.ModuleList{Count: 2, Modules: []string{"ext4", "nf_conntrack"}})))
	must(w.Write(event.New(xt(0.5), "packets", &packet.FlowInfo{ID: 7, Iface: "eth0", Proto: "vrrp", Src: "10.0.0.2", Dst: "224.0.0.18"})))
	must(w.Write(event.New(xt(0.5), "packets", &packet.FlowInfo{ID: 8, Iface: "eth0", Proto: "udp", Src: "10.0.0.2:1", Dst: "10.0.0.9:2"})))
	for s := 1; s <= 600; s++ {
		sdb := schema.DeviceIO{Device: "sdb", WPerS: 40, WKBPerS: 320, WAwaitMs: 2, AquSz: 0.1, UtilPct: 8}
		if s >= 300 && s <= 330 {
			sdb = schema.DeviceIO{Device: "sdb", WPerS: 850, WKBPerS: 110800, WAwaitMs: 250, AquSz: 42, UtilPct: 99.8}
		}
		must(w.Write(event.New(xt(float64(s)), "iostat", &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{sdb}})))
		if s < 350 || s > 360 {
			must(w.Write(event.New(xt(float64(s)+0.5), "packets", &packet.PacketBatch{Iface: "eth0", Start: xt(float64(s) + 0.5),
				DtUs: []int64{0}, Flow: []uint32{7}, Flags: packet.ByteNums{0}, Len: []uint32{60}})))
		}
		if s == 100 {
			must(w.Write(event.New(xt(100), event.ProbeNote, event.NewNote("alice", "quiet so far"))))
		}
		must(w.Flush())
	}
	must(w.Close())
	must(sessions.AppendEvents(path, event.New(xt(310), event.ProbeNote, event.NewNote("alice", "sdb saturated: backup job"))))
}

func readEvents(t *testing.T, path string) (sessions.Header, []event.Event) {
	t.Helper()
	r, err := sessions.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var evs []event.Event
	it := r.Iter(time.Time{})
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		evs = append(evs, ev)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return r.Header(), evs
}

type reportFinding struct {
	Time     time.Time `json:"time"`
	Finding  string    `json:"finding"`
	Severity string    `json:"severity"`
	Summary  string    `json:"summary"`
	Since    time.Time `json:"since"` // when its condition was raised, if it was updated since
}

// findingsIn runs `stakeout report --format json` and keeps the findings
// (conditions) raised in [since, until].
func findingsIn(t *testing.T, path string, since, until time.Time) []reportFinding {
	t.Helper()
	r := run(t, nil, "report", path, "--format", "json")
	if r.code != 0 {
		t.Fatalf("report %s: %+v", path, r)
	}
	var doc struct {
		Findings []reportFinding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	var out []reportFinding
	for _, f := range doc.Findings {
		raised := f.Time
		if !f.Since.IsZero() {
			raised = f.Since
		}
		if !raised.Before(since) && !raised.After(until) {
			out = append(out, f)
		}
	}
	return out
}

func TestExtractAWindow(t *testing.T) {
	share(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "db-7.stk")
	writeIncident(t, src)
	out := filepath.Join(dir, "incident.stk")
	// The window opens inside the saturation: only a warm detector agrees
	// with the original that it was already reported.
	res := run(t, nil, "extract", src, "--since", "04:05:10", "--until", "+400s", "-o", out)
	if res.code != 0 || !strings.Contains(res.stdout, "wrote "+out) {
		t.Fatalf("%+v", res)
	}
	since, until := xt(310), xt(400)

	h, got := readEvents(t, out)
	if h.Extract == nil || h.Extract.Source != "db-7.stk" || !h.Extract.Since.Equal(since) || !h.Extract.Until.Equal(until) ||
		!h.Extract.From.Equal(since.Add(-time.Minute)) || h.Hostname != "db-7" || !h.Extract.SourceStarted.Equal(xt(0)) {
		t.Fatalf("header %+v extract %+v", h, h.Extract)
	}
	_, all := readEvents(t, src)

	// The window is copied event for event, in the order a reader gives it.
	var want, gotWin []string
	for _, ev := range all {
		if !ev.Time.Before(since) && !ev.Time.After(until) {
			want = append(want, jsonLine(t, ev))
		}
	}
	var notes []string
	var state = map[string]bool{}
	for _, ev := range got {
		if !ev.Time.Before(since) {
			gotWin = append(gotWin, jsonLine(t, ev))
		}
		if ev.Time.After(until) {
			t.Errorf("event after the window: %s", jsonLine(t, ev))
		}
		if n, ok := event.As[event.Note](ev); ok {
			notes = append(notes, n.Text)
		}
		if ev.Time.Before(since.Add(-time.Minute)) {
			t.Errorf("event before the history: %s", jsonLine(t, ev))
		}
		// State from before the history is stamped with its start.
		if ev.Time.Equal(since.Add(-time.Minute)) {
			state[ev.Probe+"/"+ev.Kind] = true
			if f, ok := event.As[packet.FlowInfo](ev); ok && f.ID != 7 {
				t.Errorf("flow %d is copied though no copied packet names it", f.ID)
			}
		}
	}
	if !reflect.DeepEqual(gotWin, want) {
		t.Fatalf("window: %d events copied, %d in the original", len(gotWin), len(want))
	}
	if !reflect.DeepEqual(notes, []string{"sdb saturated: backup job"}) {
		t.Errorf("notes %q: want only the one in the window", notes)
	}
	for _, k := range []string{"iostat/probe_status", "packets/probe_status", "modules/probe_status", "modules/module_list", "packets/flow", "iostat/io"} {
		if !state[k] {
			t.Errorf("no %s before the history: a replay of the extract would start without it (have %v)", k, state)
		}
	}

	// The same findings inside the window, recomputed from each file.
	orig, ext := findingsIn(t, src, since, until), findingsIn(t, out, since, until)
	if !reflect.DeepEqual(orig, ext) {
		t.Errorf("findings in the window differ:\noriginal %+v\nextract  %+v", orig, ext)
	}
	kinds := map[string]bool{}
	for _, f := range orig {
		kinds[f.Finding] = true
	}
	if kinds["io.saturated"] || !kinds["packet.gap"] {
		t.Errorf("the window should hold packet.gap and not io.saturated (reported at 04:05:05), has %+v", orig)
	}

	a, _ := os.Stat(src)
	b, _ := os.Stat(out)
	if b.Size()*2 >= a.Size() {
		t.Errorf("extract is %d bytes, original %d", b.Size(), a.Size())
	}
	t.Logf("original %d bytes, extract %d bytes", a.Size(), b.Size())

	// A replay opens it: a seek to the window's start rebuilds the panes
	// from the probes' statuses, and playing runs to the end cleanly.
	r, err := sessions.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := sessions.NewPlayer(r, wiring.ReplayHistory, nil)
	evs, err := p.Seek(since)
	if err != nil {
		t.Fatal(err)
	}
	statuses := 0
	for _, ev := range evs {
		if ev.Kind == event.KindProbeStatus {
			statuses++
		}
	}
	if statuses != 3 {
		t.Errorf("a seek to the window's start brings %d probe statuses, want 3", statuses)
	}
	if _, err := p.AdvanceTo(r.End()); err != nil || !p.Position().Equal(until) {
		t.Errorf("played to %v (%v)", p.Position(), err)
	}

	// And `stakeout replay` shows it on a real terminal, from its start.
	tui := startOnPTY(t, 120, 40, "replay", out)
	tui.waitShown("REPLAY")
	tui.quit(t)
	if screen := ansi.Strip(tui.written()); !strings.Contains(screen, "db-7") || !strings.Contains(screen, "04:04:10") {
		t.Errorf("replay of the extract:\n%s", screen)
	}
}

func jsonLine(t *testing.T, ev event.Event) string {
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A recording made by the real binary: the extract of its middle gives the
// same findings there and reads back cleanly.
func TestExtractARealRecording(t *testing.T) {
	share(t)
	procfs, sysfs := fixtureRoots(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "real.stk")
	// iostat only: kmsg's backlog would put the start minutes back, and +1s with it.
	if r := run(t, nil, "snapshot", "--duration", "3s", "--interval", "100ms", "--probes", "iostat", "--procfs", procfs, "--sysfs", sysfs, "-o", src); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	out := filepath.Join(dir, "mid.stk")
	if r := run(t, nil, "extract", src, "--since", "+1s", "--until", "+2s", "-o", out); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	h, _ := readEvents(t, out)
	since, until := h.Extract.Since, h.Extract.Until
	if until.Sub(since) != time.Second {
		t.Fatalf("window %v to %v", since, until)
	}
	if o, e := findingsIn(t, src, since, until), findingsIn(t, out, since, until); !reflect.DeepEqual(o, e) {
		t.Errorf("findings differ:\n%+v\n%+v", o, e)
	}
	window := func(path string) string {
		r := run(t, nil, "events", path, "--since", since.Format(time.RFC3339Nano), "--until", until.Format(time.RFC3339Nano))
		if r.code != 0 {
			t.Fatalf("%+v", r)
		}
		return r.stdout
	}
	if e, o := window(out), window(src); e == "" || e != o {
		t.Errorf("events in the window differ:\nextract  %s\noriginal %s", e, o)
	}
}

func TestExtractBadInput(t *testing.T) {
	share(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "s.stk")
	statusRecording(t, src, 60)
	out := filepath.Join(dir, "out.stk")
	oneLineError(t, run(t, nil, "extract", src, "--since", "+10s", "--until", "+10s", "-o", out), exitUsage, "not before --until")
	oneLineError(t, run(t, nil, "extract", src, "--since", "+20s", "--until", "+10s", "-o", out), exitUsage, "before --since")
	oneLineError(t, run(t, nil, "extract", src, "--since", "05:00:00", "-o", out), exitUsage, "outside the recording")
	oneLineError(t, run(t, nil, "extract", src, "--since", "+10s"), exitUsage, "-o")
	oneLineError(t, run(t, nil, "extract", src, "-o", out), exitUsage, "--since")
	oneLineError(t, run(t, nil, "extract", filepath.Join(dir, "nope.stk"), "--since", "+1s", "-o", out), exitError, "no such file")
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("a refused extract left a file")
	}
	os.WriteFile(out, []byte("mine\n"), 0o600)
	oneLineError(t, run(t, nil, "extract", src, "--since", "+1s", "-o", out), exitError, "file exists")
	if b, _ := os.ReadFile(out); string(b) != "mine\n" {
		t.Fatal("extract clobbered an existing file")
	}
}
