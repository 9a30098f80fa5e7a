package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/internal/wiring"
	"github.com/stakeout/stakeout/probes"
	"github.com/stakeout/stakeout/redact"
)

// liveFlags are shared by the live TUI and `snapshot`.
type liveFlags struct {
	probes    []string
	cfg       probes.Config
	record    string
	noRecord  bool
	recordMax string
	theme     string
	tui       bool // live TUI: a probe's bad flags show in its pane instead of failing
	redact    bool
	red       *redact.Redactor // made on first use, see redactor
	remoteFlags
}

func defaultLiveFlags() *liveFlags {
	return &liveFlags{cfg: probes.DefaultConfig(), recordMax: "256MiB", theme: "dark"}
}

func (f *liveFlags) bind(fs *pflag.FlagSet, tui bool) {
	f.bindRemote(fs)
	f.tui = tui
	f.bindProbes(fs)
	if tui {
		fs.StringVar(&f.record, "record", "", "record to this file (default: $STAKEOUT_DIR or /var/tmp/stakeout/HOST-UTCTIME.stk)")
	}
	fs.BoolVar(&f.noRecord, "no-record", false, "do not record a session file")
	fs.StringVar(&f.recordMax, "record-max", f.recordMax, "stop recording when the file reaches this size")
	fs.BoolVar(&f.redact, "redact", false, "replace addresses, host and user names and secret-looking values in the recording with pseudonyms")
	if tui {
		fs.StringVar(&f.theme, "theme", f.theme, "colour theme: dark, light, high-contrast or mono (mono when NO_COLOR is set)")
	}
}

// bindProbes binds the flags that choose and set up the probes, which
// `stream` takes as well: --probes, --interval, the fixture roots, and
// each probe's own.
func (f *liveFlags) bindProbes(fs *pflag.FlagSet) {
	fs.StringSliceVar(&f.probes, "probes", nil,
		"probes to run, comma-separated (default: all: "+strings.Join(probes.Names(), ",")+")")
	fs.DurationVar(&f.cfg.Interval, "interval", f.cfg.Interval, "sampling period of polling probes")
	fs.StringVar(&f.cfg.Procfs, "procfs", f.cfg.Procfs, "root of the proc filesystem (fixture trees in tests)")
	fs.StringVar(&f.cfg.Sysfs, "sysfs", f.cfg.Sysfs, "root of the sys filesystem")
	for _, s := range probes.Registry {
		if s.Flags != nil {
			s.Flags(fs, &f.cfg)
		}
	}
}

// selected validates --probes and builds the probes to run.
func (f *liveFlags) selected() ([]engine.Named, error) {
	if err := f.checkInterval(); err != nil {
		return nil, err
	}
	for _, root := range []struct{ flag, path string }{{"--procfs", f.cfg.Procfs}, {"--sysfs", f.cfg.Sysfs}} {
		if st, err := os.Stat(root.path); err != nil || !st.IsDir() {
			return nil, usageErr("%s %s: not a directory", root.flag, root.path)
		}
	}
	out, err := wiring.Probes(f.probes, f.cfg, !f.tui)
	if errors.Is(err, wiring.ErrNoProbes) {
		return nil, usageErr("--probes selects no probe (available: %s)", strings.Join(probes.Names(), ", "))
	}
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return out, nil
}

func (f *liveFlags) checkInterval() error {
	if f.cfg.Interval < 10*time.Millisecond {
		return usageErr("--interval %s is too short (minimum 10ms)", f.cfg.Interval)
	}
	return nil
}

// parseSize reads sizes such as 256MiB, 1G, 500M or 1048576.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q (want e.g. 256MiB, 1G or a byte count)", s)
	}
	return int64(n * float64(mult)), nil
}
