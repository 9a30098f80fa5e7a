package remote

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
)

func TestMain(m *testing.M) {
	if code, ok := fakeRemote(os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// fakeHost sets up the fake ssh and a TMPDIR of the test's own (where the
// boot script puts a copy), and returns Options for host h1 that copy
// this test binary.
type fakeHost struct {
	dir, tmp string
	o        Options
}

func newFakeHost(t *testing.T) *fakeHost {
	t.Helper()
	if _, err := exec.LookPath("sha256sum"); err != nil {
		t.Skip("no sha256sum")
	}
	dir, tmp := t.TempDir(), t.TempDir()
	ssh := filepath.Join(dir, "ssh")
	if err := os.WriteFile(ssh, []byte(fakeSSH), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tg, _ := ParseTarget("root@h1:2222")
	return &fakeHost{dir: dir, tmp: tmp, o: Options{Target: tg, Version: "dev", SSH: []string{ssh}, Executable: exe,
		StreamArgs: []string{"--probes", "iostat,kmsg", "--filter", "vrrp or port 53"}}}
}

// left lists what is left in the fake host's TMPDIR.
func (f *fakeHost) left(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(f.tmp)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// collector is an engine's emit, kept for the test.
type collector struct {
	mu  sync.Mutex
	evs []event.Event
}

func (c *collector) emit(ev event.Event) {
	c.mu.Lock()
	c.evs = append(c.evs, ev)
	c.mu.Unlock()
}

func (c *collector) all() []event.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]event.Event(nil), c.evs...)
}

// note finds the first note whose text starts with prefix.
func (c *collector) note(prefix string) (event.Event, bool) {
	for _, ev := range c.all() {
		if n, ok := event.As[event.Note](ev); ok && strings.HasPrefix(n.Text, prefix) {
			return ev, true
		}
	}
	return event.Event{}, false
}

func (c *collector) kind(kind string) []event.Event {
	var out []event.Event
	for _, ev := range c.all() {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func (c *collector) findings(name string) []*event.Finding {
	var out []*event.Finding
	for _, ev := range c.kind(event.KindFinding) {
		if f, _ := event.As[event.Finding](ev); f.Finding == name {
			out = append(out, f)
		}
	}
	return out
}

// runSource runs s until the returned stop is called; stop waits for Run.
func runSource(t *testing.T, s *Source) (*collector, func()) {
	t.Helper()
	col := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, col.emit) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return 30 s after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return col, stop
}

// The copy path: the host has no stakeout of our version, so the binary
// crosses the ssh session, is checked and runs from a private directory
// that is gone as soon as it runs; every event comes labelled with the
// host; the probe flags reach the stream; at the end the stream sees its
// stdin close and what it sends while stopping still arrives.
func TestCopyPath(t *testing.T) {
	f := newFakeHost(t)
	s, err := Dial(context.Background(), f.o)
	if err != nil {
		t.Fatal(err)
	}
	if s.How() != "copied" || s.Host() != "h1" {
		t.Errorf("How %q Host %q, want copied, h1", s.How(), s.Host())
	}
	if left := f.left(t); len(left) != 0 {
		t.Errorf("the copy is still on disk while it runs: %v", left)
	}
	col, stop := runSource(t, s)
	testenv.Eventually(t, 20*time.Second, "a tick from the stream", func() bool { _, ok := col.note("tick "); return ok })
	args, ok := col.note("args ")
	if !ok {
		t.Fatal("no args note")
	}
	n, _ := event.As[event.Note](args)
	if want := "args --unlink-self --probes iostat,kmsg --filter vrrp or port 53"; n.Text != want {
		t.Errorf("the stream got %q, want %q", n.Text, want)
	}
	stop()
	if _, ok := col.note("bye"); !ok {
		t.Error("what the stream sent while it stopped did not arrive")
	}
	for _, ev := range col.all() {
		if ev.Host != "h1" {
			t.Errorf("event %s %s has Host %q", ev.Probe, ev.Kind, ev.Host)
		}
	}
	facts := col.kind(schema.KindHostFacts)
	if len(facts) != 1 {
		t.Fatalf("%d host_facts, want 1", len(facts))
	}
	hf, _ := event.As[schema.HostFacts](facts[0])
	if hf.Host != "h1" || hf.Target != "root@h1:2222" || hf.Hostname != "fake-remote" || hf.Kernel != "6.18-fake" || hf.CPUs != 3 || hf.StakeoutVersion != fakeVersion {
		t.Errorf("host_facts %+v", hf)
	}
	if len(col.kind(schema.KindStreamPong)) != 0 {
		t.Error("pongs were forwarded")
	}
	if args, _ := os.ReadFile(filepath.Join(f.dir, "args")); !strings.Contains(string(args), "-T -o BatchMode=yes") ||
		!strings.Contains(string(args), "-p 2222 -- root@h1 exec sh -c") {
		t.Errorf("ssh was run as %q", args)
	}
	if left := f.left(t); len(left) != 0 {
		t.Errorf("left on the host: %v", left)
	}
}

// The installed path: a stakeout in the host's PATH that says our version
// runs as it is; nothing is copied.
func TestInstalledPath(t *testing.T) {
	f := newFakeHost(t)
	bin := t.TempDir()
	wrapper := "#!/bin/sh\nexec " + f.o.Executable + ` "$@"` + "\n"
	if err := os.WriteFile(filepath.Join(bin, "stakeout"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	f.o.Version = fakeVersion
	f.o.Executable = "/nonexistent/never-read" // proves nothing is copied
	s, err := Dial(context.Background(), f.o)
	if err != nil {
		t.Fatal(err)
	}
	if want := "installed " + filepath.Join(bin, "stakeout"); s.How() != want {
		t.Errorf("How %q, want %q", s.How(), want)
	}
	col, stop := runSource(t, s)
	testenv.Eventually(t, 20*time.Second, "the args note", func() bool { _, ok := col.note("args "); return ok })
	stop()
	args, _ := col.note("args ")
	if n, _ := event.As[event.Note](args); strings.Contains(n.Text, "--unlink-self") {
		t.Errorf("the installed stakeout was told to unlink itself: %q", n.Text)
	}
	if _, err := os.Stat(filepath.Join(bin, "stakeout")); err != nil {
		t.Errorf("the installed stakeout is gone: %v", err)
	}

	// "dev" is any build: a dev stakeout in PATH is not trusted to match.
	t.Setenv("FAKE_REMOTE_VERSION", "dev")
	f.o.Version, f.o.Executable = "dev", strings.Fields(wrapper)[2]
	s, err = Dial(context.Background(), f.o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.How() != "copied" {
		t.Errorf("a dev build in PATH was run (%s)", s.How())
	}
}

// A copy that arrives with another hash is refused, and removed.
func TestDamagedCopyIsRefusedAndRemoved(t *testing.T) {
	f := newFakeHost(t)
	f.o.CorruptCopy = true
	_, err := Dial(context.Background(), f.o)
	if err == nil {
		t.Fatal("a damaged copy was run")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "--ssh root@h1:2222: ") || !strings.Contains(msg, "damaged") || !strings.Contains(msg, "not running it") {
		t.Errorf("error %q", msg)
	}
	if left := f.left(t); len(left) != 0 {
		t.Errorf("the damaged copy was left on the host: %v", left)
	}
}

// A host of another architecture gets nothing copied, and the error says
// what to install there.
func TestWrongArchitectureCopiesNothing(t *testing.T) {
	f := newFakeHost(t)
	machine, _ := exec.Command("uname", "-m").Output()
	f.o.GOARCH = "s390x"
	if runtime.GOARCH == "s390x" {
		f.o.GOARCH = "amd64"
	}
	f.o.Executable = "/nonexistent/never-read"
	_, err := Dial(context.Background(), f.o)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{strings.TrimSpace(string(machine)), f.o.GOARCH, "in PATH there"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if left := f.left(t); len(left) != 0 {
		t.Errorf("left on the host: %v", left)
	}
}

// ssh's own last words are the error; a refused key gets the hint that
// BatchMode needs a key or an agent.
func TestSSHErrorIsTheReason(t *testing.T) {
	f := newFakeHost(t)
	t.Setenv("FAKE_SSH_FAIL", "root@h1: Permission denied (publickey,password).")
	_, err := Dial(context.Background(), f.o)
	if err == nil || !strings.Contains(err.Error(), "--ssh root@h1:2222: root@h1: Permission denied") ||
		!strings.Contains(err.Error(), "a key or an agent") {
		t.Errorf("error %v", err)
	}
	t.Setenv("FAKE_SSH_FAIL", "ssh: Could not resolve hostname h1: Name or service not known")
	_, err = Dial(context.Background(), f.o)
	if err == nil || err.Error() != "--ssh root@h1:2222: ssh: Could not resolve hostname h1: Name or service not known" {
		t.Errorf("error %v", err)
	}
	f.o.SSH = []string{filepath.Join(f.dir, "no-such-ssh")}
	if _, err = Dial(context.Background(), f.o); err == nil || !strings.Contains(err.Error(), EnvSSH) {
		t.Errorf("a missing ssh: %v", err)
	}
}

// A host whose clock is 3 s ahead: the estimate is within 50 ms of 3 s,
// and its events are moved back onto the local clock, keeping the host's
// own reading.
func TestClockOffsetIsEstimatedAndApplied(t *testing.T) {
	f := newFakeHost(t)
	f.o.ClockSkew = 3 * time.Second
	s, err := Dial(context.Background(), f.o)
	if err != nil {
		t.Fatal(err)
	}
	col, stop := runSource(t, s)
	testenv.Eventually(t, 20*time.Second, "a tick", func() bool { _, ok := col.note("tick "); return ok })
	stop()
	clocks := col.kind(schema.KindClock)
	if len(clocks) != 1 {
		t.Fatalf("%d clock events, want 1", len(clocks))
	}
	c, _ := event.As[schema.Clock](clocks[0])
	if d := c.Offset - 3*time.Second; d < -50*time.Millisecond || d > 50*time.Millisecond || c.Samples != 5 || c.Host != "h1" || c.RTT <= 0 {
		t.Errorf("clock %+v, want offset 3s ± 50ms from 5 samples", c)
	}
	batches := col.kind("packets")
	if len(batches) != 1 {
		t.Fatalf("%d packet batches", len(batches))
	}
	if b, _ := event.As[packet.PacketBatch](batches[0]); !b.Start.Equal(batches[0].Time) || batches[0].HostTime.Sub(b.Start) != c.Offset {
		t.Errorf("batch start %v, time %v, host time %v: the packets' times did not move with the event", b.Start, batches[0].Time, batches[0].HostTime)
	}
	for _, ev := range col.all() {
		n, ok := event.As[event.Note](ev)
		if !ok {
			continue
		}
		if ev.HostTime.IsZero() || ev.HostTime.Sub(ev.Time) != c.Offset {
			t.Errorf("note %q: time %v host time %v, want host time - offset", n.Text, ev.Time, ev.HostTime)
		}
		if lag := time.Since(ev.Time); lag < -time.Second || lag > 30*time.Second {
			t.Errorf("note %q is %v from now on the local clock", n.Text, lag)
		}
	}
}

// The link drops mid-session (the remote end is killed): host.lost with
// the reason, a reconnect 1 s later, host.back and host.lost cleared, and
// events flowing again.
func TestLostThenBack(t *testing.T) {
	f := newFakeHost(t)
	s, err := Dial(context.Background(), f.o)
	if err != nil {
		t.Fatal(err)
	}
	col, stop := runSource(t, s)
	testenv.Eventually(t, 20*time.Second, "a tick", func() bool { _, ok := col.note("tick "); return ok })
	pids, _ := os.ReadFile(filepath.Join(f.dir, "pids"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pids)))
	if pid <= 0 {
		t.Fatalf("pids file %q", pids)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "host.back", func() bool { return len(col.findings(schema.FindingHostBack)) > 0 })
	before := len(col.kind(event.KindNote))
	testenv.Eventually(t, 20*time.Second, "ticks after the reconnect", func() bool { return len(col.kind(event.KindNote)) > before })
	stop()
	lost := col.findings(schema.FindingHostLost)
	if len(lost) != 2 || lost[0].State != "" || lost[1].State != event.FindingCleared || lost[0].Key != "host.lost h1" ||
		lost[1].Key != lost[0].Key || lost[0].Severity != event.Warn {
		t.Fatalf("host.lost findings %+v, want a raise then a clear", lost)
	}
	d, ok := lost[0].Data.(schema.HostLostData)
	t.Logf("host.lost: %s", lost[0].Summary)
	if !ok || d.Host != "h1" || d.Target != "root@h1:2222" || d.Error == "" {
		t.Errorf("host.lost data %#v", lost[0].Data)
	}
	back := col.findings(schema.FindingHostBack)
	bd, ok := back[0].Data.(schema.HostLostData)
	if len(back) != 1 || back[0].Severity != event.Info || !ok || bd.Down < time.Second || bd.Host != "h1" {
		t.Errorf("host.back %+v data %#v", back, back[0].Data)
	}
	if n := len(col.kind(schema.KindHostFacts)); n != 2 {
		t.Errorf("%d host_facts, want one per connect (2)", n)
	}
	// The reconnect's stream reads the kernel log back over the outage
	// only: the first connect forwarded the rest.
	var args []string
	for _, ev := range col.kind(event.KindNote) {
		if n, _ := event.As[event.Note](ev); strings.HasPrefix(n.Text, "args ") {
			args = append(args, n.Text)
		}
	}
	if len(args) != 2 || strings.Contains(args[0], "--kmsg-backlog") || !regexp.MustCompile(`--kmsg-backlog=[0-9]+s$`).MatchString(args[1]) {
		t.Errorf("stream args per connect %q, want the reconnect's to end with a short --kmsg-backlog", args)
	}
	if left := f.left(t); len(left) != 0 {
		t.Errorf("left on the host: %v", left)
	}
}

// A TMPDIR mounted noexec: the copy can't run there, one line says so,
// and it is removed.
func TestNoexecTmpdirSaysSo(t *testing.T) {
	testenv.NeedRoot(t, "to mount a noexec tmpfs")
	f := newFakeHost(t)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "noexec,size=64m", "stakeout-remote-test", f.tmp).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", f.tmp).Run() })
	_, err := Dial(context.Background(), f.o)
	if err == nil || !strings.Contains(err.Error(), "noexec") || !strings.HasPrefix(err.Error(), "--ssh root@h1:2222: cannot run a program in "+f.tmp) {
		t.Errorf("error %v", err)
	}
	if left := f.left(t); len(left) != 0 {
		t.Errorf("left on the host: %v", left)
	}
}

// The clock is estimated again every PingEvery (a minute in use), each
// estimate a clock event of its own.
func TestClockIsEstimatedAgain(t *testing.T) {
	f := newFakeHost(t)
	f.o.ClockSkew = -2 * time.Second
	f.o.PingEvery = 200 * time.Millisecond
	s, err := Dial(context.Background(), f.o)
	if err != nil {
		t.Fatal(err)
	}
	col, stop := runSource(t, s)
	testenv.Eventually(t, 20*time.Second, "three clock estimates", func() bool { return len(col.kind(schema.KindClock)) >= 3 })
	stop()
	for _, ev := range col.kind(schema.KindClock) {
		c, _ := event.As[schema.Clock](ev)
		if d := c.Offset + 2*time.Second; d < -50*time.Millisecond || d > 50*time.Millisecond || c.Samples != 5 {
			t.Errorf("clock %+v, want -2s ± 50ms from 5 samples", c)
		}
	}
}
