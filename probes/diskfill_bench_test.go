package probes

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stakeout/stakeout/schema"
)

// spawnHolders starts n sleeping processes that each hold files open files
// (and one deleted one), as the benchmark host: 500 × 20.
func spawnHolders(b *testing.B, n, files int) []int {
	b.Helper()
	dir := b.TempDir()
	var extra []*os.File
	for i := range files {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("held-%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		extra = append(extra, f)
	}
	os.Remove(extra[0].Name()) // one deleted file per process, as lsof +L1 would list
	var pids []int
	for range n {
		cmd := exec.Command("sleep", "3600")
		cmd.ExtraFiles = extra
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		pids = append(pids, cmd.Process.Pid)
		b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	for _, f := range extra {
		f.Close()
	}
	return pids
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDiskFillSample is the CPU of one diskfill sample (statfs of every
// filesystem and, every sample while one fills or every 10 s otherwise, the
// /proc/PID/io rotation, the top writers' fds and the deleted-file fd budget)
// on this host plus 500 processes × 20 open files, beside lsof +L1 and
// lsof -p for five of them on the same host.
func BenchmarkDiskFillSample(b *testing.B) {
	pids := spawnHolders(b, 500, 20)
	p := newDiskFill(Config{Procfs: "/proc"})
	ws, err := p.mounts()
	if err != nil {
		b.Fatal(err)
	}
	// quiet: nothing fills, so the writer scan runs once every 10 s of
	// samples (the figure is the mean over all samples, 1 s apart, after the
	// warm-up); filling: a filesystem fills, so it runs every sample.
	for _, c := range []struct {
		name       string
		quietEvery float64
	}{{"diskfill-quiet", schema.DiskQuietEvery}, {"diskfill-filling", 0}} {
		b.Run(c.name, func(b *testing.B) {
			states := map[string]*fsState{}
			procs := newProcScanner("/proc")
			procs.quietEvery = c.quietEvery
			c0 := cpuTime()
			for i := 0; b.Loop(); i++ {
				p.sample(ws, states, time.Second, procs, schema.DiskWarmup+float64(i))
			}
			b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1000/float64(b.N), "cpu-ms/sample")
		})
	}
	lsof, err := exec.LookPath("lsof")
	if err != nil {
		b.Log("lsof not installed: no comparison")
		return
	}
	top := []string{"-p", ""}
	for i, pid := range pids[:5] {
		if i > 0 {
			top[1] += ","
		}
		top[1] += strconv.Itoa(pid)
	}
	for name, args := range map[string][]string{"lsof+L1": {"-n", "+L1"}, "lsof-p-top5": append([]string{"-n"}, top...)} {
		b.Run(name, func(b *testing.B) {
			var cpu time.Duration
			for b.Loop() {
				cmd := exec.Command(lsof, args...)
				cmd.Run() // lsof exits 1 when it finds nothing; only its cost counts
				if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
					cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
				}
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/sample")
		})
	}
}
