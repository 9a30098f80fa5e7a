package probes

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"
)

// BenchmarkHostScan measures one scan of every process, the host probe's
// main cost, with STAKEOUT_BENCH_PROCS (default 2000) extra `sleep`
// processes running: prometheus/procfs (AllProcs, then each Proc's Stat
// and IO) against the probe's own reader. cpu-ms/op is the benchmark
// process's user+system CPU per scan (getrusage), which a loaded machine
// distorts less than ns/op. `make bench` runs it; see bench/README.md.
func BenchmarkHostScan(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("STAKEOUT_BENCH_PROCS")); err == nil && v >= 0 {
		n = v
	}
	var kids []*exec.Cmd
	defer func() {
		for _, c := range kids {
			c.Process.Kill()
			c.Wait()
		}
	}()
	for range n {
		c := exec.Command("sleep", "3600")
		if err := c.Start(); err != nil {
			b.Fatal(err)
		}
		kids = append(kids, c)
	}
	cpuMs := func() float64 {
		var ru unix.Rusage
		unix.Getrusage(unix.RUSAGE_SELF, &ru)
		return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
	}
	b.Run("procfs", func(b *testing.B) {
		fs, err := procfs.NewFS("/proc")
		if err != nil {
			b.Fatal(err)
		}
		c0 := cpuMs()
		for range b.N {
			ps, err := fs.AllProcs()
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range ps {
				p.Stat()
				p.IO()
			}
		}
		b.ReportMetric((cpuMs()-c0)/float64(b.N), "cpu-ms/op")
	})
	b.Run("stakeout", func(b *testing.B) {
		s := newHostScanner("/proc")
		defer s.close()
		at := time.Now()
		s.scan(at) // the first scan opens every stat file and reads every io: a baseline
		c0 := cpuMs()
		for range b.N {
			at = at.Add(time.Second)
			if _, err := s.scan(at); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric((cpuMs()-c0)/float64(b.N), "cpu-ms/op")
		b.ReportMetric(float64(len(s.procs)), "procs")
	})
}

// BenchmarkHostSysFiles measures the host probe's read of the system-wide
// files each sample (/proc/stat, meminfo, loadavg and the three pressure
// files): with prometheus/procfs's readers, as the probe read them until
// this was measured, and with its own (host_sysfiles_linux.go). Run it with
// -benchmem: the garbage is half the story on an idle host.
func BenchmarkHostSysFiles(b *testing.B) {
	cpuMs := func() float64 {
		var ru unix.Rusage
		unix.Getrusage(unix.RUSAGE_SELF, &ru)
		return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
	}
	b.Run("procfs", func(b *testing.B) {
		fs, err := procfs.NewFS("/proc")
		if err != nil {
			b.Fatal(err)
		}
		c0 := cpuMs()
		for range b.N {
			if _, err := fs.Stat(); err != nil {
				b.Fatal(err)
			}
			fs.Meminfo()
			fs.LoadAvg()
			for _, res := range []string{"cpu", "io", "memory"} {
				fs.PSIStatsForResource(res)
			}
		}
		b.ReportMetric((cpuMs()-c0)/float64(b.N)*1000, "cpu-µs/op")
	})
	b.Run("stakeout", func(b *testing.B) {
		p := newHost(DefaultConfig())
		p.files, p.psi = newHostFiles(p.cfg), true
		defer p.files.close()
		c0 := cpuMs()
		for range b.N {
			if _, err := p.read(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric((cpuMs()-c0)/float64(b.N)*1000, "cpu-µs/op")
	})
}
