package probes

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stakeout/stakeout/schema"
)

// crashFacts reads, for a segfault line just read, what decides whether
// the crash leaves a core (see CrashFacts). The process's limits go first:
// it is racing its parent's wait(2).
func (p *kmsgProbe) crashFacts(s *schema.SegfaultLine) *schema.CrashFacts {
	cf := &schema.CrashFacts{Gone: true}
	var buf [4096]byte
	pid := strconv.Itoa(s.PID)
	if b, err := readProcInto(p.cfg.ProcPath(pid, "limits"), buf[:]); err == nil {
		if soft, hard, ok := parseCoreLimit(b); ok {
			cf.CoreSoft, cf.CoreHard, cf.Gone = &soft, &hard, false
		}
	}
	if !cf.Gone {
		// The pid may have been reused already: only the same comm counts.
		if comm, err := p.cfg.readComm(s.PID); err != nil || comm != s.Comm {
			cf.CoreSoft, cf.CoreHard, cf.Gone = nil, nil, true
		} else if tgid, err := p.cfg.statusInt(s.PID, "Tgid"); err == nil {
			cf.TGID = tgid
		}
	}
	sysctl := func(parts ...string) string {
		b, _ := os.ReadFile(p.cfg.ProcPath(append([]string{"sys"}, parts...)...))
		return strings.TrimRight(string(b), "\n")
	}
	cf.CorePattern = sysctl("kernel", "core_pattern")
	cf.SuidDumpable = schema.KAtoi(sysctl("fs", "suid_dumpable"))
	if target, ok := schema.PipeTarget(cf.CorePattern); ok {
		cf.PipeTarget = target
		ex := existsInInitRoot(p.cfg, target)
		cf.PipeTargetExists = &ex
	}
	return cf
}

// existsInInitRoot checks path in init's root (/proc/1/root), since the
// kernel starts a core_pattern pipe helper in the initial namespaces: a
// container's own /usr/share/apport says nothing. Without access there,
// it checks ours.
func existsInInitRoot(cfg Config, path string) bool {
	root := cfg.ProcPath("1", "root")
	if _, err := os.Stat(root); err == nil {
		_, err := os.Stat(filepath.Join(root, path))
		return err == nil
	}
	_, err := os.Stat(path)
	return err == nil
}
