package sessions

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHostFactsFromFixtureTree(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"proc/sys/kernel/hostname":      "db-7\n",
		"proc/sys/kernel/osrelease":     "6.18.44-fc\n",
		"proc/stat":                     "cpu  1 2 3\nintr 5\nbtime 1795000000\nprocesses 9\n",
		"proc/meminfo":                  "MemTotal:       16318912 kB\nMemFree: 1 kB\n",
		"sys/devices/system/cpu/online": "0-3,6,8-9\n",
	}
	for p, body := range files {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h := hostFacts(filepath.Join(root, "proc"), filepath.Join(root, "sys"))
	if h.Hostname != "db-7" || h.Kernel != "6.18.44-fc" || h.CPUs != 7 || h.MemoryBytes != 16318912*1024 ||
		!h.BootTime.Equal(time.Unix(1795000000, 0)) || h.FormatVersion != FormatMajor {
		t.Fatalf("%+v", h)
	}
}

func TestParseCPUListRejectsNonsense(t *testing.T) {
	for in, want := range map[string]int{"0": 1, "0-63": 64, "": 0, "3-1": 0, "a-b": 0} {
		if got := parseCPUList(in); got != want {
			t.Errorf("parseCPUList(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestHostHeaderLive(t *testing.T) {
	h := HostHeader("1.2.3", []string{"stakeout", "record"}, 2*time.Second)
	if h.StakeoutVersion != "1.2.3" || strings.Join(h.Command, " ") != "stakeout record" || h.Interval != 2*time.Second {
		t.Fatalf("%+v", h)
	}
	if h.Hostname == "" || h.CPUs < 1 || time.Since(h.Started) > time.Minute {
		t.Fatalf("live facts missing: %+v", h)
	}
	if _, err := os.Stat("/proc/meminfo"); err == nil && (h.MemoryBytes == 0 || h.Kernel == "" || h.BootTime.IsZero()) {
		t.Fatalf("live /proc facts missing: %+v", h)
	}
}
