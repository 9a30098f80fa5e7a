//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// binPath is the stakeout binary built once for the end-to-end tests.
var binPath string

// The exit codes README's "Exit codes" documents, which scripts depend on.
const (
	exitError    = 1 // runtime error: missing file, no permission, corrupt input
	exitUsage    = 2 // bad flags or arguments; not a terminal for the live TUI
	exitFindings = 3 // --fail-on matched a finding
	exitDamaged  = 4 // the recording is damaged: all that was readable was output, then one warning line
)

func TestMain(m *testing.M) {
	flag.Parse()
	takeParallel()
	machine.awaitOthers()
	dir, err := os.MkdirTemp("", "stakeout-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "stakeout")
	build := exec.Command("go", "build", "-o", binPath, "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building stakeout: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// run executes stakeout with no terminal, as CI does.
func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

// oneLineError checks the contract for bad input: exit code, one line on
// stderr starting "stakeout:", no stack trace, nothing on stdout.
func oneLineError(t *testing.T, r result, code int, mention string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d (stderr %q)", r.code, code, r.stderr)
	}
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "stakeout: ") {
		t.Errorf("want one 'stakeout:' line on stderr, got %q", r.stderr)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
		t.Errorf("stack trace on stderr: %q", r.stderr)
	}
	if !strings.Contains(r.stderr, mention) {
		t.Errorf("stderr %q does not mention %q", r.stderr, mention)
	}
	if r.stdout != "" {
		t.Errorf("stdout not empty on error: %q", r.stdout)
	}
}

// fixtureRoots makes a tiny /proc and /sys with a quiet disk.
func fixtureRoots(t *testing.T) (procfs, sysfs string) {
	t.Helper()
	dir := t.TempDir()
	procfs, sysfs = filepath.Join(dir, "proc"), filepath.Join(dir, "sys")
	for _, d := range []string{procfs, filepath.Join(sysfs, "block", "vda")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	stats := " 253       0 vda 100 0 2000 50 300 0 4000 90 0 120 140 0 0 0 0 0 0\n"
	if err := os.WriteFile(filepath.Join(procfs, "diskstats"), []byte(stats), 0o644); err != nil {
		t.Fatal(err)
	}
	return procfs, sysfs
}

func TestBadInputGetsOneClearLine(t *testing.T) {
	share(t)
	dir := t.TempDir()
	notSession := filepath.Join(dir, "notes.txt")
	os.WriteFile(notSession, []byte("just some text, not a recording\n"), 0o644)

	oneLineError(t, run(t, nil, "--bogus"), exitUsage, "unknown flag")
	oneLineError(t, run(t, nil, "snapshot", "--duration", "soon"), exitUsage, "duration")
	oneLineError(t, run(t, nil, "snapshot"), exitUsage, "--duration")
	oneLineError(t, run(t, nil, "snapshot", "--duration", "1s", "--probes", "nope"), exitUsage, `unknown probe "nope"`)
	oneLineError(t, run(t, nil, "snapshot", "--duration", "1s", "--format", "xml"), exitUsage, "--format")
	oneLineError(t, run(t, nil, "snapshot", "--duration", "1s", "--fail-on", "info"), exitUsage, "--fail-on")
	oneLineError(t, run(t, nil, "snapshot", "--duration", "1s", "--procfs", "/does/not/exist"), exitUsage, "--procfs")
	oneLineError(t, run(t, nil, "report", filepath.Join(dir, "missing.stk")), exitError, "no such file")
	oneLineError(t, run(t, nil, "report", notSession), exitError, "not a stakeout session file")
	oneLineError(t, run(t, nil, "events", notSession), exitError, "not a stakeout session file")
	oneLineError(t, run(t, nil, "report"), exitUsage, "arg")
	oneLineError(t, run(t, nil, "nonsense"), exitUsage, "nonsense")
}

func TestLiveWithoutTerminalPointsToSnapshot(t *testing.T) {
	share(t)
	r := run(t, nil, "--no-record")
	oneLineError(t, r, exitUsage, "stakeout snapshot")
	r = run(t, nil, "replay", "whatever.stk")
	oneLineError(t, r, exitUsage, "not a terminal")
}

func TestVersionAndHelp(t *testing.T) {
	share(t)
	if r := run(t, nil, "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "stakeout ") {
		t.Fatalf("version: %+v", r)
	}
	r := run(t, nil, "snapshot", "--help")
	for _, want := range []string{"--duration", "--fail-on", "--format", "--probes", "--interval", "--all-devices", "Exit status"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("snapshot --help lacks %q", want)
		}
	}
}

func TestSnapshotJSONOnFixtureTree(t *testing.T) {
	share(t)
	procfs, sysfs := fixtureRoots(t)
	file := filepath.Join(t.TempDir(), "s.stk")
	r := run(t, nil, "snapshot", "--duration", "1500ms", "--interval", "200ms", "--format", "json",
		"--procfs", procfs, "--sysfs", sysfs, "-o", file)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var doc struct {
		Host      map[string]any   `json:"host"`
		DurationS float64          `json:"duration_s"`
		File      string           `json:"file"`
		Probes    []map[string]any `json:"probes"`
		Findings  []any            `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not the JSON document: %v\n%s", err, r.stdout)
	}
	if doc.File != file || doc.DurationS < 1 || doc.Host["hostname"] == "" {
		t.Errorf("document %+v", doc)
	}
	// Every registered probe is listed; iostat runs on the fixture, and the
	// signals probe, given no target, says so instead of failing.
	status := map[string]any{}
	for _, p := range doc.Probes {
		status[p["name"].(string)] = p["status"]
	}
	if status["iostat"] != "ok" || status["signals"] != "unavailable" {
		t.Errorf("probes %+v", doc.Probes)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("session file: %v mode %v", err, st.Mode())
	}

	// The same file through events: JSON Lines, each with time/probe/kind.
	ev := run(t, nil, "events", file)
	if ev.code != 0 {
		t.Fatalf("events: %+v", ev)
	}
	kinds := map[string]int{}
	// A line is one event, up to the session file's 1 MiB record limit (a
	// packets batch while other tests load lo): the default 64 KiB won't do.
	sc := bufio.NewScanner(strings.NewReader(ev.stdout))
	sc.Buffer(make([]byte, 0, 1<<20), 4<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("events line is not JSON: %q", sc.Text())
		}
		if m["time"] == nil || m["probe"] == nil {
			t.Fatalf("events line lacks time/probe: %q", sc.Text())
		}
		kinds[m["kind"].(string)]++
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading events: %v", err)
	}
	if kinds["probe_status"] == 0 || kinds["io"] < 3 {
		t.Errorf("events kinds %v", kinds)
	}
	if only := run(t, nil, "events", file, "--kind", "io"); strings.Count(only.stdout, "\n") != kinds["io"] {
		t.Errorf("--kind io printed %d lines, want %d", strings.Count(only.stdout, "\n"), kinds["io"])
	}

	// report --format json is the same document shape.
	rep := run(t, nil, "report", file, "--format", "json")
	var doc2 map[string]any
	if rep.code != 0 || json.Unmarshal([]byte(rep.stdout), &doc2) != nil {
		t.Fatalf("report json: %+v", rep)
	}
	for _, k := range []string{"host", "started", "duration_s", "file", "probes", "findings", "summary"} {
		if _, ok := doc2[k]; !ok {
			t.Errorf("report json lacks %q", k)
		}
	}
	if sum, _ := doc2["summary"].(map[string]any); sum["iostat"] == nil {
		t.Errorf("report json has no iostat summary: %v", doc2["summary"])
	}
}

func TestFailOnExitsThreeWhenAFindingMatches(t *testing.T) {
	share(t)
	procfs, sysfs := fixtureRoots(t)
	file := filepath.Join(t.TempDir(), "tiny.stk")
	// A 1-byte --record-max stops recording at once: a warn finding.
	args := []string{"snapshot", "--duration", "1500ms", "--interval", "200ms", "--procfs", procfs, "--sysfs", sysfs,
		"-o", file, "--record-max", "1B"}
	if r := run(t, nil, append(args, "--fail-on", "warn")...); r.code != exitFindings || !strings.Contains(r.stdout, "record.stopped") {
		t.Fatalf("--fail-on warn: exit %d, stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	os.Remove(file)
	if r := run(t, nil, append(args, "--fail-on", "critical")...); r.code != 0 {
		t.Fatalf("--fail-on critical with only a warn: exit %d %s", r.code, r.stderr)
	}
}

func TestNoRecordWritesNothing(t *testing.T) {
	share(t)
	procfs, sysfs := fixtureRoots(t)
	dir := t.TempDir()
	r := run(t, []string{"STAKEOUT_DIR=" + dir}, "snapshot", "--duration", "300ms", "--interval", "100ms",
		"--procfs", procfs, "--sysfs", sysfs, "--no-record", "--format", "json")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("--no-record left files: %v", ents)
	}
	r = run(t, []string{"STAKEOUT_DIR=" + dir}, "snapshot", "--duration", "300ms", "--interval", "100ms",
		"--procfs", procfs, "--sysfs", sysfs)
	ents, _ := os.ReadDir(dir)
	if r.code != 0 || len(ents) != 1 || !strings.HasSuffix(ents[0].Name(), ".stk") {
		t.Fatalf("STAKEOUT_DIR recording: %+v, files %v", r, ents)
	}
}

// TestProgressLineOnlyOnATerminal runs snapshot under script(1), which gives
// it a terminal: the progress line shows there, and never in a pipe.
func TestProgressLineOnlyOnATerminal(t *testing.T) {
	share(t)
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script(1) not installed (util-linux)")
	}
	procfs, sysfs := fixtureRoots(t)
	args := fmt.Sprintf("%s snapshot --duration 2500ms --interval 200ms --procfs %s --sysfs %s --no-record --format json",
		binPath, procfs, sysfs)
	out, err := exec.Command("script", "-q", "-e", "-c", args, "/dev/null").CombinedOutput()
	if err != nil {
		t.Fatalf("under script: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "snapshot 1s/2.5s · REC off") {
		t.Errorf("no progress line on a terminal:\n%q", out)
	}
	piped := run(t, nil, strings.Fields(args)[1:]...)
	if piped.code != 0 || strings.Contains(piped.stderr, "snapshot ") {
		t.Errorf("progress line in a pipe: %+v", piped)
	}
}

func TestEventsWindow(t *testing.T) {
	share(t)
	procfs, sysfs := fixtureRoots(t)
	file := filepath.Join(t.TempDir(), "w.stk")
	if r := run(t, nil, "snapshot", "--duration", "2s", "--interval", "100ms", "--procfs", procfs, "--sysfs", sysfs,
		"-o", file); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	times := func(args ...string) []string {
		r := run(t, nil, append([]string{"events", file, "--kind", "io"}, args...)...)
		if r.code != 0 {
			t.Fatalf("events %v: %+v", args, r)
		}
		var ts []string
		for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil {
				ts = append(ts, m["time"].(string))
			}
		}
		return ts
	}
	all := times()
	if len(all) < 10 {
		t.Fatalf("only %d io events in 2 s at 100ms", len(all))
	}
	mid := all[len(all)/2]
	after := times("--since", mid)
	if len(after) == 0 || after[0] != mid || len(after) != len(all)-len(all)/2 {
		t.Errorf("--since %s gave %d events starting %v", mid, len(after), after)
	}
	before := times("--until", mid)
	if len(before) != len(all)/2+1 || before[len(before)-1] != mid {
		t.Errorf("--until %s gave %d events", mid, len(before))
	}
	if lastSecond := times("--since", "-1s"); len(lastSecond) == 0 || len(lastSecond) >= len(all) {
		t.Errorf("--since -1s gave %d of %d", len(lastSecond), len(all))
	}
	oneLineError(t, run(t, nil, "events", file, "--since", "yesterday"), exitUsage, "--since")
	oneLineError(t, run(t, nil, "events", file, "--since", "+2s", "--until", "+1s"), exitUsage, "before --since")
}
