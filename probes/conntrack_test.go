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

func TestParseConntrackStatOldAndNewColumns(t *testing.T) {
	// 4.x kernels print searched/found/new/…; 6.x print clashres and chainlength.
	old := "entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n" +
		"00000010  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000002 00000007 00000001 00000000  00000000 00000000 00000000 00000004\n"
	s, err := parseConntrackStat(strings.NewReader(old))
	if err != nil || len(s) != 1 || s[0] != [4]uint32{7, 1, 2, 4} {
		t.Errorf("old: %v %v", s, err)
	}
	f, _ := os.Open("testdata/conntrack/proc/net/stat/nf_conntrack")
	defer f.Close()
	s, err = parseConntrackStat(f)
	if err != nil || len(s) != 2 || s[0] != [4]uint32{0x10, 2, 1, 5} || s[1][0] != 0xfffffffe {
		t.Errorf("new: %v %v", s, err)
	}
	// A per-CPU counter that wrapped past 2^32 still rises by the right amount.
	next := conntrackStat{{0x13, 2, 1, 5}, {0x00000003, 0, 0, 0}}
	if d := next.since(s); d.drop != 3+5 {
		t.Errorf("delta %+v", d)
	}
}

// The fixture table fills between samples and its drop counter rises.
func TestConntrackProbeSamplesAChangingTree(t *testing.T) {
	root := testenv.CopyTree(t, "testdata/conntrack/proc")
	cfg := DefaultConfig()
	cfg.Procfs, cfg.Interval = root, 30*time.Millisecond
	p := newConntrack(cfg)
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var c kmsgCollector
	done := make(chan error)
	go func() { done <- p.Run(ctx, c.emit) }()
	samples := func() []*schema.ConntrackSample {
		c.mu.Lock()
		defer c.mu.Unlock()
		var out []*schema.ConntrackSample
		for _, ev := range c.evs {
			if s, ok := event.As[schema.ConntrackSample](ev); ok {
				out = append(out, s)
			}
		}
		return out
	}
	testenv.Eventually(t, 5*time.Second, "the first sample", func() bool { return len(samples()) >= 1 })
	os.WriteFile(filepath.Join(root, "sys/net/netfilter/nf_conntrack_count"), []byte("65000\n"), 0o644)
	stat, _ := os.ReadFile(filepath.Join(root, "net/stat/nf_conntrack"))
	os.WriteFile(filepath.Join(root, "net/stat/nf_conntrack"),
		[]byte(strings.Replace(string(stat), "00000010 00000002", "00000019 00000002", 1)), 0o644)
	testenv.Eventually(t, 5*time.Second, "a sample of 65000", func() bool { s := samples(); return len(s) > 0 && s[len(s)-1].Count == 65000 })
	// The table disappears (module unloaded): the probe says so and waits.
	os.Remove(filepath.Join(root, "sys/net/netfilter/nf_conntrack_count"))
	testenv.Eventually(t, 5*time.Second, "the probe says conntrack is not loaded", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, ev := range c.evs {
			if st, ok := ev.Body.(*event.ProbeStatus); ok && st.Status == event.StatusUnavailable && strings.Contains(st.Reason, "not loaded") {
				return true
			}
		}
		return false
	})
	cancel()
	<-done
	s := samples()
	if s[0].Count != 52000 || s[0].Max != 65536 || s[0].IntervalS != 0 || s[0].Drop != 0 {
		t.Errorf("first %+v", s[0])
	}
	var drops uint64
	for _, x := range s {
		drops += x.Drop
	}
	if last := s[len(s)-1]; last.Count != 65000 || drops != 9 {
		t.Errorf("last %+v, drops %d", last, drops)
	}
}
