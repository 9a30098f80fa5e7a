package findings

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// FindingIOSaturated names the io.saturated finding.
const FindingIOSaturated = "io.saturated"

// IOSaturatedThresholds tune io.saturated.
//
// Why these defaults: a healthy NVMe or SSD completes I/O in well under
// 5 ms and a healthy spinning disk in 5-20 ms, so 50 ms of await means
// requests are mostly waiting in a queue, which users feel. aqu-sz ≥ 1
// (on average at least one request outstanding) makes it demand exceeding
// service rather than one slow fsync. Five seconds lets writeback bursts and
// fsync storms pass (the kernel flushes dirty pages every 5 s). 500 ms is
// beyond any disk's own service time and near where databases and journald
// start timing out; a minute of it is an outage whatever the latency.
//
// %util is never a trigger: it is the share of time with at least one
// request in flight, so a device that serves many requests in parallel
// (NVMe, SSD, RAID, network storage) reads 100% long before it is full.
type IOSaturatedThresholds struct {
	AwaitMs         float64       // await at or above this, in every sample…
	AquSz           float64       // …while aqu-sz is at or above this…
	Sustain         time.Duration // …for this long fires a warning.
	Clear           time.Duration // An episode ends after this long below the line.
	CriticalAwaitMs float64       // Mean await over the episode at which it is critical.
	CriticalAfter   time.Duration // Episode length at which it is critical.
}

// DefaultIOSaturatedThresholds are the thresholds NewIOSaturated uses.
var DefaultIOSaturatedThresholds = IOSaturatedThresholds{
	AwaitMs:         50,
	AquSz:           1,
	Sustain:         5 * time.Second,
	Clear:           3 * time.Second,
	CriticalAwaitMs: 500,
	CriticalAfter:   60 * time.Second,
}

// Doc describes the rule in words a README or --help can quote.
func (t IOSaturatedThresholds) Doc() string {
	return fmt.Sprintf("%s: a disk (partitions are ignored) whose await, the mean latency of the reads "+
		"and writes it completed, is at least %g ms while its queue (aqu-sz) is at least %g, in every "+
		"sample for %g s or more. An interval in which I/O was in flight throughout and none completed "+
		"(a stall) counts too. Warning, or critical once the episode's mean await reaches %g ms, a "+
		"stall lasts that long, or the episode lasts %g s. %%util is shown but never decides: a device "+
		"that serves I/O in parallel (NVMe, SSD, RAID) reads 100%% while it still has room. One finding "+
		"per episode: raised, updated while it lasts (at once if it turns critical), cleared after %g s below the line.",
		FindingIOSaturated, t.AwaitMs, t.AquSz, t.Sustain.Seconds(), t.CriticalAwaitMs,
		t.CriticalAfter.Seconds(), t.Clear.Seconds())
}

// IOSaturatedData is the finding's data. Values are over the episode so
// far: await weighted by completed I/Os, queue and util by time.
type IOSaturatedData struct {
	Device string `json:"device"`
	// AwaitMs is the mean ms per completed read or write. If nothing
	// completed in the whole episode it is the longest stall, a lower bound.
	AwaitMs float64 `json:"await_ms"`
	AquSz   float64 `json:"aqu_sz"`
	UtilPct float64 `json:"util_pct"`
	Seconds float64 `json:"seconds"`           // episode length so far
	Stalled bool    `json:"stalled,omitempty"` // some interval had I/O in flight and none completing
}

// A saturated device is shown by its samples over the episode and a few
// seconds before it.
func init() {
	register(FindingIOSaturated, func(d IOSaturatedData) Evidence {
		about := About{Device: d.Device}
		if d.Device == "" {
			return Nearest(about)
		}
		return Evidence{Of: EvidenceIO, About: about,
			Before: MsWindow(d.Seconds*1000) + 3*time.Second, After: time.Second, KeepBefore: 6, KeepAfter: 1}
	})
}

// ioSaturated keeps one satRun per device that is saturated now or whose
// episode has not yet cleared; a quiet device costs nothing.
type ioSaturated struct {
	t     IOSaturatedThresholds
	c     conds
	devs  map[string]*satRun
	prevT time.Time // time of the previous sample, to see holes
	gen   uint64    // sample counter, marks runs touched by this sample
}

type satRun struct {
	start, lastHigh time.Time // start of the first saturated interval; end of the latest
	seen            uint64
	ios, ioMs       float64 // completed I/Os, and their summed latency in ms
	aquS, utilS     float64 // aqu-sz × s and util × s
	highS           float64 // seconds of saturated intervals (dips excluded)
	stallS          float64 // current run of stalled intervals, s
	maxStallS       float64
	inFlight        uint64
	fired, critical bool
}

// NewIOSaturated returns the detector with DefaultIOSaturatedThresholds.
func NewIOSaturated() Detector { return NewIOSaturatedWith(DefaultIOSaturatedThresholds) }

// NewIOSaturatedWith returns the detector with other thresholds.
func NewIOSaturatedWith(t IOSaturatedThresholds) Detector {
	return &ioSaturated{t: t, devs: map[string]*satRun{}}
}

func (d *ioSaturated) Produces() []string { return []string{FindingIOSaturated} }

// Observe follows each disk sample by sample. A sample at time T covers
// [T-interval_s, T]; only event times are used.
func (d *ioSaturated) Observe(ev event.Event) []event.Event {
	smp, ok := event.As[schema.IOSample](ev)
	if !ok || !(smp.IntervalS > 0) || math.IsInf(smp.IntervalS, 0) {
		return nil
	}
	at := ev.Time
	iv := event.DurationOf(smp.IntervalS)
	from := at.Add(-iv)
	d.gen++
	var out []event.Event
	if !d.prevT.IsZero() {
		switch {
		case at.Before(d.prevT):
			// Time went back (another recording, a seek): start over.
			clear(d.devs)
			d.c.reset()
		case from.Sub(d.prevT) > iv/2:
			// Nothing was observed in between (probe paused or dropped
			// samples): no run can claim to have been continuous.
			out = d.endRuns(from, at, ev.Probe, out)
		}
	}
	d.prevT = at

	for _, dev := range smp.Devices {
		// A partition's I/O is already its disk's; one finding is enough.
		if dev.Partition || !d.high(dev) {
			continue
		}
		r := d.devs[dev.Device]
		if r == nil {
			if len(d.devs) >= schema.MaxIODevices {
				continue
			}
			r = &satRun{start: from}
			d.devs[dev.Device] = r
		}
		if r.seen == d.gen {
			continue // the same device twice in one sample
		}
		r.seen = d.gen
		r.add(dev, at, smp.IntervalS)
		if f := d.decide(dev.Device, r, iv); f != nil {
			out = append(out, event.New(at, ev.Probe, f))
		}
	}
	return d.endRuns(at, at, ev.Probe, out)
}

// high: latency and queue both over the line, or a stall, which implies
// both (the I/O in flight at the start waited the whole interval, and at
// least one request was outstanding throughout).
func (d *ioSaturated) high(dev schema.DeviceIO) bool {
	if dev.Stalled {
		return true
	}
	return dev.RPerS+dev.WPerS > 0 && dev.AwaitMs() >= d.t.AwaitMs && dev.AquSz >= d.t.AquSz
}

func (r *satRun) add(dev schema.DeviceIO, at time.Time, secs float64) {
	ops := (dev.RPerS + dev.WPerS) * secs
	r.ios += ops
	r.ioMs += dev.AwaitMs() * ops
	r.aquS += dev.AquSz * secs
	r.utilS += dev.UtilPct * secs
	r.highS += secs
	if dev.Stalled {
		r.stallS += secs
		r.maxStallS = max(r.maxStallS, r.stallS)
	} else {
		r.stallS = 0
	}
	r.inFlight = dev.InFlight
	r.lastHigh = at
}

// endRuns handles every run the current sample did not find saturated, as
// of time at. A run that has not fired needs unbroken saturation, so it is
// dropped; a fired episode survives short dips and ends after Clear, with a
// clear stamped now (the sample's time).
func (d *ioSaturated) endRuns(at, now time.Time, probe string, out []event.Event) []event.Event {
	var ended []string
	for name, r := range d.devs {
		if r.seen == d.gen {
			continue
		}
		if !r.fired || at.Sub(r.lastHigh) >= d.t.Clear {
			delete(d.devs, name)
			if r.fired {
				ended = append(ended, name)
			}
			continue
		}
		r.stallS = 0
	}
	sort.Strings(ended)
	for _, name := range ended {
		if f := d.c.end(now, condKey(FindingIOSaturated, name)); f != nil {
			out = append(out, event.New(now, probe, f))
		}
	}
	return out
}

// decide raises the episode when a run first lasts Sustain (a quarter
// interval of slack absorbs ticker jitter); after that every saturated
// sample holds it, and the tracker sends updates: at once if it turns
// critical, else when the await or a stall changes materially, or once a
// minute. An episode that turned critical stays critical.
func (d *ioSaturated) decide(name string, r *satRun, iv time.Duration) *event.Finding {
	dur := r.lastHigh.Sub(r.start)
	if dur >= d.t.CriticalAfter || r.meanAwait() >= d.t.CriticalAwaitMs ||
		r.stallS*1000 >= d.t.CriticalAwaitMs {
		r.critical = true
	}
	if !r.fired && dur+iv/4 < d.t.Sustain {
		return nil
	}
	r.fired = true
	sev := event.Warn
	if r.critical {
		sev = event.Critical
	}
	f := r.finding(name, sev, dur)
	f.Key = condKey(FindingIOSaturated, name)
	return d.c.hold(r.lastHigh, f, ioMaterial)
}

// ioMaterial: the episode's mean await moved by half or more (and by 10 ms
// at least), or it stalled for the first time.
func ioMaterial(prev, cur *event.Finding) bool {
	p, c := prev.Data.(IOSaturatedData), cur.Data.(IOSaturatedData)
	return c.Stalled != p.Stalled || math.Abs(c.AwaitMs-p.AwaitMs) >= max(p.AwaitMs/2, 10)
}

func (r *satRun) meanAwait() float64 {
	if r.ios == 0 {
		return 0
	}
	return r.ioMs / r.ios
}

func (r *satRun) finding(name string, sev event.Severity, dur time.Duration) *event.Finding {
	secs := dur.Seconds()
	data := IOSaturatedData{
		Device:  name,
		AwaitMs: round2(r.meanAwait()),
		Seconds: round2(secs),
		Stalled: r.maxStallS > 0,
	}
	// Means over the saturated intervals, not the dips between them.
	if r.highS > 0 {
		data.AquSz = round2(r.aquS / r.highS)
		data.UtilPct = round2(r.utilS / r.highS)
	}
	dev := event.Sanitize(name)
	var summary string
	if r.ios == 0 {
		data.AwaitMs = round2(r.maxStallS * 1000)
		summary = fmt.Sprintf("%s stalled for %.0fs: %d I/O in flight, none completed, util %.0f%%",
			dev, secs, r.inFlight, data.UtilPct)
	} else {
		summary = fmt.Sprintf("%s saturated for %.0fs: await %.0f ms, queue %.1f, util %.0f%%",
			dev, secs, data.AwaitMs, data.AquSz, data.UtilPct)
		if r.maxStallS > 0 {
			summary += fmt.Sprintf("; nothing completed for %.0fs", r.maxStallS)
		}
	}
	return &event.Finding{Finding: FindingIOSaturated, Severity: sev, Summary: summary, Data: data}
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

func init() { registerDetector(10, func(Config) Detector { return NewIOSaturated() }) }
