package findings

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// Findings of the diskfill probe.
const (
	FindingDiskFilling       = "disk.filling"
	FindingDiskInodesFilling = "disk.inodes_filling"
	FindingDiskDeletedOpen   = "disk.deleted_open"
)

// DiskFillThresholds tune disk.filling and disk.inodes_filling.
//
// Why a sustain that scales with the time left: the probe's estimate only
// exists for a steady fill, but a steady fill can still be a long burst (a
// big apt run). Waiting an eighth of the time left, at most a minute,
// lets such a burst end before it alarms while a disk that is full in 20 s
// is reported within about 3 s.
type DiskFillThresholds struct {
	WarnETA          time.Duration // time-to-full under this warns…
	CriticalETA      time.Duration // …and under this is critical,
	CriticalAvailPct float64       // as is less than this % of the space (or inodes) left.
	SustainFrac      float64       // the condition must hold for this share of the time left…
	MaxSustain       time.Duration // …but never longer than this, and over two samples at least.
	Clear            time.Duration // an episode ends after this long below the line
	DeletedWarnPct   float64       // a deleted-but-open file of this % of its filesystem warns (else info)
}

// DefaultDiskFillThresholds are those NewDiskFill uses.
var DefaultDiskFillThresholds = DiskFillThresholds{
	WarnETA:          6 * time.Hour,
	CriticalETA:      30 * time.Minute,
	CriticalAvailPct: 1,
	SustainFrac:      1.0 / 8,
	MaxSustain:       time.Minute,
	Clear:            30 * time.Second,
	DeletedWarnPct:   1,
}

// Doc describes the rules in words the README can quote.
func (t DiskFillThresholds) Doc() string {
	return fmt.Sprintf("%s: a filesystem whose time-to-full (available space ÷ the probe's fill rate) is under %s "+
		"warns, and is critical under %s or when less than %g%% of it is available. The condition must hold over "+
		"two samples and for an eighth of the time left, at most %s. One finding per episode: raised, updated "+
		"while it lasts (at once when it turns critical, which takes a sustain of its own), cleared %s after the "+
		"condition last held. %s: the same for inodes. "+
		"%s: an unlinked file of 1 MiB or more still held open, one finding per process and path, cleared when "+
		"it is gone; a warning from %g%% of its filesystem, else info.",
		FindingDiskFilling, schema.FormatETA(t.WarnETA.Seconds()), schema.FormatETA(t.CriticalETA.Seconds()),
		t.CriticalAvailPct, schema.FormatETA(t.MaxSustain.Seconds()), schema.FormatETA(t.Clear.Seconds()),
		FindingDiskInodesFilling, FindingDiskDeletedOpen, t.DeletedWarnPct)
}

// DiskFillingData is disk.filling's data.
type DiskFillingData struct {
	Mount         string              `json:"mount"`
	Device        string              `json:"device"`
	FSType        string              `json:"fstype"`
	SizeBytes     uint64              `json:"size_bytes"`
	AvailBytes    uint64              `json:"avail_bytes"`
	RateBytesPerS float64             `json:"rate_bytes_per_s"`
	EtaS          *float64            `json:"eta_s"` // null: nearly full but not filling now
	Writers       []schema.DiskWriter `json:"writers"`
}

// DiskInodesFillingData is disk.inodes_filling's data.
type DiskInodesFillingData struct {
	Mount          string              `json:"mount"`
	Device         string              `json:"device"`
	FSType         string              `json:"fstype"`
	InodesTotal    uint64              `json:"inodes_total"`
	InodesFree     uint64              `json:"inodes_free"`
	RateInodesPerS float64             `json:"rate_inodes_per_s"`
	EtaS           *float64            `json:"eta_s"`
	Writers        []schema.DiskWriter `json:"writers"`
}

// DiskDeletedOpenData is disk.deleted_open's data.
type DiskDeletedOpenData struct {
	Mount     string `json:"mount"`
	PID       int    `json:"pid"`
	Comm      string `json:"comm"`
	Path      string `json:"path"`
	SizeBytes int64  `json:"size_bytes"`
}

// A filling filesystem is shown by its samples; a deleted file held open
// by its filesystem's byte samples too.
func init() {
	register(FindingDiskFilling, func(d DiskFillingData) Evidence {
		return diskEvidence(EvidenceDisk, About{Mount: d.Mount, Device: d.Device})
	})
	register(FindingDiskInodesFilling, func(d DiskInodesFillingData) Evidence {
		return diskEvidence(EvidenceInodes, About{Mount: d.Mount, Device: d.Device})
	})
	register(FindingDiskDeletedOpen, func(d DiskDeletedOpenData) Evidence {
		return diskEvidence(EvidenceDisk, About{Mount: d.Mount, PID: d.PID, Comm: d.Comm})
	})
}

const maxDeletedSeen = 4096 // (mount, pid, path) remembered so each fires once

type fillRun struct {
	start, last time.Time      // first and latest sample at or above warn
	crit        time.Time      // first of the current critical samples
	fired       event.Severity // the severity it holds now
	hasFired    bool
}

type runKey struct {
	inodes bool
	mount  string
}

type deletedKey struct {
	mount, path string
	pid         int
}

type diskFill struct {
	t       DiskFillThresholds
	c       conds // disk.filling and disk.inodes_filling
	del     conds // disk.deleted_open
	runs    map[runKey]*fillRun
	deleted map[deletedKey]time.Time // last seen
	prevT   time.Time
}

// NewDiskFill returns the disk detectors with DefaultDiskFillThresholds.
func NewDiskFill() Detector { return NewDiskFillWith(DefaultDiskFillThresholds) }

// NewDiskFillWith returns the disk detectors with other thresholds.
func NewDiskFillWith(t DiskFillThresholds) Detector {
	return &diskFill{t: t, runs: map[runKey]*fillRun{}, deleted: map[deletedKey]time.Time{}}
}

func (d *diskFill) Produces() []string {
	return []string{FindingDiskFilling, FindingDiskInodesFilling, FindingDiskDeletedOpen}
}

func (d *diskFill) Observe(ev event.Event) []event.Event {
	u, ok := event.As[schema.DiskUsage](ev)
	if !ok {
		return nil
	}
	at := ev.Time
	if at.Before(d.prevT) { // another recording, or a seek: start over
		clear(d.runs)
		clear(d.deleted)
		d.c.reset()
		d.del.reset()
	}
	d.prevT = at
	var out []event.Event
	add := func(f *event.Finding) {
		if f != nil {
			out = append(out, event.New(at, ev.Probe, f))
		}
	}
	for _, fs := range u.Filesystems {
		if fs.Stale || len(d.runs) >= 2*schema.MaxDiskFilesystems {
			continue // a stale sample repeats old numbers: no evidence either way
		}
		add(d.fill(runKey{false, fs.Mount}, at, fs.Bytes, fs.AvailBytes, fs.SizeBytes, func(sev event.Severity) *event.Finding {
			return bytesFinding(fs, sev)
		}))
		if fs.InodesTotal > 0 {
			add(d.fill(runKey{true, fs.Mount}, at, fs.Inodes, fs.InodesFree, fs.InodesTotal, func(sev event.Severity) *event.Finding {
				return inodesFinding(fs, sev)
			}))
		}
		for _, del := range fs.DeletedOpen {
			add(d.deletedOpen(at, fs, del))
		}
	}
	var gone []deletedKey
	for k, seen := range d.deleted {
		if at.Sub(seen) >= d.t.Clear {
			delete(d.deleted, k)
			gone = append(gone, k)
		}
	}
	sort.Slice(gone, func(i, j int) bool { return deletedCondKey(gone[i]) < deletedCondKey(gone[j]) })
	for _, k := range gone {
		add(d.del.end(at, deletedCondKey(k)))
	}
	return out
}

func fillCondKey(k runKey) string {
	if k.inodes {
		return condKey(FindingDiskInodesFilling, k.mount)
	}
	return condKey(FindingDiskFilling, k.mount)
}

func deletedCondKey(k deletedKey) string {
	return condKey(FindingDiskDeletedOpen, k.mount, k.pid, k.path)
}

// level is the severity of one quantity now: how long until full, or how
// little is left.
func (d *diskFill) level(tr schema.Trend, left, total uint64) event.Severity {
	if total > 0 && float64(left) < float64(total)*d.t.CriticalAvailPct/100 {
		return event.Critical
	}
	if tr.EtaS == nil {
		return event.Info
	}
	eta := event.DurationOf(*tr.EtaS)
	switch {
	case eta < d.t.CriticalETA:
		return event.Critical
	case eta < d.t.WarnETA:
		return event.Warn
	}
	return event.Info
}

// WellClear reports whether a filesystem is far from critical by both
// measures, space and inodes: at least twice the critical share available
// and, if filling, at least twice the critical time to full. The engine
// resumes a recording paused for its filesystem only after a run of such
// samples, so a fill hovering at the critical line does not make it flap.
func (t DiskFillThresholds) WellClear(fs schema.Filesystem) bool {
	clear := func(tr schema.Trend, left, total uint64) bool {
		if total > 0 && float64(left) < float64(total)*2*t.CriticalAvailPct/100 {
			return false
		}
		return tr.EtaS == nil || *tr.EtaS >= 2*t.CriticalETA.Seconds()
	}
	return clear(fs.Bytes, fs.AvailBytes, fs.SizeBytes) &&
		(fs.InodesTotal == 0 || clear(fs.Inodes, fs.InodesFree, fs.InodesTotal))
}

func (d *diskFill) fill(k runKey, at time.Time, tr schema.Trend, left, total uint64, mk func(event.Severity) *event.Finding) *event.Finding {
	sev := d.level(tr, left, total)
	r := d.runs[k]
	if sev == event.Info {
		// Before it fires a run needs an unbroken condition; after, it
		// survives dips and ends after Clear.
		if r != nil && (!r.hasFired || at.Sub(r.last) >= d.t.Clear) {
			delete(d.runs, k)
			if r.hasFired {
				return d.c.end(at, fillCondKey(k))
			}
		}
		if r != nil {
			r.crit = time.Time{}
		}
		return nil
	}
	if r == nil {
		r = &fillRun{start: at}
		d.runs[k] = r
	}
	r.last = at
	start := r.start
	if sev == event.Critical {
		if r.crit.IsZero() {
			r.crit = at
		}
		start = r.crit // a warning turning critical waits its own sustain
	} else {
		r.crit = time.Time{}
	}
	// Nearly full with no rate: nothing to wait for but a second sample.
	need := time.Duration(0)
	if tr.EtaS != nil {
		need = min(d.t.MaxSustain, event.DurationOf(*tr.EtaS*d.t.SustainFrac))
	}
	sustained := at.After(start) && at.Sub(start) >= need
	switch {
	case !r.hasFired && !sustained:
		return nil
	case !r.hasFired, sev > r.fired && sustained, sev < r.fired:
		r.fired = sev // raised, risen after its sustain, or eased
	}
	r.hasFired = true
	f := mk(r.fired)
	f.Key = fillCondKey(k)
	return d.c.hold(at, f, fillMaterial)
}

// fillMaterial: the time to full halved or doubled, appeared or went, or
// the top writer changed.
func fillMaterial(prev, cur *event.Finding) bool {
	var pe, ce *float64
	var pw, cw []schema.DiskWriter
	switch c := cur.Data.(type) {
	case DiskFillingData:
		p := prev.Data.(DiskFillingData)
		pe, ce, pw, cw = p.EtaS, c.EtaS, p.Writers, c.Writers
	case DiskInodesFillingData:
		p := prev.Data.(DiskInodesFillingData)
		pe, ce, pw, cw = p.EtaS, c.EtaS, p.Writers, c.Writers
	}
	if (pe == nil) != (ce == nil) || (pe != nil && (*ce >= 2**pe || *pe >= 2**ce)) {
		return true
	}
	if (len(pw) == 0) != (len(cw) == 0) {
		return true
	}
	return len(pw) > 0 && pw[0].PID != cw[0].PID
}

func bytesFinding(fs schema.Filesystem, sev event.Severity) *event.Finding {
	data := DiskFillingData{Mount: fs.Mount, Device: fs.Device, FSType: fs.FSType, SizeBytes: fs.SizeBytes,
		AvailBytes: fs.AvailBytes, RateBytesPerS: round2(fs.Bytes.RatePerS), EtaS: roundPtr(fs.Bytes.EtaS),
		Writers: fs.Writers}
	if data.Writers == nil {
		data.Writers = []schema.DiskWriter{}
	}
	summary := fmt.Sprintf("%s: %s of %s available", event.Sanitize(fs.Mount),
		event.HumanBytes(int64(fs.AvailBytes)), event.HumanBytes(int64(fs.SizeBytes)))
	if data.EtaS != nil {
		summary += fmt.Sprintf(", filling at %s/s, full in %s", event.HumanBytes(event.SatInt64(data.RateBytesPerS)),
			schema.FormatETA(*data.EtaS))
	}
	if len(fs.Writers) > 0 {
		w := fs.Writers[0]
		summary += fmt.Sprintf("; top writer %s[%d]", event.Sanitize(w.Comm), w.PID)
		if len(w.Files) > 0 {
			summary += " → " + event.Sanitize(w.Files[0].Path)
		}
	}
	return &event.Finding{Finding: FindingDiskFilling, Severity: sev, Summary: summary, Data: data}
}

func inodesFinding(fs schema.Filesystem, sev event.Severity) *event.Finding {
	data := DiskInodesFillingData{Mount: fs.Mount, Device: fs.Device, FSType: fs.FSType, InodesTotal: fs.InodesTotal,
		InodesFree: fs.InodesFree, RateInodesPerS: round2(fs.Inodes.RatePerS), EtaS: roundPtr(fs.Inodes.EtaS),
		Writers: fs.Writers}
	if data.Writers == nil {
		data.Writers = []schema.DiskWriter{}
	}
	summary := fmt.Sprintf("%s: %d of %d inodes free", event.Sanitize(fs.Mount), fs.InodesFree, fs.InodesTotal)
	if data.EtaS != nil {
		summary += fmt.Sprintf(", %.0f files/s created, out of inodes in %s", data.RateInodesPerS, schema.FormatETA(*data.EtaS))
	}
	return &event.Finding{Finding: FindingDiskInodesFilling, Severity: sev, Summary: summary, Data: data}
}

func (d *diskFill) deletedOpen(at time.Time, fs schema.Filesystem, del schema.DeletedOpen) *event.Finding {
	k := deletedKey{fs.Mount, del.Path, del.PID}
	if _, seen := d.deleted[k]; !seen && len(d.deleted) >= maxDeletedSeen {
		return nil
	}
	d.deleted[k] = at
	sev := event.Info
	if fs.SizeBytes > 0 && float64(del.SizeBytes) >= float64(fs.SizeBytes)*d.t.DeletedWarnPct/100 {
		sev = event.Warn
	}
	return d.del.hold(at, &event.Finding{Finding: FindingDiskDeletedOpen, Severity: sev, Key: deletedCondKey(k),
		Summary: fmt.Sprintf("%s: %s held by %s[%d] in deleted %s (df counts it, du does not)",
			event.Sanitize(fs.Mount), event.HumanBytes(del.SizeBytes), event.Sanitize(del.Comm), del.PID,
			event.Sanitize(del.Path)),
		Data: DiskDeletedOpenData{Mount: fs.Mount, PID: del.PID, Comm: del.Comm, Path: del.Path, SizeBytes: del.SizeBytes}}, deletedMaterial)
}

// deletedMaterial: the held file doubled in size.
func deletedMaterial(prev, cur *event.Finding) bool {
	return cur.Data.(DiskDeletedOpenData).SizeBytes >= 2*prev.Data.(DiskDeletedOpenData).SizeBytes
}

func roundPtr(p *float64) *float64 {
	if p == nil {
		return nil
	}
	v := math.Round(*p*10) / 10
	return &v
}

func init() { registerDetector(40, func(Config) Detector { return NewDiskFill() }) }
