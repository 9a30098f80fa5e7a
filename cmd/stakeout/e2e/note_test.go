//go:build linux

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/sessions"
)

var noteT0 = time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)

// statusEvents writes a closed recording of n seconds of probe_status events.
func statusRecording(t *testing.T, path string, n int) {
	t.Helper()
	w, err := sessions.Create(path, sessions.Header{Hostname: "db-7", Started: noteT0}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		w.Write(event.New(noteT0.Add(time.Duration(i)*time.Second), "iostat", &event.ProbeStatus{Status: event.StatusOK}))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

type noteLine struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`
	Author string    `json:"author"`
	Text   string    `json:"text"`
}

func eventLines(t *testing.T, args ...string) []noteLine {
	t.Helper()
	r := run(t, nil, append([]string{"events"}, args...)...)
	if r.code != 0 {
		t.Fatalf("events %v: %+v", args, r)
	}
	var out []noteLine
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var n noteLine
		if err := json.Unmarshal([]byte(l), &n); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, n)
	}
	return out
}

func TestNoteFromTheShell(t *testing.T) {
	share(t)
	file := filepath.Join(t.TempDir(), "n.stk")
	statusRecording(t, file, 60)
	env := []string{"STAKEOUT_AUTHOR=alice"}
	r := run(t, env, "note", file, "SIGHUP twice from puppet", "--at", "04:00:10")
	if r.code != 0 || !strings.Contains(r.stdout, "noted at 2026-11-23 04:00:10") {
		t.Fatalf("%+v", r)
	}
	// No --at: the recording ended long ago, so the note goes at its end.
	if r := run(t, env, "note", file, "handing over"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	if r := run(t, env, "note", file, "ruled out the LB", "--at", "+20s"); r.code != 0 {
		t.Fatalf("%+v", r)
	}

	notes := eventLines(t, file, "--kind", "note")
	want := []noteLine{
		{noteT0.Add(10 * time.Second), "note", "alice", "SIGHUP twice from puppet"},
		{noteT0.Add(20 * time.Second), "note", "alice", "ruled out the LB"},
		{noteT0.Add(59 * time.Second), "note", "alice", "handing over"},
	}
	if len(notes) != len(want) {
		t.Fatalf("notes %+v", notes)
	}
	for i := range want {
		if !notes[i].Time.Equal(want[i].Time) || notes[i] != (noteLine{notes[i].Time, want[i].Kind, want[i].Author, want[i].Text}) {
			t.Errorf("note %d: %+v, want %+v", i, notes[i], want[i])
		}
	}
	// In the whole stream the notes sit at their time, and a window that
	// ends before the recording does still finds them.
	all := eventLines(t, file)
	if len(all) != 63 || all[11].Kind != "note" || all[22].Kind != "note" || all[62].Kind != "note" {
		t.Errorf("notes not at their time among %d events", len(all))
	}
	if w := eventLines(t, file, "--kind", "note", "--since", "+5s", "--until", "+15s"); len(w) != 1 || w[0].Text != "SIGHUP twice from puppet" {
		t.Errorf("window +5s..+15s: %+v", w)
	}
}

func TestNoteBadInput(t *testing.T) {
	share(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "n.stk")
	statusRecording(t, file, 10)
	before, _ := os.ReadFile(file)

	oneLineError(t, run(t, nil, "note", filepath.Join(dir, "missing.stk"), "x"), exitError, "no such file")
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("not a recording\n"), 0o600)
	oneLineError(t, run(t, nil, "note", text, "x"), exitError, "not a stakeout session")
	oneLineError(t, run(t, nil, "note", file, "   "), exitUsage, "empty")
	oneLineError(t, run(t, nil, "note", file, strings.Repeat("a", event.MaxNoteRunes+1)), exitUsage, "limit is 1000")
	oneLineError(t, run(t, nil, "note", file, "x", "--at", "teatime"), exitUsage, "--at")
	oneLineError(t, run(t, nil, "note", file, "x", "--at", "05:00:00"), exitUsage, "outside the recording")
	oneLineError(t, run(t, nil, "note", file), exitUsage, "accepts 2 arg")
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Fatal("a refused note changed the file")
	}
	if b, _ := os.ReadFile(text); string(b) != "not a recording\n" {
		t.Fatal("a refused note changed a text file")
	}
}

// A file a live stakeout is still recording is locked: the note is refused
// in one line and the recording is untouched.
func TestNoteRefusesALiveRecording(t *testing.T) {
	share(t)
	file := filepath.Join(t.TempDir(), "live.stk")
	w, err := sessions.Create(file, sessions.Header{Hostname: "db-7", Started: noteT0}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(event.New(noteT0, "iostat", &event.ProbeStatus{Status: event.StatusOK}))
	w.Flush()
	before, _ := os.ReadFile(file)
	oneLineError(t, run(t, nil, "note", file, "too soon"), exitError, "being recorded by a running stakeout")
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Fatal("the refused note changed the live recording")
	}
	w.Close()
	if r := run(t, nil, "note", file, "now it has stopped"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
}

// TestNoteKeyOnARealTerminal presses m in the live TUI and then in a replay
// of what it recorded, on a real pseudo-terminal: the live note goes into
// the recording through the engine, the replay's is appended to the file.
func TestNoteKeyOnARealTerminal(t *testing.T) {
	share(t)
	procfs, sysfs := fixtureRoots(t)
	file := filepath.Join(t.TempDir(), "live.stk")
	p := startOnPTYWith(t, []string{"STAKEOUT_AUTHOR=alice"}, 120, 40, "--probes", "iostat", "--interval", "200ms", "--procfs", procfs, "--sysfs", sysfs, "--record", file)
	p.waitShown("iostat")
	p.master.Write([]byte("m"))
	p.waitShown("enter save")
	p.master.Write([]byte("live: sdb looks busy\r"))
	p.waitShown("alice  live: sdb looks busy") // on the strip: back from the engine, so recorded
	p.quit(t)
	if !strings.Contains(ansi.Strip(p.written()), "alice  live: sdb looks busy") {
		t.Fatalf("the live note never showed:\n%s", ansi.Strip(p.written()))
	}

	p = startOnPTYWith(t, []string{"STAKEOUT_AUTHOR=bob"}, 120, 40, "replay", file)
	p.waitShown("REPLAY")
	p.master.Write([]byte(" ")) // pause, so the note's time is where we stopped
	p.master.Write([]byte("m"))
	p.waitShown("enter save")
	p.master.Write([]byte("replay: ruled out the LB\r"))
	p.waitShown("bob  replay: ruled out the LB") // on the strip: saved
	p.quit(t)

	notes := eventLines(t, file, "--kind", "note")
	if len(notes) != 2 {
		t.Fatalf("%d notes in the file: %+v", len(notes), notes)
	}
	byText := map[string]string{}
	for _, n := range notes {
		byText[n.Text] = n.Author
	}
	if byText["live: sdb looks busy"] != "alice" || byText["replay: ruled out the LB"] != "bob" {
		t.Errorf("notes %+v", notes)
	}
}
