package findings

import (
	"fmt"
	"math"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// Findings about the connection-tracking table.
const (
	FindingConntrackPressure = "conntrack.pressure"
	FindingConntrackDropping = "conntrack.dropping"
)

// Why these numbers: at 80% a burst of new connections (a reconnect storm
// after a deploy) can fill the rest in seconds, and once full the kernel
// drops new flows' first packets, which clients see as timeouts. Ten
// minutes of trend is enough to raise nf_conntrack_max or find the leak.
// A minute of samples smooths the noise of connections closing in batches.
const (
	conntrackWarnRatio     = 0.80
	conntrackCriticalRatio = 0.95
	conntrackClearRatio    = 0.70 // an episode ends below this, with no fill in sight
	conntrackETA           = 10 * time.Minute
	conntrackTrendWindow   = time.Minute
	conntrackTrendMin      = 10 * time.Second // of samples before a trend counts
	conntrackTrendCap      = 256
	conntrackDropQuiet     = time.Minute // a drop episode ends after this long with none
)

// ConntrackPressureData is conntrack.pressure's data.
type ConntrackPressureData struct {
	Count uint64  `json:"count"`
	Max   uint64  `json:"max"`
	Ratio float64 `json:"ratio"`
	// ETAS is the seconds until the trend of the last minute reaches max;
	// null when the table is not filling.
	ETAS *float64 `json:"eta_s"`
}

// ConntrackDroppingData is conntrack.dropping's data.
type ConntrackDroppingData struct {
	Drops  uint64 `json:"drops"`  // drop + early_drop + insert_failed in the sample; 0 from the kernel log
	Source string `json:"source"` // "counters" (/proc/net/stat/nf_conntrack) or "kmsg" ("table full, dropping packet")
	Drop   uint64 `json:"drop,omitempty"`
	Early  uint64 `json:"early_drop,omitempty"`
	Failed uint64 `json:"insert_failed,omitempty"`
}

func init() {
	register(FindingConntrackPressure, func(ConntrackPressureData) Evidence { return Nearest(About{}) })
	register(FindingConntrackDropping, func(ConntrackDroppingData) Evidence { return Nearest(About{}) })
}

type ctPoint struct {
	t time.Time
	n float64
}

type conntrack struct {
	c        conds // conntrack.pressure and conntrack.dropping, one condition each
	trend    []ctPoint
	lastDrop time.Time // the latest drop seen, by either source
	lastMax  uint64
	prevAt   time.Time
}

var (
	ctPressureKey = condKey(FindingConntrackPressure)
	ctDroppingKey = condKey(FindingConntrackDropping)
)

// NewConntrack returns the detector of conntrack table pressure and drops.
func NewConntrack() Detector { return &conntrack{} }

func (d *conntrack) Produces() []string {
	return []string{FindingConntrackPressure, FindingConntrackDropping}
}

func (d *conntrack) Observe(ev event.Event) []event.Event {
	var out []event.Event
	add := func(f *event.Finding) {
		if f != nil {
			out = append(out, event.New(ev.Time, ev.Probe, f))
		}
	}
	// A drop episode ends after a quiet minute, whatever event shows the
	// minute has passed (a host may only have the kernel's log line).
	if d.c.isOpen(ctDroppingKey, ev.Time) && ev.Time.Sub(d.lastDrop) >= conntrackDropQuiet {
		add(d.c.end(ev.Time, ctDroppingKey))
	}
	if k, ok := event.As[schema.Kmsg](ev); ok {
		if l, ok := schema.ParseKernelLine(k.Text); ok && l.ConntrackFull {
			add(d.drops(ev.Time, ConntrackDroppingData{Source: "kmsg"}))
		}
		return out
	}
	s, ok := event.As[schema.ConntrackSample](ev)
	if !ok {
		return out
	}
	if !d.prevAt.IsZero() && ev.Time.Before(d.prevAt) {
		*d = conntrack{} // time went back: another recording, or a seek
	}
	d.prevAt = ev.Time
	if n := event.AddCount(event.AddCount(s.Drop, s.EarlyDrop), s.InsertFailed); n > 0 {
		add(d.drops(ev.Time, ConntrackDroppingData{Drops: n, Source: "counters", Drop: s.Drop, Early: s.EarlyDrop, Failed: s.InsertFailed}))
	}
	add(d.fill(ev.Time, *s))
	return out
}

// drops holds the one drop condition, whichever source sees a drop; it
// ends after conntrackDropQuiet without one. The first source to see an
// episode names it; the other's sightings update it.
func (d *conntrack) drops(at time.Time, data ConntrackDroppingData) *event.Finding {
	// Sources interleave a little out of time order (the log line may be
	// read after the next sample): the latest drop is the latest seen.
	if at.After(d.lastDrop) {
		d.lastDrop = at
	}
	sum := "conntrack table full: the kernel log says it is dropping packets"
	if data.Source == "counters" {
		sum = fmt.Sprintf("conntrack is dropping: %d packets dropped or entries evicted in the last sample (drop %d, early_drop %d, insert_failed %d)",
			data.Drops, data.Drop, data.Early, data.Failed)
	}
	if d.lastMax > 0 {
		sum += fmt.Sprintf("; nf_conntrack_max is %d", d.lastMax)
	}
	return d.c.hold(at, &event.Finding{Finding: FindingConntrackDropping, Severity: event.Critical, Key: ctDroppingKey,
		Summary: sum, Data: data}, nil)
}

// fill raises the pressure condition at 80% of max, or when the last
// minute's trend reaches max within 10 minutes; it is critical at 95% or
// when the trend reaches max within a minute, and clears below 70% with no
// fill in sight.
func (d *conntrack) fill(at time.Time, s schema.ConntrackSample) *event.Finding {
	d.lastMax = s.Max
	d.trend = append(d.trend, ctPoint{at, float64(s.Count)})
	for len(d.trend) > 0 && (at.Sub(d.trend[0].t) > conntrackTrendWindow || len(d.trend) > conntrackTrendCap) {
		d.trend = d.trend[1:]
	}
	if s.Max == 0 {
		return nil
	}
	ratio := s.Ratio()
	eta := d.eta(s)
	soon := eta != nil && *eta <= conntrackETA.Seconds()
	open := d.c.isOpen(ctPressureKey, at)
	if open && ratio < conntrackClearRatio && !soon {
		return d.c.end(at, ctPressureKey)
	}
	if !open && ratio < conntrackWarnRatio && !soon {
		return nil
	}
	sev := event.Warn
	if ratio >= conntrackCriticalRatio || (eta != nil && *eta <= 60) {
		sev = event.Critical
	}
	sum := fmt.Sprintf("conntrack table %.0f%% full (%d of %d)", ratio*100, s.Count, s.Max)
	if eta != nil {
		sum += fmt.Sprintf(", full in %s at the last minute's rate", fmtETA(*eta))
	}
	return d.c.hold(at, &event.Finding{Finding: FindingConntrackPressure, Severity: sev, Key: ctPressureKey, Summary: sum,
		Data: ConntrackPressureData{Count: s.Count, Max: s.Max, Ratio: round2(ratio), ETAS: eta}}, ctMaterial)
}

// ctMaterial: the table's fill moved by 5 points, or a time to full within
// the 10 minutes that matter appeared, went, halved or doubled. A distant
// estimate comes and goes with every batch of closing connections.
func ctMaterial(prev, cur *event.Finding) bool {
	p, c := prev.Data.(ConntrackPressureData), cur.Data.(ConntrackPressureData)
	near := func(e *float64) bool { return e != nil && *e <= conntrackETA.Seconds() }
	if math.Abs(c.Ratio-p.Ratio) >= 0.05 || near(p.ETAS) != near(c.ETAS) {
		return true
	}
	return near(p.ETAS) && (*c.ETAS >= 2**p.ETAS || *p.ETAS >= 2**c.ETAS)
}

// eta fits a least-squares line to the window's counts; nil when there is
// too little history or the table is not growing.
func (d *conntrack) eta(s schema.ConntrackSample) *float64 {
	if len(d.trend) < 3 || d.trend[len(d.trend)-1].t.Sub(d.trend[0].t) < conntrackTrendMin {
		return nil
	}
	t0 := d.trend[0].t
	var n, sx, sy, sxx, sxy float64
	for _, p := range d.trend {
		x := p.t.Sub(t0).Seconds()
		n++
		sx += x
		sy += p.n
		sxx += x * x
		sxy += x * p.n
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return nil
	}
	slope := (n*sxy - sx*sy) / den // entries per second
	if slope <= 0 || math.IsNaN(slope) {
		return nil
	}
	left := float64(s.Max) - float64(s.Count)
	eta := round2(max(left, 0) / slope)
	return &eta
}

func fmtETA(s float64) string {
	if s < 90 {
		return fmt.Sprintf("%.0fs", s)
	}
	return fmt.Sprintf("%.0f min", s/60)
}

func init() { registerDetector(60, func(Config) Detector { return NewConntrack() }) }
