package probes

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/schema"
)

func TestParseModules(t *testing.T) {
	f, _ := os.Open("testdata/modules/after-iptables-nat")
	defer f.Close()
	m, err := parseModules(f)
	if err != nil || len(m) != 7 {
		t.Fatalf("%d modules, %v", len(m), err)
	}
	ct := m["nf_conntrack"]
	if ct.Size != 81926 || strings.Join(ct.UsedBy, ",") != "iptable_nat,nf_nat,nf_conntrack_ipv4" {
		t.Errorf("nf_conntrack %+v", ct)
	}
	if m["iptable_nat"].UsedBy != nil {
		t.Errorf("'-' is no user: %+v", m["iptable_nat"])
	}
}

// The SoundCloud story on a fixture tree: `iptables -t nat -L` between two
// samples loads four modules; removing crc32c_intel unloads one.
func TestModulesProbeSeesLoadsBetweenSamples(t *testing.T) {
	root := testenv.CopyTree(t, "testdata/modules/proc")
	cfg := DefaultConfig()
	cfg.Procfs, cfg.Interval = root, 30*time.Millisecond
	p := newModules(cfg)
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var c kmsgCollector
	done := make(chan error)
	go func() { done <- p.Run(ctx, c.emit) }()
	testenv.Eventually(t, 5*time.Second, "the first event", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return len(c.evs) >= 1 })
	after, _ := os.ReadFile("testdata/modules/after-iptables-nat")
	os.WriteFile(filepath.Join(root, "modules.new"), after, 0o644)
	os.Rename(filepath.Join(root, "modules.new"), filepath.Join(root, "modules"))
	testenv.Eventually(t, 5*time.Second, "six events", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return len(c.evs) >= 6 })
	cancel()
	<-done
	var kinds []string
	for _, ev := range c.evs {
		switch b := ev.Body.(type) {
		case *schema.ModuleList:
			kinds = append(kinds, "list:"+strings.Join(b.Modules, ","))
		case *schema.ModuleLoad:
			kinds = append(kinds, "load:"+b.Module.Module)
		case *schema.ModuleUnload:
			kinds = append(kinds, "unload:"+b.Module.Module)
		}
	}
	want := "list:crc32c_intel,ext4,jbd2,mbcache unload:crc32c_intel load:iptable_nat load:nf_conntrack load:nf_conntrack_ipv4 load:nf_nat"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("events\n got %s\nwant %s", got, want)
	}
}

// This build machine's kernel has no /proc/modules.
func TestModulesUnavailableWithoutProcModules(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Procfs = t.TempDir()
	st := StatusOf(newModules(cfg).Check())
	if st.Status != event.StatusUnavailable || !strings.HasSuffix(st.Reason, "/modules: this kernel has no loadable modules") {
		t.Errorf("%+v", st)
	}
	if _, err := os.Stat("/proc/modules"); err == nil {
		t.Skip("this kernel has /proc/modules")
	}
	if st := StatusOf(newModules(DefaultConfig()).Check()); st.Reason != "no /proc/modules: this kernel has no loadable modules" {
		t.Errorf("live: %+v", st)
	}
}
