package sessions

import (
	"path/filepath"
	"syscall"
)

// statfsFree is the default WriterOptions.FreeSpace: what an unprivileged
// writer may still use (Bavail, not Bfree: root's reserved blocks are the
// rest of the system's safety margin, not ours) and the filesystem size.
func statfsFree(path string) (avail, size uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
		return 0, 0, err
	}
	bs := uint64(st.Bsize)
	return st.Bavail * bs, st.Blocks * bs, nil
}
