package engine

import (
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/schema"
)

// guardClear is how long the recording's filesystem must stay well clear
// of critical before a recording paused for it resumes: the disk.filling
// detector's own episode length.
var guardClear = findings.DefaultDiskFillThresholds.Clear

// recordGuard pauses the recording while the filesystem holding it fills
// critically, as the detectors see it: a critical disk.filling or
// disk.inodes_filling for one of that filesystem's mount points. It asks
// for a resume once every sample of that filesystem has been well clear of
// critical (findings.DiskFillThresholds.WellClear) for guardClear, in event
// time. The writer's own free-space floor works beside it.
type recordGuard struct {
	mounts    map[string]bool
	paused    bool
	safeSince time.Time // first of the current run of well-clear samples
}

func newRecordGuard(mounts []string) *recordGuard {
	if len(mounts) == 0 {
		return nil
	}
	g := &recordGuard{mounts: map[string]bool{}}
	for _, m := range mounts {
		g.mounts[m] = true
	}
	return g
}

// observe returns a reason to pause, or resume = true, or neither.
func (g *recordGuard) observe(ev event.Event) (pause string, resume bool) {
	if g == nil {
		return "", false
	}
	if f, ok := event.AsFinding(ev); ok {
		// A clear carries the severity the condition had: it is the end of
		// the fill, never a reason to pause.
		if f.Severity < event.Critical || f.State == event.FindingCleared ||
			(f.Finding != findings.FindingDiskFilling && f.Finding != findings.FindingDiskInodesFilling) {
			return "", false
		}
		if !g.mounts[findingMount(f)] {
			return "", false
		}
		g.safeSince = time.Time{}
		if g.paused {
			return "", false
		}
		g.paused = true
		// The summary without its top writer: "/var: 1.2 GiB of 40 GiB
		// available, filling at 30 MiB/s, full in 41s".
		summary, _, _ := strings.Cut(f.Summary, "; top writer")
		return "its filesystem is filling (" + f.Finding + "): " + summary, false
	}
	if !g.paused {
		return "", false
	}
	u, ok := schema.AsDiskUsage(ev)
	if !ok {
		return "", false
	}
	for _, fs := range u.Filesystems {
		if !g.mounts[fs.Mount] || fs.Stale {
			continue
		}
		if !findings.DefaultDiskFillThresholds.WellClear(fs) {
			g.safeSince = time.Time{}
			return "", false
		}
		if g.safeSince.IsZero() {
			g.safeSince = ev.Time
		}
		if ev.Time.Sub(g.safeSince) >= guardClear {
			g.paused, g.safeSince = false, time.Time{}
			return "", true
		}
	}
	return "", false
}

// findingMount is the mount a disk finding is about, whether its data is
// the detector's struct (live) or a decoded map (from a file).
func findingMount(f *event.Finding) string {
	switch d := f.Data.(type) {
	case findings.DiskFillingData:
		return d.Mount
	case *findings.DiskFillingData:
		return d.Mount
	case findings.DiskInodesFillingData:
		return d.Mount
	case *findings.DiskInodesFillingData:
		return d.Mount
	case map[string]any:
		m, _ := d["mount"].(string)
		return m
	}
	return ""
}
