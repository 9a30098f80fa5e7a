package probes

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stakeout/stakeout/schema"
)

// mountEntry is one line of /proc/PID/mountinfo (proc(5)).
type mountEntry struct {
	ID       int
	Dev      string // "major:minor", the same for every bind mount of one filesystem
	Root     string // the directory of the filesystem mounted here ("/" unless a bind mount)
	Point    string
	ReadOnly bool
	FSType   string
	Source   string
}

// parseMountinfo reads mountinfo. Malformed lines are skipped, so one odd
// line hides one mount, not all; at most maxLines are kept.
func parseMountinfo(r io.Reader, maxLines int) ([]mountEntry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []mountEntry
	for sc.Scan() && len(out) < maxLines {
		f := strings.Fields(sc.Text())
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+2 >= len(f) {
			continue
		}
		id, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		ro := false
		for _, o := range strings.Split(f[5], ",") {
			ro = ro || o == "ro"
		}
		out = append(out, mountEntry{ID: id, Dev: f[2], Root: unescapeMount(f[3]),
			Point: unescapeMount(f[4]), ReadOnly: ro, FSType: f[sep+1], Source: unescapeMount(f[sep+2])})
	}
	return out, sc.Err()
}

// unescapeMount undoes the kernel's octal escapes of space, tab, newline
// and backslash (\040 and the like) in mountinfo paths.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// pseudoFS are filesystems that hold no user data and cannot fill up.
var pseudoFS = map[string]bool{
	"proc": true, "sysfs": true, "devpts": true, "cgroup": true, "cgroup2": true,
	"securityfs": true, "debugfs": true, "tracefs": true, "pstore": true, "bpf": true,
	"mqueue": true, "hugetlbfs": true, "configfs": true, "fusectl": true,
	"binfmt_misc": true, "autofs": true, "rpc_pipefs": true, "nsfs": true,
	"efivarfs": true, "selinuxfs": true, "devtmpfs": true, "ramfs": true,
	"squashfs": true, "iso9660": true, "nfsd": true,
}

// watched is one filesystem the probe samples: the mount it is shown as,
// and the mount ids of all its bind mounts (fdinfo's mnt_id names those).
type watched struct {
	mountEntry
	ids []int
}

// selectMounts picks the real, writable filesystems and folds bind mounts
// of one device into one, shown at the mount of the filesystem's root
// (else the first one). Read-only mounts are skipped: they cannot fill, and
// a squashfs or an ISO is always "100% used". If paths is not empty, only
// the filesystems holding those paths are kept, in the order given; a path
// on no watchable filesystem is an error.
func selectMounts(ms []mountEntry, paths []string) ([]watched, error) {
	byDev := map[string]int{}
	var all []watched
	// A mount point mounted over again hides the earlier mount: statfs on
	// the path answers for the later one, so the earlier would show as a
	// duplicate row (two tmpfs stacked on /dev/shm, as in some sandboxes).
	top := map[string]int{}
	for i, m := range ms {
		top[m.Point] = i
	}
	for i, m := range ms {
		if pseudoFS[m.FSType] || m.ReadOnly || top[m.Point] != i {
			continue
		}
		if i, ok := byDev[m.Dev]; ok {
			all[i].ids = append(all[i].ids, m.ID)
			if all[i].Root != "/" && m.Root == "/" {
				all[i].mountEntry = m
			}
			continue
		}
		if len(all) >= schema.MaxDiskFilesystems {
			continue
		}
		byDev[m.Dev] = len(all)
		all = append(all, watched{mountEntry: m, ids: []int{m.ID}})
	}
	if len(paths) == 0 {
		return all, nil
	}
	var out []watched
	seen := map[string]bool{}
	for _, p := range paths {
		m, ok := mountOf(ms, p)
		if !ok {
			return nil, fmt.Errorf("--mount %s: not on any mounted filesystem", p)
		}
		i, ok := byDev[m.Dev]
		if !ok {
			return nil, fmt.Errorf("--mount %s: on %s (%s), which is read-only or cannot fill", p, m.Point, m.FSType)
		}
		if !seen[m.Dev] {
			seen[m.Dev] = true
			w := all[i]
			w.mountEntry = m // show it where the user asked
			w.ReadOnly = false
			out = append(out, w)
		}
	}
	return out, nil
}

// mountOf finds the mount holding path: the last-mounted entry whose mount
// point is the longest prefix of it (later mounts hide earlier ones).
func mountOf(ms []mountEntry, path string) (mountEntry, bool) {
	path = filepath.Clean(path)
	best, found := mountEntry{}, false
	for _, m := range ms {
		pt := m.Point
		if path == pt || pt == "/" || strings.HasPrefix(path, pt+"/") {
			if !found || len(pt) >= len(best.Point) {
				best, found = m, true
			}
		}
	}
	return best, found
}

// MountPointsOf returns every mount point (bind mounts included) of the
// filesystem holding path, from procfs's self/mountinfo: the names under
// which the diskfill probe may report that filesystem. The engine uses it to
// know when a disk.filling finding is about the recording's own filesystem.
func MountPointsOf(procfs, path string) ([]string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(dir, filepath.Base(abs))
	}
	f, err := os.Open(filepath.Join(procfs, "self", "mountinfo"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ms, err := parseMountinfo(f, mountinfoMaxLines)
	if err != nil {
		return nil, err
	}
	m, ok := mountOf(ms, abs)
	if !ok {
		return nil, fmt.Errorf("%s: not on any mounted filesystem", path)
	}
	var out []string
	for _, o := range ms {
		if o.Dev == m.Dev {
			out = append(out, o.Point)
		}
	}
	return out, nil
}
