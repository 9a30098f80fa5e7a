package wiring

import (
	"context"
	"fmt"
	"sync"

	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/internal/remote"
	"github.com/stakeout/stakeout/schema"
)

// Remotes is what --ssh asks for: the hosts, this binary's version (what
// a stakeout in a host's PATH must say to be run instead of a copy), and
// the probe flags each host's `stakeout stream` gets.
type Remotes struct {
	Targets    []remote.Target
	Version    string
	StreamArgs []string
}

// Dial connects to every host at once and returns one source per host,
// in the order given, to run beside the local probes. If any host fails,
// the others are closed and the first failure (in that order) is the
// error, one line beginning "--ssh TARGET:".
func (r Remotes) Dial(ctx context.Context) ([]engine.Named, error) {
	if len(r.Targets) == 0 {
		return nil, nil
	}
	if err := r.Check(); err != nil {
		return nil, err
	}
	ssh, err := remote.SSHCommand()
	if err != nil {
		return nil, err
	}
	srcs := make([]*remote.Source, len(r.Targets))
	errs := make([]error, len(r.Targets))
	var wg sync.WaitGroup
	for i, t := range r.Targets {
		wg.Go(func() {
			srcs[i], errs[i] = remote.Dial(ctx, remote.Options{Target: t, Version: r.Version, SSH: ssh, StreamArgs: r.StreamArgs})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			for _, s := range srcs {
				if s != nil {
					s.Close()
				}
			}
			return nil, err
		}
	}
	out := make([]engine.Named, len(srcs))
	for i, s := range srcs {
		out[i] = engine.Named{Name: schema.ProbeRemote, Probe: s}
	}
	return out, nil
}

// Check refuses two targets with one host name: the name is what each
// host's events carry.
func (r Remotes) Check() error {
	seen := map[string]string{}
	for _, t := range r.Targets {
		if prev, dup := seen[t.Host]; dup {
			return fmt.Errorf("--ssh %s and --ssh %s are the same host %q: give each host once (an alias in ~/.ssh/config tells two apart)", prev, t, t.Host)
		}
		seen[t.Host] = t.String()
	}
	return nil
}

// CloseUnrun ends the sources Dial made when the session does not start
// after all (the recording could not be opened).
func CloseUnrun(named []engine.Named) {
	for _, n := range named {
		if s, ok := n.Probe.(*remote.Source); ok {
			s.Close()
		}
	}
}
