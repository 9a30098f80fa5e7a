package schema

// The modules probe's events and summary.

import (
	"fmt"
	"strings"

	"github.com/stakeout/stakeout/event"
)

// Event kinds of the modules probe.
const (
	KindModuleList   = "module_list"
	KindModuleLoad   = "module_load"
	KindModuleUnload = "module_unload"
)

// maxModules caps the modules tracked; hosts have a few hundred.
const MaxModules = 4096

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
		if len(s.loaded) < MaxModules {
			s.loaded = append(s.loaded, b.Module.Module)
		}
	case *ModuleUnload:
		if len(s.unload) < MaxModules {
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

// ProbeModules is the modules probe's name.
const ProbeModules = "modules"

func init() {
	RegisterProbe(ProbeInfo{Name: ProbeModules, Rank: 70, Summary: func() Summarizer { return &ModulesSummary{} },
		Kinds: []string{KindModuleList, KindModuleLoad, KindModuleUnload}})
}
