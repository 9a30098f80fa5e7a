//go:build linux

package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryDoesNotLinkGopacket: gopacket stays the tests' oracle, but the
// binary must not link it. Its layers package declares 65536-entry metadata
// tables (EthernetTypeMetadata, PPPTypeMetadata, 2.6 MB each) that are 5 MB
// of globals every GC cycle scans and the pacer counts into the heap goal
// (GODEBUG=gctrace=1 said "5 MB globals", "0 MB globals" without it).
// Measured with `snapshot --probes packets` under a 1M-packet UDP flood:
// RSS 26.2 → 20.0 MB before the flood and 40.8 → 30.0 MB during it, heap
// goal 16 → 11 MB; issue 4's spine target is 30 MB. pcapgo imports layers,
// so any use of gopacket, even a reader, brings them back.
func TestBinaryDoesNotLinkGopacket(t *testing.T) {
	share(t)
	out, err := exec.Command("go", "version", "-m", binPath).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	// The listing must hold the modules linked in, or this proves nothing.
	if !strings.Contains(string(out), "github.com/spf13/cobra") {
		t.Fatalf("go version -m lists no dependencies:\n%s", out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "github.com/gopacket/gopacket") {
			t.Errorf("the stakeout binary links gopacket again (5 MB of GC-scanned globals): %s", strings.TrimSpace(l))
		}
	}
}
