package schema

import (
	"fmt"
	"math"
	"sort"

	"github.com/stakeout/stakeout/event"
)

// IOSummary condenses a stream of iostat samples into one row per device
// for reports (`snapshot`, `report`). It keeps running aggregates only, never
// events, so its memory is bounded by MaxIODevices whatever the session's
// length. The zero value is ready to use; it is not safe for concurrent use.
//
// Averages are over the whole observed time (the sum of every sample's
// interval), not over the samples a device appears in: the probe leaves idle
// devices out of a sample, so those intervals count as zero, and avg r/s is
// total reads ÷ seconds watched.
type IOSummary struct {
	seconds float64
	samples int
	devs    map[string]*ioAgg
	dropped int // device rows skipped because MaxIODevices devices were tracked
}

type ioAgg struct {
	samples   int
	partition bool
	// Integrals of each rate over time (i.e. totals: reads, kB, …).
	r, w, rkb, wkb, utilS                float64
	maxR, maxW, maxRKB, maxWKB, maxAwait float64
	maxAqu                               float64
}

// IODeviceSummary is one device's row. It goes into `snapshot --format
// json`, so its field names are a public contract.
type IODeviceSummary struct {
	Device     string  `json:"device"`
	Partition  bool    `json:"partition,omitempty"`
	Samples    int     `json:"samples"` // samples in which the device had I/O
	AvgRPerS   float64 `json:"avg_r_s"`
	MaxRPerS   float64 `json:"max_r_s"`
	AvgWPerS   float64 `json:"avg_w_s"`
	MaxWPerS   float64 `json:"max_w_s"`
	AvgRKBPerS float64 `json:"avg_rkb_s"`
	MaxRKBPerS float64 `json:"max_rkb_s"`
	AvgWKBPerS float64 `json:"avg_wkb_s"`
	MaxWKBPerS float64 `json:"max_wkb_s"`
	MaxAwaitMs float64 `json:"max_await_ms"` // worst interval's await (reads and writes)
	MaxAquSz   float64 `json:"max_aqu_sz"`
	AvgUtilPct float64 `json:"avg_util_pct"`
}

// IOSummaryResult is the JSON form of an IOSummary.
type IOSummaryResult struct {
	Samples     int               `json:"samples"`
	Seconds     float64           `json:"seconds"`
	Devices     []IODeviceSummary `json:"devices"`
	DroppedRows int               `json:"device_samples_dropped,omitempty"` // rows of devices past MaxIODevices
}

// Observe takes the next event; anything but an IOSample is ignored.
func (s *IOSummary) Observe(ev event.Event) {
	smp, ok := event.As[IOSample](ev)
	if !ok || !(smp.IntervalS > 0) || math.IsInf(smp.IntervalS, 0) {
		return
	}
	s.seconds += smp.IntervalS
	s.samples++
	if s.devs == nil {
		s.devs = map[string]*ioAgg{}
	}
	for _, d := range smp.Devices {
		a := s.devs[d.Device]
		if a == nil {
			if len(s.devs) >= MaxIODevices {
				s.dropped++
				continue
			}
			a = &ioAgg{}
			s.devs[d.Device] = a
		}
		a.add(d, smp.IntervalS)
	}
}

func (a *ioAgg) add(d DeviceIO, secs float64) {
	a.samples++
	a.partition = d.Partition
	a.r += d.RPerS * secs
	a.w += d.WPerS * secs
	a.rkb += d.RKBPerS * secs
	a.wkb += d.WKBPerS * secs
	a.utilS += d.UtilPct * secs
	a.maxR = max(a.maxR, d.RPerS)
	a.maxW = max(a.maxW, d.WPerS)
	a.maxRKB = max(a.maxRKB, d.RKBPerS)
	a.maxWKB = max(a.maxWKB, d.WKBPerS)
	a.maxAwait = max(a.maxAwait, d.AwaitMs())
	a.maxAqu = max(a.maxAqu, d.AquSz)
}

// Rows returns one row per device seen, sorted by name, values rounded to
// two decimals.
func (s IOSummary) Rows() []IODeviceSummary {
	names := make([]string, 0, len(s.devs))
	for n := range s.devs {
		names = append(names, n)
	}
	sort.Strings(names)
	rows := make([]IODeviceSummary, 0, len(names))
	for _, n := range names {
		a := s.devs[n]
		avg := func(total float64) float64 { return round2(total / s.seconds) }
		rows = append(rows, IODeviceSummary{
			Device: n, Partition: a.partition, Samples: a.samples,
			AvgRPerS: avg(a.r), MaxRPerS: round2(a.maxR),
			AvgWPerS: avg(a.w), MaxWPerS: round2(a.maxW),
			AvgRKBPerS: avg(a.rkb), MaxRKBPerS: round2(a.maxRKB),
			AvgWKBPerS: avg(a.wkb), MaxWKBPerS: round2(a.maxWKB),
			MaxAwaitMs: round2(a.maxAwait), MaxAquSz: round2(a.maxAqu),
			AvgUtilPct: avg(a.utilS),
		})
	}
	return rows
}

// Seconds is the time covered by the samples observed.
func (s IOSummary) Seconds() float64 { return s.seconds }

// Result is the JSON-able summary (with Lines it satisfies Summarizer).
func (s *IOSummary) Result() any {
	return IOSummaryResult{Samples: s.samples, Seconds: round2(s.seconds), Devices: s.Rows(), DroppedRows: s.dropped}
}

// Lines is the summary as text, one line per device. Device names are not
// sanitized here; the report sanitizes every line it prints.
func (s *IOSummary) Lines() []string {
	rows := s.Rows()
	if len(rows) == 0 {
		return []string{fmt.Sprintf("no device I/O in %d samples over %.0fs", s.samples, s.seconds)}
	}
	out := make([]string, 0, len(rows)+1)
	for _, r := range rows {
		out = append(out, fmt.Sprintf(
			"%s: %d samples; r/s avg %.1f max %.1f; w/s avg %.1f max %.1f; rkB/s avg %.1f max %.1f; wkB/s avg %.1f max %.1f; await max %.1f ms; aqu-sz max %.2f; util avg %.1f%%",
			r.Device, r.Samples, r.AvgRPerS, r.MaxRPerS, r.AvgWPerS, r.MaxWPerS,
			r.AvgRKBPerS, r.MaxRKBPerS, r.AvgWKBPerS, r.MaxWKBPerS, r.MaxAwaitMs, r.MaxAquSz, r.AvgUtilPct))
	}
	if s.dropped > 0 {
		out = append(out, fmt.Sprintf("(%d device samples not summarised: over %d devices)", s.dropped, MaxIODevices))
	}
	return out
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// ProbeIOStat is the iostat probe's name.
const ProbeIOStat = "iostat"

func init() {
	RegisterProbe(ProbeInfo{Name: ProbeIOStat, Rank: 10, Summary: func() Summarizer { return &IOSummary{} },
		Kinds: []string{KindIO}})
}
