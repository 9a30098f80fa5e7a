// Package probes holds one file per probe. A probe knows one corner of the
// kernel, turns what it sees into events, and knows nothing of UI or files.
//
// Probes are listed in Registry, which also gives each one's flags, the way
// node_exporter lists its collectors.
package probes

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/spf13/pflag"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
)

// Config is shared by all probes; each probe owns a sub-struct for its flags.
type Config struct {
	Procfs   string        // root of /proc (fixture trees in tests)
	Sysfs    string        // root of /sys
	Interval time.Duration // sampling period of polling probes
	IOStat   schema.IOStatConfig
	Signals  schema.SignalsConfig
	Packets  packet.PacketsConfig
	DiskFill schema.DiskFillConfig
	Kmsg     schema.KmsgConfig
}

// DefaultConfig is the configuration a user gets with no flags.
func DefaultConfig() Config {
	return Config{Procfs: "/proc", Sysfs: "/sys", Interval: time.Second}
}

// ProcPath joins parts under the configured /proc root.
func (c Config) ProcPath(parts ...string) string {
	return filepath.Join(append([]string{c.Procfs}, parts...)...)
}

// SysPath joins parts under the configured /sys root.
func (c Config) SysPath(parts ...string) string {
	return filepath.Join(append([]string{c.Sysfs}, parts...)...)
}

// Emit hands one event to the engine. It never blocks for long and is safe to
// call from the probe's own goroutine. It is an alias, so a Probe is also an
// engine.Source without either package knowing the other.
type Emit = func(event.Event)

// Probe is one live source of events.
type Probe interface {
	// Check says whether the probe can run on this host, without side effects.
	// A nil error means ok. An *Unavailable error says why not, in words a
	// person understands; any other error is reported as status "error".
	Check() error
	// Run emits events until ctx is done. A returned error (other than
	// ctx.Err()) is reported as the probe's status; other probes go on.
	Run(ctx context.Context, emit Emit) error
}

// Tracer is a probe that can start and stop following one process while
// it runs: the signals probe, asked from its pane (a attaches ptrace to the
// selected process and its children, d detaches). Each call records a
// trace event and returns once it is done, or why it could not be.
type Tracer interface {
	Attach(ctx context.Context, pid int) error
	Detach(ctx context.Context, pid int) error
}

// Unavailable is the error a probe returns when this host can't support it.
type Unavailable = event.Unavailable

// Unavailablef builds an *Unavailable with a formatted reason.
func Unavailablef(format string, args ...any) error {
	return &Unavailable{Reason: fmt.Sprintf(format, args...)}
}

// StatusOf turns an error from Check or Run into the recorded status.
func StatusOf(err error) event.ProbeStatus { return event.StatusOf(err) }

// Spec registers one probe.
type Spec struct {
	Name string // used in --probes and in every event's "probe" field
	Help string // one line for --help
	// Flags adds the probe's own flags, bound to fields of cfg.
	Flags func(fs *pflag.FlagSet, cfg *Config)
	New   func(cfg Config) Probe
	// Validate, if set, checks the probe's flags before anything runs, so
	// `snapshot` can fail in one line on a name that isn't there (--iface).
	Validate func(cfg Config) error
}

// Registry lists every probe this build can run, in pane order (the
// rank each probe's schema gives it). Each collector file adds its Spec with
// register from an init function; on a system without the probes' kernel
// interfaces it stays empty.
var Registry []Spec

// register adds a collector's Spec to Registry, keeping pane order.
func register(s Spec) {
	Registry = append(Registry, s)
	rank := func(name string) int {
		if p, ok := schema.LookupProbe(name); ok {
			return p.Rank
		}
		return int(^uint(0) >> 1)
	}
	sort.SliceStable(Registry, func(i, j int) bool { return rank(Registry[i].Name) < rank(Registry[j].Name) })
}

// Lookup finds a probe's spec by name.
func Lookup(name string) (Spec, bool) {
	for _, s := range Registry {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// Names lists the registered probe names.
func Names() []string {
	out := make([]string, len(Registry))
	for i, s := range Registry {
		out[i] = s.Name
	}
	return out
}

// openOrExplain opens a file a probe depends on. When it can't, the error is
// an *Unavailable in the probe's words: whyMissing for a missing file,
// whyDenied (if not empty) for a permission error, else the OS's reason.
func openOrExplain(path, whyMissing, whyDenied string) (*os.File, error) {
	f, err := os.Open(path)
	switch {
	case err == nil:
		return f, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, Unavailablef("no %s: %s", path, whyMissing)
	case errors.Is(err, fs.ErrPermission) && whyDenied != "":
		return nil, Unavailablef("cannot read %s: %s", path, whyDenied)
	}
	return nil, Unavailablef("cannot read %s: %v", path, unwrapPathError(err))
}

// unwrapPathError drops the path an *os.PathError repeats.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
