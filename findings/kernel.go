package findings

import (
	"fmt"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// Findings named from the kernel log (kmsg events).
const (
	FindingSegfault = "kernel.segfault"
	FindingOOMKill  = "kernel.oom_kill"
	FindingHungTask = "kernel.hung_task"
	FindingIOError  = "kernel.io_error"
)

// Each culprit is one condition while it repeats: a crash loop, khungtaskd's
// report every 120 s and a dying disk's error per request update one
// finding instead of burying everything else. A condition ends (a clear)
// once its window passes without a repeat; the next one is a new finding.
const (
	segfaultRepeat = 10 * time.Second
	oomRepeat      = 5 * time.Minute
	hungTaskRepeat = 10 * time.Minute
	ioErrorRepeat  = time.Minute
	kernelKeys     = 256 // culprits remembered per kind
	oomConstraints = 16  // constraint lines waiting for their kill line
)

// SegfaultData is kernel.segfault's data: the kernel's line, field by
// field; its error code decoded (x86); and whether the crash left a core.
type SegfaultData struct {
	schema.SegfaultLine
	Repeats int `json:"repeats,omitempty"` // the same comm's segfaults before this one in the condition
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
	schema.IOErrorLine
	Errors int `json:"errors"` // I/O error lines for this device in the condition, this one included
}

// A kernel finding is shown by the kernel log lines nearest it. A hung
// task's data is the line as the kmsg probe parsed it.
func init() {
	register(FindingSegfault, func(d SegfaultData) Evidence { return Nearest(About{PID: d.PID, Comm: d.Comm}) })
	register(FindingOOMKill, func(d OOMKillData) Evidence { return Nearest(About{PID: d.PID, Comm: d.Comm}) })
	register(FindingHungTask, func(d schema.HungTaskLine) Evidence { return Nearest(About{PID: d.PID, Comm: d.Comm}) })
	register(FindingIOError, func(d IOErrorData) Evidence { return Nearest(About{Device: d.Device}) })
}

type kernelLog struct {
	core               coreFacts // core-dump settings and crash facts seen so far
	seg, oom, hung, io conds     // keyed by comm, comm, pid and device
	cons               []schema.OOMConstraintLine
}

// NewKernelLog returns the detector of segfaults, OOM kills, hung tasks and
// I/O errors in the kernel log.
func NewKernelLog() Detector {
	return &kernelLog{core: newCoreFacts(), seg: conds{quiet: segfaultRepeat, max: kernelKeys}, oom: conds{quiet: oomRepeat, max: kernelKeys},
		hung: conds{quiet: hungTaskRepeat, max: kernelKeys}, io: conds{quiet: ioErrorRepeat, max: kernelKeys}}
}

func (d *kernelLog) Produces() []string {
	return []string{FindingSegfault, FindingOOMKill, FindingHungTask, FindingIOError}
}

func (d *kernelLog) Observe(ev event.Event) []event.Event {
	d.core.observe(ev)
	var out []event.Event
	for _, c := range []*conds{&d.seg, &d.oom, &d.hung, &d.io} {
		for _, f := range c.sweep(ev.Time) {
			out = append(out, event.New(ev.Time, "kmsg", f)) // the probe its lines came from
		}
	}
	k, ok := event.As[schema.Kmsg](ev)
	if !ok {
		return out
	}
	l, ok := schema.ParseKernelLine(k.Text)
	if !ok {
		return out
	}
	var f *event.Finding
	var c *conds
	switch {
	case l.Segfault != nil:
		f, c = d.segfault(ev.Time, *l.Segfault, k), &d.seg
	case l.OOMConstraint != nil:
		d.cons = append(d.cons, *l.OOMConstraint)
		if len(d.cons) > oomConstraints {
			d.cons = d.cons[1:]
		}
	case l.OOMKill != nil:
		f, c = d.oomKill(*l.OOMKill), &d.oom
	case l.HungTask != nil:
		f, c = d.hungTask(*l.HungTask), &d.hung
	case l.IOError != nil:
		f, c = d.ioError(ev.Time, *l.IOError), &d.io
	}
	if f == nil {
		return out
	}
	if k.Backlog {
		// Read from the buffer at start: it happened, but not while we watched.
		f.Summary += " (logged before the session began)"
	}
	if f = c.hold(ev.Time, f, nil); f != nil {
		out = append(out, event.New(ev.Time, ev.Probe, f))
	}
	return out
}

func (d *kernelLog) segfault(at time.Time, s schema.SegfaultLine, k *schema.Kmsg) *event.Finding {
	key := condKey(FindingSegfault, s.Comm)
	data := SegfaultData{SegfaultLine: s, Repeats: d.seg.count(key, at)}
	where := ""
	if s.Object != "" {
		where = " in " + event.Sanitize(s.Object)
	}
	code := "error " + event.Sanitize(s.Error)
	if pf, ok := schema.DecodePageFault(s.Error); ok {
		data.Mode, data.Access, data.Page, data.ErrorDecoded = pf.Mode, pf.Access, pf.Page, pf.String()
		code += ": " + data.ErrorDecoded
	}
	data.CoreOutcome = d.core.segfault(s, k.Crash, k.Backlog)
	sum := fmt.Sprintf("%s (pid %d) segfaulted at %s%s (%s)", event.Sanitize(s.Comm), s.PID, s.Addr, where, code)
	sum += data.CoreOutcome.summary()
	return &event.Finding{Finding: FindingSegfault, Severity: event.Warn, Key: key, Summary: sum, Data: data}
}

func (d *kernelLog) oomKill(k schema.OOMKillLine) *event.Finding {
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
	return &event.Finding{Finding: FindingOOMKill, Severity: sev, Data: data, Key: condKey(FindingOOMKill, k.Comm),
		Summary: fmt.Sprintf("OOM killer killed %s (pid %d, %s resident): %s",
			event.Sanitize(k.Comm), k.PID, event.HumanBytes(int64(k.RSSKB)*1024), why)}
}

func (d *kernelLog) hungTask(h schema.HungTaskLine) *event.Finding {
	return &event.Finding{Finding: FindingHungTask, Severity: event.Warn, Data: h, Key: condKey(FindingHungTask, h.PID),
		Summary: fmt.Sprintf("%s (pid %d) blocked in the kernel for more than %d s (uninterruptible sleep, usually waiting on I/O)",
			event.Sanitize(h.Comm), h.PID, h.Seconds)}
}

func (d *kernelLog) ioError(at time.Time, e schema.IOErrorLine) *event.Finding {
	key := condKey(FindingIOError, e.Device)
	n := d.io.count(key, at) + 1
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
	return &event.Finding{Finding: FindingIOError, Severity: event.Critical, Summary: sum, Key: key,
		Data: IOErrorData{IOErrorLine: e, Errors: n}}
}

func init() { registerDetector(50, func(Config) Detector { return NewKernelLog() }) }
