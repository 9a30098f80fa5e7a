//go:build linux

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// findingEventsOf is every finding event of the recording (raises, updates,
// clears) as `stakeout events` prints them, by finding name.
func findingEventsOf(t *testing.T, file string) map[string][]gapEvent {
	t.Helper()
	r := run(t, nil, "events", file, "--kind", "finding")
	if r.code != 0 {
		t.Fatalf("events: exit %d: %s", r.code, r.stderr)
	}
	out := map[string][]gapEvent{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if line == "" {
			continue
		}
		var f gapEvent
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		out[f.Finding] = append(out[f.Finding], f)
		t.Logf("%s %-18s %-7s %-8s %s", f.Time.Format("15:04:05.000"), f.Finding, f.State, f.Severity, f.Summary)
	}
	return out
}

// buildSynflood builds bench/synflood, the raw-socket SYN sender.
func buildSynflood(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "synflood")
	build := exec.Command("go", "build", "-o", bin, "../../../bench/synflood")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building synflood: %v\n%s", err, out)
	}
	return bin
}

// TestSynFloodThroughAHeartbeat: a 1 s UDP heartbeat runs for 12 s (its
// period learned), then a SYN flood from random spoofed sources hits a
// listening port on the capturing side for 12 s, at up to 100,000 SYNs a
// second, answered by SYN-ACKs; the heartbeat goes on through it, with one
// real 3.5 s hole in the middle of the flood. The recording must give:
// one packet.syn_flood naming the destination, one packet.flow_storm,
// each raised once and updated rather than repeated; and exactly one
// packet.gap, for the hole (none for the flood's flows, none for the
// heartbeat's packets among them). The heartbeat goes to an address nobody
// has (a static neighbour entry points it at the capturing side), so
// nothing answers it.
func TestSynFloodThroughAHeartbeat(t *testing.T) {
	share(t, alone)
	nsA, nsB, ifA, ifB := vethPair(t, 15)
	syn := buildSynflood(t)
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", strings.Join(args, " "), err, out)
		}
	}
	neighborOn(t, nsA, ifA, "10.231.15.99", nsB, ifB)
	// The victim's SYN-ACKs to the spoofed sources leave towards A, which
	// forwards nothing.
	sh("ip", "-n", nsB, "route", "add", "default", "via", "10.231.15.1")
	listener := exec.Command("ip", "netns", "exec", nsB, syn, "-listen", "10.231.15.2:80")
	if err := listener.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { listener.Process.Signal(unix.SIGTERM); listener.Wait() }()

	var beat int
	inNetns(t, nsA, func() {
		var err error
		if beat, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0); err != nil {
			t.Error(err)
			return
		}
		if err := unix.Bind(beat, &unix.SockaddrInet4{Port: 7001, Addr: [4]byte{10, 231, 15, 1}}); err != nil {
			t.Error(err)
		}
	})
	if t.Failed() {
		return
	}
	defer unix.Close(beat)

	cmd, out, file := snapshotFileIn(t, nsB, ifB, 28*time.Second, "--ring-mb", "32")
	start := time.Now().Add(time.Second)
	var wg sync.WaitGroup
	var flood []byte
	var floodErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(time.Until(start.Add(12500 * time.Millisecond)))
		flood, floodErr = exec.Command("ip", "netns", "exec", nsA, syn, "-dst", "10.231.15.2:80",
			"-n", "1200000", "-rate", "100000").CombinedOutput()
	}()
	// Beats until the capture's last second; the hole is 15 s to 18.5 s,
	// inside the flood.
	at := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 18.5, 19.5, 20.5, 21.5, 22.5, 23.5, 24.5, 25.5, 26.5}
	for _, s := range at {
		time.Sleep(time.Until(start.Add(time.Duration(s * float64(time.Second)))))
		if err := unix.Sendto(beat, []byte("heartbeat"), 0, &unix.SockaddrInet4{Port: 7000, Addr: [4]byte{10, 231, 15, 99}}); err != nil {
			t.Fatalf("heartbeat: %v", err)
		}
	}
	wg.Wait()
	if floodErr != nil {
		t.Fatalf("synflood: %v: %s", floodErr, flood)
	}
	doc := waitDoc(t, cmd, out)
	t.Logf("flood: %s", strings.TrimSpace(string(flood)))
	var sum struct {
		Summary struct {
			Packets struct {
				Ifaces []map[string]any
			}
		}
	}
	json.Unmarshal([]byte(out.String()), &sum)
	t.Logf("capture: %v", sum.Summary.Packets.Ifaces)

	evs := findingEventsOf(t, file)
	raises := func(name string) (n int) {
		for _, f := range evs[name] {
			if f.State == "" {
				n++
			}
		}
		return n
	}
	if raises("packet.syn_flood") != 1 || raises("packet.flow_storm") != 1 {
		t.Errorf("raised packet.syn_flood %d times and packet.flow_storm %d times, want once each (then updated)",
			raises("packet.syn_flood"), raises("packet.flow_storm"))
	}
	for _, f := range evs["packet.syn_flood"] {
		if f.Data["dst"] != "10.231.15.2:80" || f.Key != "packet.syn_flood "+ifB {
			t.Errorf("packet.syn_flood names %v (key %q), want 10.231.15.2:80", f.Data["dst"], f.Key)
		}
		if r, _ := f.Data["handshake_ratio"].(float64); r > 0.1 {
			t.Errorf("handshake ratio %v for spoofed SYNs", r)
		}
	}
	raised, gaps := gapsOf(doc)
	if raised != 1 || len(gaps) != 1 {
		t.Fatalf("want exactly one packet.gap raised and cleared, got %d raised, %d cleared", raised, len(gaps))
	}
	for _, f := range evs["packet.gap"] {
		if f.Data["flow"] != "10.231.15.1:7001 > 10.231.15.99:7000" {
			t.Errorf("packet.gap names %v", f.Data["flow"])
		}
	}
	if ms := gaps[0]["gap_ms"].(float64); ms < 3300 || ms > 3700 || gaps[0]["resumed"] != true {
		t.Errorf("gap %v", gaps[0])
	}
	// The flood is recorded as counts: a storm event a second, at most a
	// few bytes a packet.
	r := run(t, nil, "events", file, "--kind", "storm")
	if n := strings.Count(r.stdout, "\n"); n < 5 {
		t.Errorf("%d storm events for a 12 s flood", n)
	}
	if fi, err := os.Stat(file); err == nil {
		t.Logf("recording: %d bytes", fi.Size())
	}
}
