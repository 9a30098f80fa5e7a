package schema

import "github.com/stakeout/stakeout/event"

// KindDiskUsage is the diskfill probe's per-interval sample: one entry per
// watched filesystem with its space, its fill trend, who writes to it and
// which deleted files still hold space on it.
const KindDiskUsage = "disk_usage"

// DiskUsage is one diskfill sample. Filesystems are in mountinfo order.
type DiskUsage struct {
	IntervalS   float64      `json:"interval_s"`
	Filesystems []Filesystem `json:"filesystems"`
}

func (DiskUsage) EventKind() string { return KindDiskUsage }

// Filesystem is one filesystem (bind mounts of one device count once).
type Filesystem struct {
	Mount  string `json:"mount"`
	Device string `json:"device"` // mount source, e.g. /dev/sda1 or tmpfs
	FSType string `json:"fstype"`
	// Stale means statfs did not answer within the timeout (a hung NFS
	// server); the space fields then repeat the last answer, if any.
	Stale bool `json:"stale,omitempty"`

	SizeBytes   uint64 `json:"size_bytes"`
	UsedBytes   uint64 `json:"used_bytes"`
	AvailBytes  uint64 `json:"avail_bytes"` // free to unprivileged users (df's Avail)
	FreeBytes   uint64 `json:"free_bytes"`  // free to root, reserved blocks included
	InodesTotal uint64 `json:"inodes_total"`
	InodesUsed  uint64 `json:"inodes_used"`
	InodesFree  uint64 `json:"inodes_free"`

	Bytes  Trend `json:"bytes"`  // trend of used bytes; ETA against avail_bytes
	Inodes Trend `json:"inodes"` // trend of used inodes; ETA against inodes_free

	Writers     []DiskWriter  `json:"writers,omitempty"`
	DeletedOpen []DeletedOpen `json:"deleted_open,omitempty"`
}

// filling says the filesystem needs its writers found now: it fills within
// diskBusyETA, by bytes or inodes, or has less than 1% left.
func (f Filesystem) Filling() bool {
	soon := func(tr Trend) bool { return tr.EtaS != nil && *tr.EtaS < diskBusyETA }
	low := func(left, total uint64) bool { return total > 0 && left < total/100 }
	return soon(f.Bytes) || soon(f.Inodes) || low(f.AvailBytes, f.SizeBytes) || low(f.InodesFree, f.InodesTotal)
}

// Trend is the fill estimate of one quantity (see estimateTrend).
type Trend struct {
	// RatePerS is units (bytes or inodes) per second; 0 when no steady fill.
	RatePerS float64 `json:"rate_per_s"`
	// EtaS is seconds until full at RatePerS; absent when not filling.
	EtaS *float64 `json:"eta_s,omitempty"`
	// WindowS is the trailing window (10, 60 or 600 s) the rate came from.
	WindowS float64 `json:"window_s,omitempty"`
}

// Filling reports whether the trend has a time-to-full.
func (t Trend) Filling() bool { return t.EtaS != nil }

// DiskWriter is a process filling the filesystem: its open files on this
// filesystem (by the mount each fd was opened through) that grew since the
// last look, and their growth summed. A process is a writer of a filesystem
// only where its own files grow: /proc/PID/io's write_bytes (which picks the
// processes worth looking at) counts its writes to every filesystem.
type DiskWriter struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
	// WriteBytesPerS is how fast this process's files on this filesystem
	// grow, all of them (Files lists the fastest few).
	WriteBytesPerS float64     `json:"write_bytes_per_s"`
	Files          []GrowingFD `json:"files"`
}

// GrowingFD is a file a writer holds open on the filesystem.
type GrowingFD struct {
	Path            string  `json:"path"`
	SizeBytes       int64   `json:"size_bytes"`
	GrowthBytesPerS float64 `json:"growth_bytes_per_s"`
}

// DeletedOpen is an unlinked file still held open: its space is in df's
// "used" but in no directory du can walk.
type DeletedOpen struct {
	PID       int    `json:"pid"`
	Comm      string `json:"comm"`
	Path      string `json:"path"` // the name it had, without " (deleted)"
	SizeBytes int64  `json:"size_bytes"`
}

func init() { event.Register(KindDiskUsage, func() event.Body { return &DiskUsage{} }) }

// DiskFillConfig holds the diskfill probe's flags.
type DiskFillConfig struct {
	Mounts []string // --mount PATH (repeatable): watch only the filesystems holding these paths
}

// Caps that bound the diskfill probe's work and memory per sample.
const (
	MaxDiskFilesystems  = 256     // filesystems watched
	DiskMaxWriters      = 5       // top writers by write_bytes whose fds are examined, per sample
	DiskMaxWcharWriters = 3       // and by wchar, which alone sees writes to tmpfs
	DiskMaxFiles        = 5       // growing files listed per writer
	DiskMaxDeleted      = 64      // deleted-but-open files tracked
	DiskIOPerSample     = 256     // /proc/PID/io reads per sample (rotating), besides top writers
	DiskFDBudget        = 1024    // /proc/PID/fd entries read per sample for deleted files
	DiskFDPerProc       = 1024    // fds looked at per process
	DiskMaxProcs        = 16384   // processes whose write_bytes are remembered
	DiskDeletedMin      = 1 << 20 // deleted files smaller than this are not reported

	// The writer and deleted-file scan runs every sample while a filesystem
	// is filling (time to full under diskBusyETA, or under 1% left) and for
	// the first diskWarmup seconds; otherwise once every DiskQuietEvery (30 s:
	// at one every 10 s the pass was 13–17% of an idle stakeout's CPU in
	// perf samples on a quiet host).
	DiskQuietEvery = 30.0       // seconds
	DiskWarmup     = 10.0       // seconds
	diskBusyETA    = 6 * 3600.0 // seconds: the disk.filling warning line
)
