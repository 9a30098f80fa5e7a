//go:build linux

package e2e

import (
	"bufio"
	"encoding/json"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/internal/testenv"
)

type ioTotals struct{ writes, wkB float64 }

// iostatTotals sums sysstat's per-interval w/s and wkB/s for dev.
func iostatTotals(t *testing.T, out []byte, dev string, interval float64) ioTotals {
	t.Helper()
	var doc struct {
		Sysstat struct {
			Hosts []struct {
				Statistics []struct {
					Disk []map[string]any `json:"disk"`
				} `json:"statistics"`
			} `json:"hosts"`
		} `json:"sysstat"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("iostat -o JSON: %v\n%s", err, out)
	}
	var tot ioTotals
	for _, h := range doc.Sysstat.Hosts {
		for _, s := range h.Statistics {
			for _, d := range s.Disk {
				if d["disk_device"] == dev {
					tot.writes += d["w/s"].(float64) * interval
					tot.wkB += d["wkB/s"].(float64) * interval
				}
			}
		}
	}
	return tot
}

// stakeoutTotals sums the recorded io samples of dev.
func stakeoutTotals(t *testing.T, file, dev string) ioTotals {
	t.Helper()
	r := run(t, nil, "events", file, "--kind", "io")
	if r.code != 0 {
		t.Fatalf("events: %+v", r)
	}
	var tot ioTotals
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	sc.Buffer(make([]byte, 0, 1<<20), 4<<20) // one event per line, up to 1 MiB
	for sc.Scan() {
		var ev struct {
			IntervalS float64 `json:"interval_s"`
			Devices   []struct {
				Device string  `json:"device"`
				WPerS  float64 `json:"w_s"`
				WKB    float64 `json:"wkb_s"`
			} `json:"devices"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		for _, d := range ev.Devices {
			if d.Device == dev {
				tot.writes += d.WPerS * ev.IntervalS
				tot.wkB += d.WKB * ev.IntervalS
			}
		}
	}
	return tot
}

func within(got, want, frac float64) bool { return math.Abs(got-want) <= frac*want }

// TestIOStatAgreesWithDDAndSysstat writes a known amount with O_DIRECT to a
// loop-mounted ext4 while `stakeout snapshot` and sysstat's `iostat -x` both
// watch; stakeout must agree with dd and with iostat within 10%.
func TestIOStatAgreesWithDDAndSysstat(t *testing.T) {
	share(t, timing)
	mnt, dev := testenv.LoopFS(t, 128, 5)
	if _, err := exec.LookPath("iostat"); err != nil {
		t.Skip("iostat not installed (make test installs sysstat)")
	}
	if _, err := exec.LookPath("dd"); err != nil {
		t.Skip("dd not installed (make test installs coreutils)")
	}
	file := filepath.Join(t.TempDir(), "io.stk")
	snap := exec.Command(binPath, "snapshot", "--duration", "8s", "--probes", "iostat", "-o", file, "--format", "json")
	var snapOut strings.Builder
	snap.Stdout = &snapOut
	sys := exec.Command("iostat", "-d", "-x", "-k", "-y", "-o", "JSON", "1", "7", dev)
	var sysOut strings.Builder
	sys.Stdout = &sysOut
	if err := snap.Start(); err != nil {
		t.Fatal(err)
	}
	if err := sys.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	const count, bsKB = 400, 64 // 400 writes of 64 KiB, one at a time
	dd := exec.Command("dd", "if=/dev/zero", "of="+filepath.Join(mnt, "f"), "bs=64k", "count=400", "oflag=direct")
	if out, err := dd.CombinedOutput(); err != nil {
		t.Fatalf("dd: %v %s", err, out)
	}
	if err := sys.Wait(); err != nil {
		t.Fatalf("iostat: %v", err)
	}
	if err := snap.Wait(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}

	ours := stakeoutTotals(t, file, dev)
	theirs := iostatTotals(t, []byte(sysOut.String()), dev, 1)
	t.Logf("%s: dd wrote %d × %d KiB; stakeout saw %.0f writes, %.0f kB; iostat saw %.0f writes, %.0f kB",
		dev, count, bsKB, ours.writes, ours.wkB, theirs.writes, theirs.wkB)
	if !within(ours.writes, count, 0.10) || !within(ours.wkB, count*bsKB, 0.10) {
		t.Errorf("stakeout disagrees with dd by more than 10%%")
	}
	if !within(ours.writes, theirs.writes, 0.10) || !within(ours.wkB, theirs.wkB, 0.10) {
		t.Errorf("stakeout disagrees with iostat -x by more than 10%%")
	}
}
