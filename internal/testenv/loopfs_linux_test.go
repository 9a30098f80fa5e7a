package testenv

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLoopFS mounts a real 8 MiB ext4 with no reserved blocks: it is a
// mount of its own on a loop device, and root holds back no 5% of it (ext4
// still keeps a small reserve of its own, about 2%).
func TestLoopFS(t *testing.T) {
	mnt, dev := LoopFS(t, 8, 0)
	if !strings.HasPrefix(dev, "loop") {
		t.Errorf("device %q, want loopN", dev)
	}
	var st, parent syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	syscall.Statfs(filepath.Dir(mnt), &parent)
	if st.Fsid == parent.Fsid {
		t.Errorf("%s is not a filesystem of its own", mnt)
	}
	if held := st.Bfree - st.Bavail; held*100 >= st.Blocks*4 {
		t.Errorf("reserved 0%%, but %d of %d blocks are held back", held, st.Blocks)
	}
	if size := st.Blocks * uint64(st.Bsize); size > 8<<20 || size < 4<<20 {
		t.Errorf("size %d bytes, want about 8 MiB", size)
	}
}
