package probes

// The modules probe polls /proc/modules and reports modules loaded and
// unloaded during the session. A load is often the first sign of a change
// nobody meant to make: `iptables -t nat -L` loads nf_conntrack.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

const modulesName = schema.ProbeModules

var modulesSpec = Spec{
	Name: modulesName,
	Help: "kernel modules loaded and unloaded during the session (/proc/modules)",
	New:  func(cfg Config) Probe { return newModules(cfg) },
}

type modulesProbe struct {
	cfg  Config
	now  func() time.Time
	file *procFile // /proc/modules, kept open by Run
}

func newModules(cfg Config) *modulesProbe { return &modulesProbe{cfg: cfg, now: time.Now} }

func (p *modulesProbe) Check() error {
	f, err := openOrExplain(p.cfg.ProcPath("modules"), "this kernel has no loadable modules", "")
	if err != nil {
		return err
	}
	f.Close()
	return nil
}

func (p *modulesProbe) read() (map[string]schema.Module, error) {
	if p.file == nil {
		p.file = newProcFile(p.cfg.ProcPath("modules"))
	}
	b, err := p.file.read()
	if err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	return parseModules(bytes.NewReader(b))
}

// Run reports the modules present at the start once, then each change.
func (p *modulesProbe) Run(ctx context.Context, emit Emit) error {
	defer func() {
		if p.file != nil {
			p.file.close()
		}
	}()
	prev, err := p.read()
	if err != nil {
		return err
	}
	names := make([]string, 0, len(prev))
	for n := range prev {
		names = append(names, n)
	}
	sort.Strings(names)
	emit(event.New(p.now(), modulesName, &schema.ModuleList{Count: len(names), Modules: names}))
	// The list above was the first read, and fatal; the steps wait for
	// ticks (atOnce unset), and only maxReadFailures of them in a row end Run.
	pl := newPoller(p.cfg)
	pl.giveUpAfter = maxReadFailures
	return pl.run(ctx, func() error {
		cur, err := p.read()
		if err != nil {
			return err
		}
		at := p.now()
		for _, ev := range moduleChanges(prev, cur) {
			emit(event.New(at, modulesName, ev))
		}
		prev = cur
		return nil
	})
}

// moduleChanges lists unloads then loads, each by name, so that dependencies
// come in a stable order.
func moduleChanges(prev, cur map[string]schema.Module) []event.Body {
	var gone, came []string
	for n := range prev {
		if _, ok := cur[n]; !ok {
			gone = append(gone, n)
		}
	}
	for n := range cur {
		if _, ok := prev[n]; !ok {
			came = append(came, n)
		}
	}
	sort.Strings(gone)
	sort.Strings(came)
	var out []event.Body
	for _, n := range gone {
		out = append(out, &schema.ModuleUnload{Module: prev[n]})
	}
	for _, n := range came {
		out = append(out, &schema.ModuleLoad{Module: cur[n]})
	}
	return out
}

// parseModules reads /proc/modules: "name size refcount used_by state addr",
// used_by being "-" or a list ending in a comma ("[permanent]" for some).
func parseModules(r io.Reader) (map[string]schema.Module, error) {
	out := map[string]schema.Module{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || len(out) >= schema.MaxModules {
			continue
		}
		size, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		m := schema.Module{Module: f[0], Size: size}
		for _, u := range strings.Split(f[3], ",") {
			if u != "" && u != "-" {
				m.UsedBy = append(m.UsedBy, u)
			}
		}
		out[m.Module] = m
	}
	return out, sc.Err()
}

func init() { register(modulesSpec) }
