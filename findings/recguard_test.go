package findings

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// guardSample is one diskfill sample: /data (the recording's filesystem)
// with avail bytes of 1 GiB available, and /other, critical throughout.
func guardSample(s int, avail uint64) event.Event {
	const size = 1 << 30
	fs := func(mount string, avail uint64) schema.Filesystem {
		return schema.Filesystem{Mount: mount, Device: "/dev/x" + mount, FSType: "ext4", SizeBytes: size,
			UsedBytes: size - avail, AvailBytes: avail, FreeBytes: avail}
	}
	return event.New(t0.Add(time.Duration(s)*time.Second), "diskfill", &schema.DiskUsage{IntervalS: 1,
		Filesystems: []schema.Filesystem{fs("/data", avail), fs("/other", 1<<20)}})
}

// TestDiskFillGuardPausesForItsFilesystemOnly runs the disk detector over
// samples and shows the guard each sample and each finding, as the engine
// does: the guard pauses on the critical disk.filling for /data (none for
// /other, critical from the start), once, with the finding's summary as
// its reason; it resumes only after 30 s of well-clear /data samples, a
// dip to 1.5% restarting the count.
func TestDiskFillGuardPausesForItsFilesystemOnly(t *testing.T) {
	const gb = 1 << 30
	var avail []uint64
	add := func(v uint64, n int) {
		for range n {
			avail = append(avail, v)
		}
	}
	add(gb/2, 5)     // 0…4 healthy
	add(gb/200, 5)   // 5…9 under 1%: critical from the second such sample
	add(gb/2, 10)    // 10…19 clear, but not for long enough
	add(gb*3/200, 1) // 20 dips under twice the critical share
	add(gb/2, 35)    // 21…55: resumes at 51, 30 s after 21
	g := NewDiskFillGuard([]string{"/data", "/mnt/data-bind"})
	d := NewDiskFill()
	var log []string
	see := func(s int, ev event.Event) {
		switch pause, resume := g.Observe(ev); {
		case pause != "":
			log = append(log, fmt.Sprintf("pause@%d", s))
			if !strings.HasPrefix(pause, "its filesystem is filling (disk.filling): /data: ") {
				t.Errorf("pause reason %q", pause)
			}
		case resume:
			log = append(log, fmt.Sprintf("resume@%d", s))
		}
	}
	otherFindings := 0
	for s, v := range avail {
		ev := guardSample(s, v)
		see(s, ev)
		for _, f := range d.Observe(ev) {
			if fi, _ := event.As[event.Finding](f); fi.Severity == event.Critical && findingMount(fi) == "/other" {
				otherFindings++
			}
			see(s, f)
		}
	}
	if otherFindings == 0 {
		t.Fatal("no critical finding for /other: the test shows nothing about other mounts")
	}
	if got := strings.Join(log, " "); got != "pause@6 resume@51" {
		t.Fatalf("guard: %s, want pause@6 resume@51", got)
	}
}

// The guard knows a finding's mount from its typed data (live) and from a
// decoded map (read from a file), under any mount point of the filesystem;
// it pauses once per fill; the summary loses its top writer; with no
// mount it never pauses.
func TestDiskFillGuardFindingForms(t *testing.T) {
	crit := func(name string, data any) event.Event {
		return event.New(t0, "diskfill", &event.Finding{Finding: name, Severity: event.Critical,
			Summary: "/data: 5 MiB of 1 GiB available, full in 9s; top writer dd (pid 7) 30 MiB/s", Data: data})
	}
	for _, c := range []struct {
		name string
		ev   event.Event
	}{
		{"struct", crit(FindingDiskFilling, DiskFillingData{Mount: "/data"})},
		{"pointer", crit(FindingDiskFilling, &DiskFillingData{Mount: "/data"})},
		{"inodes", crit(FindingDiskInodesFilling, DiskInodesFillingData{Mount: "/data"})},
		{"from a file", crit(FindingDiskFilling, map[string]any{"mount": "/mnt/data-bind"})},
	} {
		g := NewDiskFillGuard([]string{"/data", "/mnt/data-bind"})
		pause, _ := g.Observe(c.ev)
		if want := "its filesystem is filling (" + c.ev.Body.(*event.Finding).Finding +
			"): /data: 5 MiB of 1 GiB available, full in 9s"; pause != want {
			t.Errorf("%s: pause %q, want %q", c.name, pause, want)
		}
		if again, _ := g.Observe(c.ev); again != "" {
			t.Errorf("%s: paused twice", c.name)
		}
	}
	for _, c := range []struct {
		name string
		ev   event.Event
	}{
		{"another mount", crit(FindingDiskFilling, DiskFillingData{Mount: "/var"})},
		{"not a fill", crit(FindingDiskDeletedOpen, map[string]any{"mount": "/data"})},
		{"a warning", event.New(t0, "diskfill", &event.Finding{Finding: FindingDiskFilling, Severity: event.Warn,
			Data: DiskFillingData{Mount: "/data"}})},
	} {
		if pause, _ := NewDiskFillGuard([]string{"/data"}).Observe(c.ev); pause != "" {
			t.Errorf("%s: paused: %s", c.name, pause)
		}
	}
	if pause, _ := NewDiskFillGuard(nil).Observe(crit(FindingDiskFilling, DiskFillingData{Mount: "/data"})); pause != "" {
		t.Errorf("a guard with no mounts paused: %s", pause)
	}
}

// A disk.filling condition's clear carries its last severity (critical);
// it ends the fill and must not pause the recording. Its critical update
// does, like a raise.
func TestDiskFillGuardIgnoresAClearedFill(t *testing.T) {
	fill := func(state string) event.Event {
		return event.New(t0, "diskfill", &event.Finding{Finding: FindingDiskFilling, Severity: event.Critical,
			Key: "disk.filling /data", State: state, Data: DiskFillingData{Mount: "/data"}})
	}
	g := NewDiskFillGuard([]string{"/data"})
	if pause, _ := g.Observe(fill(event.FindingCleared)); pause != "" {
		t.Fatalf("paused on a clear: %s", pause)
	}
	if pause, _ := g.Observe(fill(event.FindingUpdate)); pause == "" {
		t.Fatal("a critical update did not pause")
	}
}

// A remote host's /data filling (--ssh: its events carry its host) is
// not the recording's filesystem, which is on this host: no pause, and
// its samples never resume a pause of the local one.
func TestDiskFillGuardIgnoresOtherHosts(t *testing.T) {
	g := NewDiskFillGuard([]string{"/data"})
	crit := func(host string) event.Event {
		ev := event.New(t0, "diskfill", &event.Finding{Finding: FindingDiskFilling, Severity: event.Critical,
			Summary: "/data: full", Data: DiskFillingData{Mount: "/data"}})
		ev.Host = host
		return ev
	}
	if pause, _ := g.Observe(crit("r1")); pause != "" {
		t.Fatalf("paused for r1's /data: %q", pause)
	}
	if pause, _ := g.Observe(crit("")); pause == "" {
		t.Fatal("no pause for this host's /data")
	}
	for s := 1; s <= 60; s++ {
		ev := guardSample(s, 1<<29)
		ev.Host = "r1"
		if _, resume := g.Observe(ev); resume {
			t.Fatalf("r1's samples resumed this host's recording at %d s", s)
		}
	}
}
