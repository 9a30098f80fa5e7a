package probes

import "testing"

// TestDefaultRingsStayWithinBudget: on a host with hundreds of container
// veths, the default interface set must not pin gigabytes of rings.
func TestDefaultRingsStayWithinBudget(t *testing.T) {
	for _, c := range []struct{ n, flag, want int }{
		{1, 8, 4}, {2, 8, 4}, {16, 8, 4}, {17, 8, 3}, {32, 8, 2}, {64, 8, 1}, {200, 8, 1}, {4, 2, 2}, {0, 8, 4},
	} {
		got := defaultRingShare(c.n, c.flag)
		if got != c.want {
			t.Errorf("defaultRingShare(%d, %d) = %d, want %d", c.n, c.flag, got, c.want)
		}
		if n := min(c.n, maxDefaultIfaces); n*got > max(defaultRingBudgetMB, n) {
			t.Errorf("%d interfaces × %d MiB is over the %d MiB budget", n, got, defaultRingBudgetMB)
		}
	}
}

func TestSmallRingsHaveFourBlocks(t *testing.T) {
	for mb, want := range map[int][2]int{1: {256 << 10, 4}, 2: {512 << 10, 4}, 4: {1 << 20, 4}, 8: {1 << 20, 8}, 1024: {1 << 20, 1024}} {
		if bs, n := ringBlocks(mb); bs != want[0] || n != want[1] {
			t.Errorf("--ring-mb %d: %d blocks of %d, want %d of %d", mb, n, bs, want[1], want[0])
		}
	}
}
