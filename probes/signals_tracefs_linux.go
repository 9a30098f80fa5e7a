package probes

// What --signals host changes in tracefs, and how it is undone however
// stakeout ends.
//
//   - Its instance is named stakeout-PID-START (START: the process's start
//     time in clock ticks, /proc/PID/stat field 22), so a later run can tell
//     a dead stakeout's instance from a live one even when the pid has been
//     reused.
//   - When tracefs is not mounted, stakeout mounts it with the source name
//     "stakeout-tracefs", which /proc/self/mountinfo shows. Only a tracefs
//     mount with that mark is ever unmounted, and only when no live
//     stakeout's instance is left in it: the last stakeout out unmounts,
//     whichever of them mounted it.
//   - A watchdog child (a copy of the binary that only waits) holds the
//     read end of a pipe whose write end only stakeout has. However
//     stakeout ends, kill -9 included, the kernel closes the write end; the
//     watchdog reads EOF, disables and removes the instance and releases the
//     mount, then exits. It is in a session of its own, so a Ctrl-C or a
//     terminal hang-up that ends stakeout does not end it first.
//   - If the watchdog dies too (the whole cgroup killed), the next host-mode
//     run removes the dead instance when it starts and releases the marked
//     mount when it ends.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// instanceBufferKB bounds the per-CPU ring of stakeout's tracefs instance. A
// new instance gets the global default, which is many MiB of kernel memory
// on a host with a hundred CPUs; signals are few and trace_pipe is drained
// continuously, so a small ring is plenty.
const instanceBufferKB = 256

// tracefsSource is the source name of a tracefs mount stakeout made.
const tracefsSource = "stakeout-tracefs"

// instanceName names the tracefs instance of process pid: stakeout-PID-START.
func (c Config) instanceName(pid int) string {
	st, err := c.readStat(pid)
	if err != nil {
		return "stakeout-" + strconv.Itoa(pid)
	}
	return "stakeout-" + strconv.Itoa(pid) + "-" + strconv.FormatUint(st.start, 10)
}

// instanceAlive says whether the stakeout that made the instance called
// name is still running. Names from before the start time was added
// (stakeout-PID) are alive while the pid is. A zombie is dead.
func (c Config) instanceAlive(name string) (alive, ours bool) {
	rest, ok := strings.CutPrefix(name, "stakeout-")
	if !ok {
		return false, false
	}
	pidS, startS, withStart := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidS)
	if err != nil || pid <= 0 {
		return false, false
	}
	start, err := strconv.ParseUint(startS, 10, 64)
	if withStart && err != nil {
		return false, false
	}
	st, err := c.readStat(pid)
	if err != nil || st.state == 'Z' || st.state == 'X' {
		return false, true
	}
	return !withStart || st.start == start, true
}

// removeInstance disables signal_generate in an instance and removes it.
func removeInstance(dir string) error {
	os.WriteFile(filepath.Join(dir, "events", "signal", "signal_generate", "enable"), []byte("0"), 0)
	err := os.Remove(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// clearStaleInstances removes tracefs instances left by a stakeout that was
// kill -9'd (with its watchdog): their tracepoint stays enabled and their
// buffers allocated until someone removes them.
func (c Config) clearStaleInstances(root string) (cleared []string) {
	ents, err := os.ReadDir(filepath.Join(root, "instances"))
	if err != nil {
		return nil
	}
	for _, e := range ents {
		if alive, ours := c.instanceAlive(e.Name()); !ours || alive {
			continue
		}
		if removeInstance(filepath.Join(root, "instances", e.Name())) == nil {
			cleared = append(cleared, e.Name())
		}
	}
	return cleared
}

// liveInstances counts the instances of running stakeouts in root.
func (c Config) liveInstances(root string) int {
	ents, _ := os.ReadDir(filepath.Join(root, "instances"))
	n := 0
	for _, e := range ents {
		if alive, _ := c.instanceAlive(e.Name()); alive {
			n++
		}
	}
	return n
}

// topMount returns the fstype and source of the mount on top at dir, from
// /proc/self/mountinfo ("" if none).
func (c Config) topMount(dir string) (fstype, source string) {
	f, err := os.Open(c.ProcPath("self", "mountinfo"))
	if err != nil {
		return "", ""
	}
	defer f.Close()
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	mounts, _ := parseMountinfo(f, 1<<16)
	for _, m := range mounts {
		if m.Point == dir { // later lines are mounted over earlier ones
			fstype, source = m.FSType, m.Source
		}
	}
	return fstype, source
}

// mountTracefs makes tracefs usable at root: nothing to do when it is
// mounted there (by anyone), else it is mounted with stakeout's mark.
func (c Config) mountTracefs(root string) (mounted bool, err error) {
	if _, err := os.Stat(filepath.Join(root, "events")); err == nil {
		return false, nil
	}
	if err := unix.Mount(tracefsSource, root, "tracefs", 0, ""); err != nil {
		return false, fmt.Errorf("mounting tracefs at %s: %w", root, err)
	}
	return true, nil
}

// releaseTracefs unmounts root if the tracefs mounted there carries
// stakeout's mark and no running stakeout has an instance in it. A mount
// something still uses (EBUSY) stays; the next run tries again.
func (c Config) releaseTracefs(root string) (unmounted bool) {
	if fs, src := c.topMount(root); fs != "tracefs" || src != tracefsSource {
		return false
	}
	if c.liveInstances(root) > 0 {
		return false
	}
	return unix.Unmount(root, 0) == nil
}

// The watchdog's environment: the instance to remove, the tracefs root,
// and the /proc to read.
const (
	watchdogEnv       = "STAKEOUT_TRACEFS_WATCHDOG"
	watchdogRootEnv   = "STAKEOUT_TRACEFS_ROOT"
	watchdogProcfsEnv = "STAKEOUT_TRACEFS_PROCFS"
)

func init() {
	if inst := os.Getenv(watchdogEnv); inst != "" {
		runWatchdog(inst, os.Getenv(watchdogRootEnv), os.Getenv(watchdogProcfsEnv))
		os.Exit(0)
	}
}

// runWatchdog waits for EOF on fd 3, then cleans up after its stakeout.
func runWatchdog(inst, root, procfs string) {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE)
	var b [64]byte
	for {
		n, err := unix.Read(3, b[:])
		if err == unix.EINTR || (err == nil && n > 0) {
			continue
		}
		break // EOF: stakeout is gone, or has cleaned up and closed its end
	}
	cfg := DefaultConfig()
	if procfs != "" {
		cfg.Procfs = procfs
	}
	removeInstance(inst)
	if root != "" {
		cfg.releaseTracefs(root)
	}
}

// watchdog is a running watchdog process and stakeout's end of its pipe.
type watchdog struct {
	proc *os.Process
	w    *os.File
}

// startWatchdog starts the watchdog of instance inst under root.
func (c Config) startWatchdog(inst, root string) (*watchdog, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		w.Close()
		return nil, err
	}
	defer devnull.Close()
	env := append(os.Environ(), watchdogEnv+"="+inst, watchdogRootEnv+"="+root, watchdogProcfsEnv+"="+c.Procfs)
	p, err := os.StartProcess("/proc/self/exe", []string{"stakeout-tracefs-watchdog"}, &os.ProcAttr{
		Dir:   "/",
		Env:   env,
		Files: []*os.File{devnull, devnull, devnull, r},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		w.Close()
		return nil, err
	}
	return &watchdog{proc: p, w: w}, nil
}

// stop closes stakeout's end (the watchdog then finds nothing left to
// clean) and reaps the watchdog, waiting at most a second.
func (wd *watchdog) stop() {
	wd.w.Close()
	done := make(chan struct{})
	go func() { wd.proc.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
}

// procStat is what the signals probe reads from /proc/PID/stat.
type procStat struct {
	state byte
	ppid  int
	tty   int    // tty_nr: the controlling terminal's device number, 0 for none
	start uint64 // start time after boot, clock ticks
}

// readStat reads /proc/PID/stat; comm may hold spaces and parentheses, so
// fields are counted after its last ')'.
func (c Config) readStat(pid int) (procStat, error) {
	var buf [512]byte
	b, err := readProcInto(c.ProcPath(strconv.Itoa(pid), "stat"), buf[:])
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("pid %d: malformed stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("pid %d: malformed stat", pid)
	}
	st := procStat{state: f[0][0]}
	st.ppid, _ = strconv.Atoi(f[1])
	st.tty, _ = strconv.Atoi(f[4])
	st.start, err = strconv.ParseUint(f[19], 10, 64)
	return st, err
}
