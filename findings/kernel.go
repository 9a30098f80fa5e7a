package findings

import (
	"fmt"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/probes"
)

// Findings named from the kernel log (kmsg events).
const (
	FindingSegfault = "kernel.segfault"
	FindingOOMKill  = "kernel.oom_kill"
	FindingHungTask = "kernel.hung_task"
	FindingIOError  = "kernel.io_error"
)

// Repeats of the same culprit inside these windows add to a count instead of
// a new finding: a crash loop, khungtaskd's report every 120 s, and a dying
// disk's error per request would otherwise bury everything else.
const (
	segfaultRepeat = 10 * time.Second
	hungTaskRepeat = 10 * time.Minute
	ioErrorRepeat  = time.Minute
	kernelKeys     = 256 // culprits remembered per kind
	oomConstraints = 16  // constraint lines waiting for their kill line
)

// SegfaultData is kernel.segfault's data: the kernel's line, field by
// field; its error code decoded (x86); and whether the crash left a core.
type SegfaultData struct {
	probes.SegfaultLine
	Repeats int `json:"repeats,omitempty"` // same comm's segfaults folded into this one's window before it
	// From the page-fault error code: "user" or "kernel"; "read", "write"
	// or "exec"; "unmapped" or "protection"; and all of it in words.
	Mode         string `json:"mode,omitempty"`
	Access       string `json:"access,omitempty"`
	Page         string `json:"page,omitempty"`
	ErrorDecoded string `json:"error_decoded,omitempty"`
	CoreOutcome
}

// OOMKillData is kernel.oom_kill's data.
type OOMKillData struct {
	PID        int    `json:"pid"`
	Comm       string `json:"comm"`
	RSSKB      uint64 `json:"rss_kb"`
	Constraint string `json:"constraint"` // CONSTRAINT_NONE (the host ran out), CONSTRAINT_MEMCG (a cgroup limit), …; "" if not logged
}

// IOErrorData is kernel.io_error's data.
type IOErrorData struct {
	probes.IOErrorLine
	Errors int `json:"errors"` // I/O error lines for this device since its previous finding, this one included
}

type kernelLog struct {
	core      coreFacts            // core-dump settings and crash facts seen so far
	lastSeg   map[string]time.Time // comm → last finding
	segFolded map[string]int
	lastHung  map[int]time.Time
	lastIO    map[string]time.Time
	ioCount   map[string]int
	cons      []probes.OOMConstraintLine
}

// NewKernelLog returns the detector of segfaults, OOM kills, hung tasks and
// I/O errors in the kernel log.
func NewKernelLog() Detector {
	return &kernelLog{core: newCoreFacts(), lastSeg: map[string]time.Time{}, segFolded: map[string]int{},
		lastHung: map[int]time.Time{}, lastIO: map[string]time.Time{}, ioCount: map[string]int{}}
}

func (d *kernelLog) Produces() []string {
	return []string{FindingSegfault, FindingOOMKill, FindingHungTask, FindingIOError}
}

func (d *kernelLog) Observe(ev event.Event) []event.Event {
	d.core.observe(ev)
	k, ok := probes.AsKmsg(ev)
	if !ok {
		return nil
	}
	l, ok := probes.ParseKernelLine(k.Text)
	if !ok {
		return nil
	}
	var f *event.Finding
	switch {
	case l.Segfault != nil:
		f = d.segfault(ev.Time, *l.Segfault, k)
	case l.OOMConstraint != nil:
		d.cons = append(d.cons, *l.OOMConstraint)
		if len(d.cons) > oomConstraints {
			d.cons = d.cons[1:]
		}
	case l.OOMKill != nil:
		f = d.oomKill(*l.OOMKill)
	case l.HungTask != nil:
		f = d.hungTask(ev.Time, *l.HungTask)
	case l.IOError != nil:
		f = d.ioError(ev.Time, *l.IOError)
	}
	if f == nil {
		return nil
	}
	if k.Backlog {
		// Read from the buffer at start: it happened, but not while we watched.
		f.Summary += " (logged before the session began)"
	}
	return []event.Event{event.New(ev.Time, ev.Probe, f)}
}

// recent says whether key had a finding less than win before at, and
// otherwise notes at as its latest. Maps past kernelKeys start over.
func recent[K comparable](m map[K]time.Time, key K, at time.Time, win time.Duration) bool {
	if last, ok := m[key]; ok && at.Sub(last) < win && !at.Before(last) {
		return true
	}
	if len(m) >= kernelKeys {
		clear(m)
	}
	m[key] = at
	return false
}

func (d *kernelLog) segfault(at time.Time, s probes.SegfaultLine, k *probes.Kmsg) *event.Finding {
	if recent(d.lastSeg, s.Comm, at, segfaultRepeat) {
		d.segFolded[s.Comm]++
		return nil
	}
	data := SegfaultData{SegfaultLine: s, Repeats: d.segFolded[s.Comm]}
	delete(d.segFolded, s.Comm)
	where := ""
	if s.Object != "" {
		where = " in " + event.Sanitize(s.Object)
	}
	code := "error " + event.Sanitize(s.Error)
	if pf, ok := probes.DecodePageFault(s.Error); ok {
		data.Mode, data.Access, data.Page, data.ErrorDecoded = pf.Mode, pf.Access, pf.Page, pf.String()
		code += ": " + data.ErrorDecoded
	}
	data.CoreOutcome = d.core.segfault(s, k.Crash, k.Backlog)
	sum := fmt.Sprintf("%s (pid %d) segfaulted at %s%s (%s)", event.Sanitize(s.Comm), s.PID, s.Addr, where, code)
	sum += data.CoreOutcome.summary()
	if data.Repeats > 0 {
		sum += fmt.Sprintf("; %d more segfaults of %s before this", data.Repeats, event.Sanitize(s.Comm))
	}
	return &event.Finding{Finding: FindingSegfault, Severity: event.Warn, Summary: sum, Data: data}
}

func (d *kernelLog) oomKill(k probes.OOMKillLine) *event.Finding {
	data := OOMKillData{PID: k.PID, Comm: k.Comm, RSSKB: k.RSSKB}
	for i := len(d.cons) - 1; i >= 0; i-- {
		if d.cons[i].PID == k.PID {
			data.Constraint = d.cons[i].Constraint
			d.cons = append(d.cons[:i], d.cons[i+1:]...)
			break
		}
	}
	if data.Constraint == "" && k.Memcg {
		data.Constraint = "CONSTRAINT_MEMCG"
	}
	sev, why := event.Critical, "the host ran out of memory"
	switch data.Constraint {
	case "CONSTRAINT_MEMCG":
		sev, why = event.Warn, "its cgroup hit its memory limit"
	case "CONSTRAINT_CPUSET", "CONSTRAINT_MEMORY_POLICY":
		sev, why = event.Warn, "its allowed NUMA nodes ran out of memory"
	case "":
		why = "out of memory"
	}
	return &event.Finding{Finding: FindingOOMKill, Severity: sev, Data: data,
		Summary: fmt.Sprintf("OOM killer killed %s (pid %d, %s resident): %s",
			event.Sanitize(k.Comm), k.PID, event.HumanBytes(int64(k.RSSKB)*1024), why)}
}

func (d *kernelLog) hungTask(at time.Time, h probes.HungTaskLine) *event.Finding {
	if recent(d.lastHung, h.PID, at, hungTaskRepeat) {
		return nil
	}
	return &event.Finding{Finding: FindingHungTask, Severity: event.Warn, Data: h,
		Summary: fmt.Sprintf("%s (pid %d) blocked in the kernel for more than %d s (uninterruptible sleep, usually waiting on I/O)",
			event.Sanitize(h.Comm), h.PID, h.Seconds)}
}

func (d *kernelLog) ioError(at time.Time, e probes.IOErrorLine) *event.Finding {
	d.ioCount[e.Device]++
	if recent(d.lastIO, e.Device, at, ioErrorRepeat) {
		return nil
	}
	n := d.ioCount[e.Device]
	if len(d.ioCount) >= kernelKeys {
		clear(d.ioCount)
	}
	delete(d.ioCount, e.Device)
	where := ""
	switch {
	case e.Sector != nil:
		where = fmt.Sprintf(" at sector %d", *e.Sector)
	case e.Block != nil:
		where = fmt.Sprintf(" at logical block %d", *e.Block)
	}
	op := ""
	if e.Op != "" {
		op = " (" + e.Op + ")"
	}
	sum := fmt.Sprintf("I/O error on %s%s%s", event.Sanitize(e.Device), where, op)
	if n > 1 {
		sum += fmt.Sprintf("; %d errors on it since the previous finding", n)
	}
	return &event.Finding{Finding: FindingIOError, Severity: event.Critical, Summary: sum,
		Data: IOErrorData{IOErrorLine: e, Errors: n}}
}
