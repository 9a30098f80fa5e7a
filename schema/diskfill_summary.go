package schema

import (
	"fmt"
	"math"
	"sort"

	"github.com/stakeout/stakeout/event"
)

// DiskSummary condenses diskfill samples into one row per filesystem for
// reports: space at the start and the end, the fastest fill seen and the
// shortest time-to-full. It keeps one row per filesystem (at most
// MaxDiskFilesystems), never events. The zero value is ready to use.
type DiskSummary struct {
	samples int
	rows    map[string]*DiskFSSummary
	order   []string
}

// DiskFSSummary is one filesystem's row; its JSON names are a public contract.
type DiskFSSummary struct {
	Mount           string   `json:"mount"`
	Device          string   `json:"device"`
	FSType          string   `json:"fstype"`
	SizeBytes       uint64   `json:"size_bytes"`
	FirstUsedBytes  uint64   `json:"first_used_bytes"`
	LastUsedBytes   uint64   `json:"last_used_bytes"`
	LastAvailBytes  uint64   `json:"last_avail_bytes"`
	LastInodesFree  uint64   `json:"last_inodes_free"`
	MaxRateBytesPS  float64  `json:"max_rate_bytes_per_s"`
	MinEtaS         *float64 `json:"min_eta_s,omitempty"`
	MinInodeEtaS    *float64 `json:"min_inodes_eta_s,omitempty"`
	MaxDeletedBytes int64    `json:"max_deleted_open_bytes,omitempty"` // deleted-but-open files, summed, at the worst sample
	StaleSamples    int      `json:"stale_samples,omitempty"`
}

// DiskSummaryResult is the JSON form.
type DiskSummaryResult struct {
	Samples     int             `json:"samples"`
	Filesystems []DiskFSSummary `json:"filesystems"`
}

// Observe takes the next event; anything but a DiskUsage is ignored.
func (s *DiskSummary) Observe(ev event.Event) {
	u, ok := event.As[DiskUsage](ev)
	if !ok {
		return
	}
	s.samples++
	if s.rows == nil {
		s.rows = map[string]*DiskFSSummary{}
	}
	for _, f := range u.Filesystems {
		r := s.rows[f.Mount]
		if r == nil {
			if len(s.rows) >= MaxDiskFilesystems {
				continue
			}
			r = &DiskFSSummary{Mount: f.Mount, FirstUsedBytes: f.UsedBytes}
			s.rows[f.Mount] = r
			s.order = append(s.order, f.Mount)
		}
		r.Device, r.FSType, r.SizeBytes = f.Device, f.FSType, f.SizeBytes
		r.LastUsedBytes, r.LastAvailBytes, r.LastInodesFree = f.UsedBytes, f.AvailBytes, f.InodesFree
		r.MaxRateBytesPS = max(r.MaxRateBytesPS, round2(f.Bytes.RatePerS))
		r.MinEtaS = minEta(r.MinEtaS, f.Bytes.EtaS)
		r.MinInodeEtaS = minEta(r.MinInodeEtaS, f.Inodes.EtaS)
		var del uint64
		for _, d := range f.DeletedOpen {
			del = event.AddCount(del, uint64(max(d.SizeBytes, 0)))
		}
		r.MaxDeletedBytes = max(r.MaxDeletedBytes, int64(del))
		if f.Stale {
			r.StaleSamples++
		}
	}
}

func minEta(cur, next *float64) *float64 {
	if next == nil || (cur != nil && *cur <= *next) {
		return cur
	}
	v := math.Round(*next)
	return &v
}

// Rows returns the rows in the order the filesystems were first seen.
func (s *DiskSummary) Rows() []DiskFSSummary {
	out := make([]DiskFSSummary, 0, len(s.order))
	for _, m := range s.order {
		out = append(out, *s.rows[m])
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Mount < out[j].Mount })
	return out
}

// Result is the JSON-able summary.
func (s *DiskSummary) Result() any {
	return DiskSummaryResult{Samples: s.samples, Filesystems: s.Rows()}
}

// Lines is the summary as text, one line per filesystem.
func (s *DiskSummary) Lines() []string {
	rows := s.Rows()
	if len(rows) == 0 {
		return []string{fmt.Sprintf("no filesystem sampled in %d samples", s.samples)}
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		pct := UsedPct(r.LastUsedBytes, r.LastAvailBytes)
		line := fmt.Sprintf("%s (%s, %s): %.1f%% of %s used, %s available; grew %s",
			r.Mount, r.Device, r.FSType, pct, event.HumanBytes(int64(r.SizeBytes)),
			event.HumanBytes(int64(r.LastAvailBytes)), signedBytes(int64(r.LastUsedBytes)-int64(r.FirstUsedBytes)))
		if r.MinEtaS != nil {
			line += fmt.Sprintf("; fastest fill %s/s, full in %s at worst",
				event.HumanBytes(event.SatInt64(r.MaxRateBytesPS)), FormatETA(*r.MinEtaS))
		}
		if r.MinInodeEtaS != nil {
			line += "; inodes full in " + FormatETA(*r.MinInodeEtaS) + " at worst"
		}
		if r.MaxDeletedBytes > 0 {
			line += "; deleted files held open: " + event.HumanBytes(r.MaxDeletedBytes)
		}
		if r.StaleSamples > 0 {
			line += fmt.Sprintf("; statfs hung in %d samples", r.StaleSamples)
		}
		out = append(out, line)
	}
	return out
}

// UsedPct is df's Use%: used ÷ (used + available to users), so a filesystem
// whose root reserve is all that is left reads 100%.
func UsedPct(used, avail uint64) float64 {
	if used == 0 && avail == 0 {
		return 0
	}
	return float64(used) / (float64(used) + float64(avail)) * 100 // in floats: the sum can't wrap
}

func signedBytes(n int64) string {
	if n < 0 {
		return "-" + event.HumanBytes(-n)
	}
	return event.HumanBytes(n)
}

// FormatETA prints a time-to-full as 45s, 12m, 3h05m or 4d.
func FormatETA(s float64) string {
	switch {
	case s < 0 || !event.Finite(s):
		return "-"
	case s < 90:
		return fmt.Sprintf("%.0fs", s)
	case s < 90*60:
		return fmt.Sprintf("%.0fm", s/60)
	case s < 48*3600:
		h := int(s / 3600)
		return fmt.Sprintf("%dh%02dm", h, int(s/60)-h*60)
	default:
		return fmt.Sprintf("%.0fd", s/86400)
	}
}

// ProbeDiskfill is the diskfill probe's name.
const ProbeDiskfill = "diskfill"

func init() {
	RegisterProbe(ProbeInfo{Name: ProbeDiskfill, Rank: 40, Summary: func() Summarizer { return &DiskSummary{} },
		Kinds: []string{KindDiskUsage}})
}
