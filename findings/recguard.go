package findings

import (
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// DiskFillGuard is the recording guard (engine.Options.RecordGuard) that
// pauses the recording while the filesystem holding it fills critically,
// as the detectors see it: a critical disk.filling or disk.inodes_filling
// for one of that filesystem's mount points. It asks for a resume once
// every sample of that filesystem has been well clear of critical
// (DiskFillThresholds.WellClear) for the disk.filling detector's own
// episode length (DefaultDiskFillThresholds.Clear), in event time. The
// writer's own free-space floor works beside it.
type DiskFillGuard struct {
	mounts    map[string]bool
	paused    bool
	safeSince time.Time // first of the current run of well-clear samples
}

// NewDiskFillGuard guards a recording on the filesystem mounted at mounts
// (every mount point of it: a bind mount shows the same filesystem under
// another name). With no mounts it never pauses.
func NewDiskFillGuard(mounts []string) *DiskFillGuard {
	g := &DiskFillGuard{mounts: map[string]bool{}}
	for _, m := range mounts {
		g.mounts[m] = true
	}
	return g
}

// Observe takes every event and finding in stream order and returns a
// reason to pause, or resume = true, or neither. It asks for a pause once
// per fill and for a resume only after a pause.
func (g *DiskFillGuard) Observe(ev event.Event) (pause string, resume bool) {
	if ev.Host != "" {
		// Another host's disk (--ssh): the recording is on this one.
		return "", false
	}
	if f, ok := event.As[event.Finding](ev); ok {
		return g.observeFinding(f), false
	}
	if !g.paused {
		return "", false
	}
	if u, ok := event.As[schema.DiskUsage](ev); ok {
		return "", g.observeUsage(ev.Time, u)
	}
	return "", false
}

// observeFinding pauses on a critical fill of the guarded filesystem and
// restarts the well-clear run on any such finding.
func (g *DiskFillGuard) observeFinding(f *event.Finding) (pause string) {
	// A clear carries the severity the condition had: it is the end of
	// the fill, never a reason to pause.
	if f.Severity < event.Critical || f.State == event.FindingCleared ||
		(f.Finding != FindingDiskFilling && f.Finding != FindingDiskInodesFilling) {
		return ""
	}
	if !g.mounts[findingMount(f)] {
		return ""
	}
	g.safeSince = time.Time{}
	if g.paused {
		return ""
	}
	g.paused = true
	// The summary without its top writer: "/var: 1.2 GiB of 40 GiB
	// available, filling at 30 MiB/s, full in 41s".
	summary, _, _ := strings.Cut(f.Summary, "; top writer")
	return "its filesystem is filling (" + f.Finding + "): " + summary
}

// observeUsage, while paused, reports whether the guarded filesystem has
// now been well clear for long enough to resume.
func (g *DiskFillGuard) observeUsage(at time.Time, u *schema.DiskUsage) (resume bool) {
	for _, fs := range u.Filesystems {
		if !g.mounts[fs.Mount] || fs.Stale {
			continue
		}
		if !DefaultDiskFillThresholds.WellClear(fs) {
			g.safeSince = time.Time{}
			return false
		}
		if g.safeSince.IsZero() {
			g.safeSince = at
		}
		if at.Sub(g.safeSince) >= DefaultDiskFillThresholds.Clear {
			g.paused, g.safeSince = false, time.Time{}
			return true
		}
	}
	return false
}

// findingMount is the mount a disk finding is about, whether its data is
// the detector's struct (live) or a decoded map (from a file).
func findingMount(f *event.Finding) string {
	switch d := f.Data.(type) {
	case DiskFillingData:
		return d.Mount
	case *DiskFillingData:
		return d.Mount
	case DiskInodesFillingData:
		return d.Mount
	case *DiskInodesFillingData:
		return d.Mount
	case map[string]any:
		m, _ := d["mount"].(string)
		return m
	}
	return ""
}
