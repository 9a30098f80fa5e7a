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
	"github.com/stakeout/stakeout/internal/aligned"
)

const modulesName = "modules"

var modulesSpec = Spec{
	Name:    modulesName,
	Help:    "kernel modules loaded and unloaded during the session (/proc/modules)",
	New:     func(cfg Config) Probe { return newModules(cfg) },
	Summary: func() Summarizer { return &ModulesSummary{} },
}

// Event kinds of the modules probe.
const (
	KindModuleList   = "module_list"
	KindModuleLoad   = "module_load"
	KindModuleUnload = "module_unload"
)

// maxModules caps the modules tracked; hosts have a few hundred.
const maxModules = 4096

// ModuleList is the modules loaded when the probe started.
type ModuleList struct {
	Count   int      `json:"count"`
	Modules []string `json:"modules"` // sorted
}

func (ModuleList) EventKind() string { return KindModuleList }

// Module is one line of /proc/modules.
type Module struct {
	Module string   `json:"module"`
	Size   uint64   `json:"size"`              // bytes of kernel memory
	UsedBy []string `json:"used_by,omitempty"` // modules that depend on it
}

// ModuleLoad is a module that appeared since the previous sample.
type ModuleLoad struct{ Module }

func (ModuleLoad) EventKind() string { return KindModuleLoad }

// ModuleUnload is a module that went away since the previous sample.
type ModuleUnload struct{ Module }

func (ModuleUnload) EventKind() string { return KindModuleUnload }

func init() {
	event.Register(KindModuleList, func() event.Body { return &ModuleList{} })
	event.Register(KindModuleLoad, func() event.Body { return &ModuleLoad{} }, event.Traits{Occurrence: true})
	event.Register(KindModuleUnload, func() event.Body { return &ModuleUnload{} }, event.Traits{Occurrence: true})
}

// AsModuleLoad returns the ModuleLoad carried by ev, if it is one.
func AsModuleLoad(ev event.Event) (*ModuleLoad, bool) { return event.As[ModuleLoad](ev) }

// AsModuleUnload returns the ModuleUnload carried by ev, if it is one.
func AsModuleUnload(ev event.Event) (*ModuleUnload, bool) { return event.As[ModuleUnload](ev) }

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

func (p *modulesProbe) read() (map[string]Module, error) {
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
	every := p.cfg.Interval
	if every <= 0 {
		every = time.Second
	}
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
	emit(event.New(p.now(), modulesName, &ModuleList{Count: len(names), Modules: names}))
	tick := aligned.NewTicker(every)
	defer tick.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		cur, err := p.read()
		if err != nil {
			if failures++; failures >= maxReadFailures {
				return err
			}
			continue
		}
		failures = 0
		at := p.now()
		for _, ev := range moduleChanges(prev, cur) {
			emit(event.New(at, modulesName, ev))
		}
		prev = cur
	}
}

// moduleChanges lists unloads then loads, each by name, so that dependencies
// come in a stable order.
func moduleChanges(prev, cur map[string]Module) []event.Body {
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
		out = append(out, &ModuleUnload{prev[n]})
	}
	for _, n := range came {
		out = append(out, &ModuleLoad{cur[n]})
	}
	return out
}

// parseModules reads /proc/modules: "name size refcount used_by state addr",
// used_by being "-" or a list ending in a comma ("[permanent]" for some).
func parseModules(r io.Reader) (map[string]Module, error) {
	out := map[string]Module{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || len(out) >= maxModules {
			continue
		}
		size, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		m := Module{Module: f[0], Size: size}
		for _, u := range strings.Split(f[3], ",") {
			if u != "" && u != "-" {
				m.UsedBy = append(m.UsedBy, u)
			}
		}
		out[m.Module] = m
	}
	return out, sc.Err()
}

// ModulesSummary lists the loads and unloads of the session.
type ModulesSummary struct {
	atStart        int
	loaded, unload []string
}

// ModulesSummaryResult is the JSON form, under "summary": {"modules": …}.
type ModulesSummaryResult struct {
	AtStart  int      `json:"at_start"`
	Loaded   []string `json:"loaded"`
	Unloaded []string `json:"unloaded"`
}

func (s *ModulesSummary) Observe(ev event.Event) {
	switch b := ev.Body.(type) {
	case *ModuleList:
		s.atStart = b.Count
	case *ModuleLoad:
		if len(s.loaded) < maxModules {
			s.loaded = append(s.loaded, b.Module.Module)
		}
	case *ModuleUnload:
		if len(s.unload) < maxModules {
			s.unload = append(s.unload, b.Module.Module)
		}
	}
}

func (s *ModulesSummary) Result() any {
	return ModulesSummaryResult{AtStart: s.atStart, Loaded: append([]string{}, s.loaded...), Unloaded: append([]string{}, s.unload...)}
}

func (s *ModulesSummary) Lines() []string {
	l := fmt.Sprintf("%d modules at start; %d loaded during the session", s.atStart, len(s.loaded))
	if len(s.loaded) > 0 {
		l += ": " + strings.Join(s.loaded, ", ")
	}
	if len(s.unload) > 0 {
		l += fmt.Sprintf("; %d unloaded: %s", len(s.unload), strings.Join(s.unload, ", "))
	}
	return []string{l}
}
