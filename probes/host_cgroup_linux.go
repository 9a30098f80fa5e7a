package probes

// The cgroup under the most pressure. A cgroup v2 group's pressure files
// (cpu.pressure, memory.pressure, io.pressure) count a stall of any task
// in it or below it, so the root holds everything and a parent never less
// than its busiest child. The probe goes down from the root into the child
// under the most pressure, as long as that child holds at least half its
// parent's, and names where it stops: the smallest group that still holds
// most of the stall. PSI is kept for every cgroup v2 group whatever
// controllers are enabled, so this works on a hybrid host whose memory
// controller is still on cgroup v1.

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
)

const (
	maxCgroupDepth    = 16
	maxCgroupChildren = 1024    // children of one group looked at
	maxCgroupProcs    = 1 << 16 // bytes of cgroup.procs read
)

// findCgroup2 is the cgroup v2 hierarchy under sysfs: /sys/fs/cgroup on a
// unified host, /sys/fs/cgroup/unified on a hybrid one; "" if neither.
func findCgroup2(sysfs string) string {
	for _, dir := range []string{filepath.Join(sysfs, "fs", "cgroup"), filepath.Join(sysfs, "fs", "cgroup", "unified")} {
		if _, err := os.Stat(filepath.Join(dir, "cgroup.controllers")); err == nil {
			return dir
		}
	}
	return ""
}

// cgroupPressure is one group's figures for one resource.
type cgroupPressure struct {
	path       string // from the root, "/" for the root itself
	some, full float64
}

// worstCgroup goes down from root as described above. hostSome is the
// host's some avg10 for the resource, where the descent starts. ok is
// false when no group below the root holds half of it.
func worstCgroup(root, resource string, hostSome float64) (cgroupPressure, bool) {
	cur := cgroupPressure{path: "/", some: hostSome}
	dir := root
	for depth := 0; depth < maxCgroupDepth; depth++ {
		best, bestDir, found := cgroupPressure{}, "", false
		ents, _ := os.ReadDir(dir)
		for i, e := range ents {
			if i >= maxCgroupChildren {
				break
			}
			if !e.IsDir() {
				continue
			}
			child := filepath.Join(dir, e.Name())
			some, full, ok := readCgroupPressure(filepath.Join(child, resource+".pressure"))
			if !ok {
				continue
			}
			if !found || some > best.some {
				best, bestDir, found = cgroupPressure{path: strings.TrimSuffix(cur.path, "/") + "/" + e.Name(), some: some, full: full}, child, true
			}
		}
		if !found || best.some <= 0 || best.some < cur.some/2 {
			break
		}
		cur, dir = best, bestDir
	}
	return cur, cur.path != "/"
}

// readCgroupPressure reads the some and full avg10 of a pressure file.
func readCgroupPressure(path string) (some, full float64, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	return parsePressure(b)
}

// parsePressure reads avg10 of the "some" and "full" lines of a PSI file
// ("some avg10=1.53 avg60=0.87 avg300=0.19 total=…"); full is 0 when
// absent (the kernel's cpu file before 5.13).
func parsePressure(b []byte) (some, full float64, ok bool) {
	p, err := parsePSI(b)
	if err != nil || !p.hasSome {
		return 0, 0, false
	}
	return p.some.avg10, p.full.avg10, true
}

// cgroupPIDs lists the group's own processes (cgroup.procs).
func cgroupPIDs(root, path string) []int {
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(path), "cgroup.procs"))
	if err != nil {
		return nil
	}
	defer f.Close()
	b := make([]byte, maxCgroupProcs)
	n, _ := f.Read(b)
	var out []int
	for _, l := range bytes.Fields(b[:n]) {
		if pid, ok := atoiPID(string(l)); ok {
			out = append(out, pid)
		}
	}
	return out
}
