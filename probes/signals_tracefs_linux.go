package probes

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// instanceBufferKB bounds the per-CPU ring of stakeout's tracefs instance. A
// new instance gets the global default, which is many MiB of kernel memory
// on a host with a hundred CPUs; signals are few and trace_pipe is drained
// continuously, so a small ring is plenty.
const instanceBufferKB = 256

// clearStaleInstances removes tracefs instances left by a stakeout that was
// kill -9'd: their tracepoint stays enabled and their buffers allocated
// until someone removes them. An instance is stale when the pid in its name
// no longer exists; a live pid is left alone even if it was reused.
func clearStaleInstances(root, procfs string) (cleared []string) {
	ents, err := os.ReadDir(filepath.Join(root, "instances"))
	if err != nil {
		return nil
	}
	for _, e := range ents {
		pid, ok := strings.CutPrefix(e.Name(), "stakeout-")
		if !ok {
			continue
		}
		if _, err := strconv.Atoi(pid); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(procfs, pid)); err == nil {
			continue
		}
		dir := filepath.Join(root, "instances", e.Name())
		os.WriteFile(filepath.Join(dir, "events", "signal", "signal_generate", "enable"), []byte("0"), 0)
		if os.Remove(dir) == nil {
			cleared = append(cleared, e.Name())
		}
	}
	return cleared
}
