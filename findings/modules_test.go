package findings

import (
	"strings"
	"testing"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

func TestModuleLoadedWarnsForNetfilter(t *testing.T) {
	d := NewModulesLoaded()
	load := func(name string, usedBy ...string) *event.Finding {
		ev := event.New(kt0, "modules", &schema.ModuleLoad{Module: schema.Module{Module: name, Size: 1, UsedBy: usedBy}})
		return onlyFinding(t, d.Observe(ev), FindingModuleLoaded)
	}
	f := load("nf_conntrack", "iptable_nat", "nf_nat")
	if f.Severity != event.Warn || !strings.HasPrefix(f.Summary, "kernel module nf_conntrack loaded (used by iptable_nat, nf_nat): connection tracking") {
		t.Errorf("%+v", f)
	}
	if data := f.Data.(ModuleLoadedData); data.Module != "nf_conntrack" || len(data.UsedBy) != 2 || !data.Netfilter {
		t.Errorf("%+v", data)
	}
	for _, n := range []string{"ip_tables", "iptable_filter", "nf_nat", "x_tables", "nf_conntrack_ipv4"} {
		if f := load(n); f.Severity != event.Warn {
			t.Errorf("%s: %v", n, f.Severity)
		}
	}
	for _, n := range []string{"ext4", "loop", "nvme"} {
		if f := load(n); f.Severity != event.Info {
			t.Errorf("%s: %v", n, f.Severity)
		}
	}
	// Unloaded: the condition clears; loaded again: a new finding.
	unload := func(name string) []event.Event {
		return d.Observe(event.New(kt0, "modules", &schema.ModuleUnload{Module: schema.Module{Module: name}}))
	}
	if f := onlyFinding(t, unload("ext4"), FindingModuleLoaded); f.State != event.FindingCleared || f.Key != "kernel.module_loaded ext4" {
		t.Errorf("unload: %+v", f)
	}
	if got := unload("ext4"); len(got) != 0 {
		t.Errorf("second unload: %+v", got)
	}
	if got := unload("vfat"); len(got) != 0 {
		t.Errorf("unload of a module loaded before the session: %+v", got)
	}
	if f := load("ext4"); f.State != "" {
		t.Errorf("reload: %+v", f)
	}
}
