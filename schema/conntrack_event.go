package schema

// The conntrack probe's events and summary.

import (
	"fmt"

	"github.com/stakeout/stakeout/event"
)

// KindConntrack is one sample of the conntrack table.
const KindConntrack = "conntrack"

// ConntrackSample is the table's fill at the sample time, and how much each
// counter rose since the previous sample (summed over CPUs; 0 in the first).
type ConntrackSample struct {
	Count     uint64  `json:"count"`
	Max       uint64  `json:"max"`
	IntervalS float64 `json:"interval_s"` // 0 in the first sample
	// Packets dropped because the table was full (drop), entries evicted
	// early to make room (early_drop), inserts that lost a race or clashed
	// (insert_failed), and lookups restarted by concurrent changes.
	Drop          uint64 `json:"drop"`
	EarlyDrop     uint64 `json:"early_drop"`
	InsertFailed  uint64 `json:"insert_failed"`
	SearchRestart uint64 `json:"search_restart"`
}

func (ConntrackSample) EventKind() string { return KindConntrack }

// Ratio is Count/Max, 0 when Max is unknown.
func (s ConntrackSample) Ratio() float64 {
	if s.Max == 0 {
		return 0
	}
	return float64(s.Count) / float64(s.Max)
}

func init() { event.Register(KindConntrack, func() event.Body { return &ConntrackSample{} }) }

// ConntrackSummary keeps the peak fill and the total drops.
type ConntrackSummary struct {
	samples                  int
	last, peak               ConntrackSample
	drop, early, insertFails uint64
}

// ConntrackSummaryResult is the JSON form, under "summary": {"conntrack": …}.
type ConntrackSummaryResult struct {
	Samples      int     `json:"samples"`
	Count        uint64  `json:"count"` // at the last sample
	Max          uint64  `json:"max"`
	PeakCount    uint64  `json:"peak_count"`
	PeakRatio    float64 `json:"peak_ratio"`
	Drop         uint64  `json:"drop"`
	EarlyDrop    uint64  `json:"early_drop"`
	InsertFailed uint64  `json:"insert_failed"`
}

func (s *ConntrackSummary) Observe(ev event.Event) {
	c, ok := event.As[ConntrackSample](ev)
	if !ok {
		return
	}
	s.samples++
	s.last = *c
	if c.Ratio() >= s.peak.Ratio() {
		s.peak = *c
	}
	s.drop = event.AddCount(s.drop, c.Drop)
	s.early = event.AddCount(s.early, c.EarlyDrop)
	s.insertFails = event.AddCount(s.insertFails, c.InsertFailed)
}

func (s *ConntrackSummary) Result() any {
	return ConntrackSummaryResult{Samples: s.samples, Count: s.last.Count, Max: s.last.Max, PeakCount: s.peak.Count,
		PeakRatio: round2(s.peak.Ratio()), Drop: s.drop, EarlyDrop: s.early, InsertFailed: s.insertFails}
}

func (s *ConntrackSummary) Lines() []string {
	if s.samples == 0 {
		return []string{"no conntrack table sampled"}
	}
	return []string{fmt.Sprintf("table %d/%d now, peak %d (%.0f%%); %d dropped, %d early drops, %d failed inserts",
		s.last.Count, s.last.Max, s.peak.Count, s.peak.Ratio()*100, s.drop, s.early, s.insertFails)}
}

// ProbeConntrack is the conntrack probe's name.
const ProbeConntrack = "conntrack"

func init() {
	RegisterProbe(ProbeInfo{Name: ProbeConntrack, Rank: 60, Summary: func() Summarizer { return &ConntrackSummary{} },
		Kinds: []string{KindConntrack}})
}
