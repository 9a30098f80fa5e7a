package main

import (
	"context"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/internal/remote"
	"github.com/stakeout/stakeout/internal/wiring"
	"github.com/stakeout/stakeout/probes"
)

// remoteFlags are --ssh and --no-local, shared by the live TUI and
// snapshot.
type remoteFlags struct {
	ssh     []string
	noLocal bool
	fs      *pflag.FlagSet
}

func (f *liveFlags) bindRemote(fs *pflag.FlagSet) {
	f.fs = fs
	fs.StringArrayVar(&f.ssh, "ssh", nil, "also watch `[user@]host[:port]` over ssh, running stakeout stream there (repeatable)")
	fs.BoolVar(&f.noLocal, "no-local", false, "with --ssh: watch only the remote hosts, not this one")
}

// probeFlags are the flags each remote stream gets when the user set
// them: --probes, --interval and every probe's own, in that order (the
// probes' sorted by name).
func probeFlags() []string {
	own := pflag.NewFlagSet("probes", pflag.ContinueOnError)
	cfg := probes.DefaultConfig()
	for _, s := range probes.Registry {
		if s.Flags != nil {
			s.Flags(own, &cfg)
		}
	}
	names := []string{"probes", "interval"}
	own.VisitAll(func(fl *pflag.Flag) { names = append(names, fl.Name) })
	return names
}

// streamArgs are the probe flags the user set, for each remote stream:
// --name=value, one per value of a repeatable flag. Recording, output and
// UI flags, and --procfs/--sysfs (local paths), stay here.
func (f *liveFlags) streamArgs() []string {
	var out []string
	for _, name := range probeFlags() {
		fl := f.fs.Lookup(name)
		if fl == nil || !fl.Changed {
			continue
		}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				out = append(out, "--"+name+"="+v)
			}
			continue
		}
		out = append(out, "--"+name+"="+fl.Value.String())
	}
	return out
}

// sources are what the session runs: the local probes (none with
// --no-local) and one source per --ssh host, connected already, so an
// unreachable host is a one-line error before anything starts.
func (f *liveFlags) sources() ([]engine.Named, error) {
	if f.noLocal && len(f.ssh) == 0 {
		return nil, usageErr("--no-local needs at least one --ssh host to watch")
	}
	r := wiring.Remotes{Version: version, StreamArgs: f.streamArgs()}
	for _, s := range f.ssh {
		t, err := remote.ParseTarget(s)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		r.Targets = append(r.Targets, t)
	}
	if err := r.Check(); err != nil {
		return nil, usageErr("%v", err)
	}
	var named []engine.Named
	if f.noLocal {
		if err := f.checkRemoteOnly(); err != nil {
			return nil, err
		}
	} else {
		var err error
		if named, err = f.selected(); err != nil {
			return nil, err
		}
	}
	rem, err := r.Dial(context.Background())
	if err != nil {
		return nil, err
	}
	return append(named, rem...), nil
}

// checkRemoteOnly checks, with --no-local, what can be checked here: the
// interval and the probe names. Targets (--pid, --mount, --iface) are the
// remote hosts', and their streams check them.
func (f *liveFlags) checkRemoteOnly() error {
	if err := f.checkInterval(); err != nil {
		return err
	}
	any := false
	for _, n := range f.probes {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !slices.Contains(probes.Names(), n) {
			return usageErr("unknown probe %q (available: %s)", n, strings.Join(probes.Names(), ", "))
		}
		any = true
	}
	if len(f.probes) > 0 && !any {
		return usageErr("--probes selects no probe (available: %s)", strings.Join(probes.Names(), ", "))
	}
	return nil
}
