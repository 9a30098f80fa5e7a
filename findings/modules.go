package findings

import (
	"strings"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// FindingModuleLoaded names kernel.module_loaded.
const FindingModuleLoaded = "kernel.module_loaded"

// ModuleLoadedData is kernel.module_loaded's data.
type ModuleLoadedData struct {
	Module    string   `json:"module"`
	UsedBy    []string `json:"used_by"`
	Netfilter bool     `json:"netfilter"`
}

func init() {
	register(FindingModuleLoaded, func(d ModuleLoadedData) Evidence { return Nearest(About{Module: d.Module}) })
}

// netfilterModule says whether a module is part of netfilter. Loading one
// mid-session changes how every packet is handled: nf_conntrack starts
// tracking every connection in a table that can fill and drop packets, and
// iptables auto-loads it merely by listing the nat table.
func netfilterModule(name string) bool {
	for _, p := range []string{"nf_conntrack", "nf_nat", "iptable_", "ip6table_", "nft_", "xt_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	switch name {
	case "ip_tables", "ip6_tables", "x_tables", "nf_tables", "ebtables", "arp_tables":
		return true
	}
	return false
}

// modulesLoaded keeps one condition per module loaded during the session,
// cleared when the module is unloaded; loaded again, it is a new finding.
type modulesLoaded struct{ c conds }

// NewModulesLoaded returns the detector of modules loaded during the session.
func NewModulesLoaded() Detector { return &modulesLoaded{} }

func (*modulesLoaded) Produces() []string { return []string{FindingModuleLoaded} }

func (d *modulesLoaded) Observe(ev event.Event) []event.Event {
	if u, ok := event.As[schema.ModuleUnload](ev); ok {
		if f := d.c.end(ev.Time, condKey(FindingModuleLoaded, u.Module.Module)); f != nil {
			return []event.Event{event.New(ev.Time, ev.Probe, f)}
		}
		return nil
	}
	m, ok := event.As[schema.ModuleLoad](ev)
	if !ok {
		return nil
	}
	name := m.Module.Module
	data := ModuleLoadedData{Module: name, UsedBy: append([]string{}, m.UsedBy...), Netfilter: netfilterModule(name)}
	sev := event.Info
	sum := "kernel module " + event.Sanitize(name) + " loaded"
	if len(m.UsedBy) > 0 {
		sum += " (used by " + event.Sanitize(strings.Join(m.UsedBy, ", ")) + ")"
	}
	switch {
	case strings.HasPrefix(name, "nf_conntrack"):
		sev = event.Warn
		sum += ": connection tracking is on now; every connection takes a slot in a table that drops packets when full"
	case data.Netfilter:
		sev = event.Warn
		sum += ": netfilter changed how packets are handled (listing iptables rules loads modules like this)"
	}
	f := d.c.hold(ev.Time, &event.Finding{Finding: FindingModuleLoaded, Severity: sev, Key: condKey(FindingModuleLoaded, name),
		Summary: sum, Data: data}, nil)
	if f == nil {
		return nil
	}
	return []event.Event{event.New(ev.Time, ev.Probe, f)}
}

func init() { registerDetector(70, func(Config) Detector { return NewModulesLoaded() }) }
