package probes

import "github.com/stakeout/stakeout/event"

// KindIO is the iostat probe's per-interval sample.
const KindIO = "io"

// IOSample is one interval of per-device I/O, with the same definitions as
// sysstat's `iostat -x`. Devices with no I/O in the interval are left out
// (unless --all-devices), so a quiet host records an empty list.
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
}

func init() { event.Register(KindIO, func() event.Body { return &IOSample{} }) }

// IOStatConfig holds the iostat probe's flags.
type IOStatConfig struct {
	AllDevices bool // show partitions and idle devices too
}
