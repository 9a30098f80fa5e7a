package schema

import "github.com/stakeout/stakeout/event"

// KindIO is the iostat probe's per-interval sample.
const KindIO = "io"

// IOSample is one interval of per-device I/O, with the same definitions as
// sysstat's `iostat -x`. Partitions and devices with no I/O in the interval
// (nothing completed, nothing in flight) are left out unless --all-devices,
// so a quiet host records an empty list. Devices are in /proc/diskstats order.
type IOSample struct {
	IntervalS float64    `json:"interval_s"`
	Devices   []DeviceIO `json:"devices"`
}

func (IOSample) EventKind() string { return KindIO }

// DeviceIO holds one device's rates over the interval.
type DeviceIO struct {
	Device    string  `json:"device"`
	Partition bool    `json:"partition,omitempty"`
	RPerS     float64 `json:"r_s"`      // reads completed per second
	WPerS     float64 `json:"w_s"`      // writes completed per second
	RKBPerS   float64 `json:"rkb_s"`    // kB read per second (1 kB = 1024 B, as iostat -k)
	WKBPerS   float64 `json:"wkb_s"`    // kB written per second
	RAwaitMs  float64 `json:"r_await"`  // mean ms per completed read, queue + service
	WAwaitMs  float64 `json:"w_await"`  // mean ms per completed write
	AquSz     float64 `json:"aqu_sz"`   // mean queue length (weighted ms in I/O / interval)
	UtilPct   float64 `json:"util_pct"` // % of the interval the device had I/O in flight
	// InFlight is the number of I/Os in progress when the interval ended.
	// iostat does not show it, but a hung disk is exactly "I/O in flight,
	// nothing completing", which the averages above cannot show.
	InFlight uint64 `json:"in_flight"`
	// Stalled means I/O was in flight at both ends of the interval and none
	// completed in between: the requests in flight at the start were still
	// waiting at the end, so their latency is at least the interval even
	// though r_await and w_await (which count only completions) show 0.
	Stalled bool `json:"stalled,omitempty"`
}

// AwaitMs is the mean latency of the reads and writes completed in the
// interval (sysstat's await without discards and flushes): r_await and
// w_await weighted by how many of each completed. 0 when none completed.
func (d DeviceIO) AwaitMs() float64 {
	ops := d.RPerS + d.WPerS
	if ops <= 0 {
		return 0
	}
	return (d.RAwaitMs*d.RPerS + d.WAwaitMs*d.WPerS) / ops
}

// MaxIODevices caps how many devices the iostat probe, IOSummary and the
// io.saturated detector keep state for, so memory stays bounded on hosts
// with thousands of multipath or loop devices.
const MaxIODevices = 4096

func init() { event.Register(KindIO, func() event.Body { return &IOSample{} }) }

// IOStatConfig holds the iostat probe's flags.
type IOStatConfig struct {
	AllDevices bool // show partitions and idle devices too (--all-devices)
}
