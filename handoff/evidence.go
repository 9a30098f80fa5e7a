package handoff

import (
	"slices"
	"time"

	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// A collector gathers one finding's evidence from the events in its window:
// the rows at or before the finding's time (the last `before` of them), and
// the first `after` rows past it.
type collector struct {
	host     string // the finding's: another host's events show nothing of it
	t        time.Time
	from, to time.Time
	title    string
	columns  []string
	// rows turns an event into zero or more evidence rows (a packet batch
	// gives one row per packet of the flow).
	rows func(ev event.Event, emit func(Row))
	// before and after bound the rows kept on either side of t. spread, if
	// set, keeps up to keep rows before t and thins them to spread rows
	// evenly apart at the end (disk samples over two minutes).
	before, after, spread int
	ring                  []Row
	next                  []Row
}

func (c *collector) observe(ev event.Event) {
	if ev.Host != c.host || ev.Time.Before(c.from) || ev.Time.After(c.to) {
		return
	}
	c.rows(ev, func(r Row) {
		if r.Time.After(c.t) {
			if len(c.next) < c.after {
				c.next = append(c.next, r)
			}
			return
		}
		r.Mark = r.Time.Equal(c.t)
		if len(c.ring) == c.before {
			c.ring = slices.Delete(c.ring, 0, 1)
		}
		c.ring = append(c.ring, r)
	})
}

func (c *collector) evidence() Evidence {
	before := c.ring
	if c.spread > 0 && len(before) > c.spread {
		thin := make([]Row, 0, c.spread)
		for i := range c.spread {
			// Evenly spaced indexes ending at the last row.
			thin = append(thin, before[(len(before)-1)*i/(c.spread-1)])
		}
		before = thin
	}
	rows := append(append([]Row(nil), before...), c.next...)
	slices.SortStableFunc(rows, func(a, b Row) int { return a.Time.Compare(b.Time) })
	return Evidence{Title: c.title, Columns: c.columns, Rows: rows}
}

// evidenceFor collects what shows a finding, as its detector's rule says
// (findings.EvidenceOf): the signal rows of the process, the flow's packets
// either side of a packet gap, the device's samples for a saturated disk,
// the filesystem's samples for a filling one, and otherwise the events of
// the finding's probe nearest to it. A flow the recording never announced
// falls back to the nearest events.
func evidenceFor(ev event.Event, e findings.Evidence, flows map[flowKey]uint32) *collector {
	a := e.About
	var id uint32
	if e.Of == findings.EvidencePackets {
		var known bool
		if id, known = flows[flowKey{ev.Host, a.Iface, a.Flow}]; !known {
			e = findings.Nearest(a)
		}
	}
	t := ev.Time
	c := &collector{host: ev.Host, t: t, from: t.Add(-e.Before), to: t.Add(e.After), before: e.KeepBefore, after: e.KeepAfter, spread: e.Spread}
	switch e.Of {
	case findings.EvidenceSignals:
		c.title = "signals to pid " + itoa(a.PID)
		c.columns = []string{"time", "event", "process", "detail", "sender"}
		c.rows = signalRows(a.PID, e.Signal)
	case findings.EvidencePackets:
		c.title = "packets of " + a.Flow + " on " + a.Iface
		c.columns = []string{"time", "since previous", "flags", "length"}
		c.rows = flowRows(a.Iface, id)
	case findings.EvidenceIO:
		c.title = "iostat samples of " + a.Device
		c.columns = []string{"time", "r/s", "w/s", "await", "aqu-sz", "%util"}
		c.rows = ioRows(a.Device)
	case findings.EvidenceDisk, findings.EvidenceInodes:
		inodes := e.Of == findings.EvidenceInodes
		c.title = "diskfill samples of " + a.Mount
		c.columns = []string{"time", "used", "available", "fill rate", "full in"}
		if inodes {
			c.columns = []string{"time", "inodes used", "inodes free", "fill rate", "full in"}
		}
		c.rows = diskRows(a.Mount, inodes)
	default:
		probe := ev.Probe
		c.title = "events of " + probe + " nearest the finding"
		c.columns = []string{"time", "event", "detail"}
		c.rows = func(ev event.Event, emit func(Row)) {
			if ev.Probe != probe || !evidenceKind(ev) {
				return
			}
			emit(Row{Time: ev.Time, Cells: []string{ev.Kind, describe(ev)}})
		}
	}
	return c
}

// evidenceKind leaves out what shows nothing about the finding: findings
// (it is listed itself), notes (listed on their own) and a probe's status
// while it is ok. A probe failing, or the recorder pausing, is evidence.
func evidenceKind(ev event.Event) bool {
	switch ev.Kind {
	case event.KindFinding, event.KindNote:
		return false
	case event.KindProbeStatus:
		s, ok := ev.Body.(*event.ProbeStatus)
		return ok && s != nil && s.Status != event.StatusOK
	}
	return true
}

// sweepGap is how far ahead the next window must start for the reader to
// seek to it rather than read on. A seek decodes from the start of the
// window's 60 s segment, half a segment on average, so reading on is
// cheaper only across a shorter gap. (A one-hour recording at 2000 pps
// with 42 findings: 1.7 s of CPU for the evidence, against 4.5 s when it
// read on across gaps of up to two minutes.)
const sweepGap = 30 * time.Second

// collectEvidence reads the windows of all findings in one sweep: windows
// are visited in time order, overlapping ones share the reading, and the
// reader seeks (through the file's time index) across long quiet stretches.
// A recording is not in time order (the kernel log's backlog comes after
// the first samples, a bad clock stamps an event years ahead), so a window
// is let go only once the reader has provably passed every event in it
// (sessions.Iter.Passed), never because a later event came by.
func collectEvidence(r sessions.Recording, fn func(event.Event) event.Event, ps []pending, progress func(sessions.Progress)) error {
	cols := make([]*collector, 0, len(ps))
	var end time.Time // of the last window: where the sweep ends
	for _, p := range ps {
		cols = append(cols, p.col)
		if p.col.to.After(end) {
			end = p.col.to
		}
	}
	slices.SortStableFunc(cols, func(a, b *collector) int { return a.from.Compare(b.from) })
	var track func(time.Time)
	if len(cols) > 0 {
		track = sessions.ProgressTracker(r, progress, 2, 2, cols[0].from, end)
	}
	var si sessions.Events
	var it engine.Iterator
	var active []*collector
	for i := 0; i < len(cols) || len(active) > 0; {
		if it == nil {
			si = r.Events(cols[i].from)
			it = transformed(tracked(si, track), fn)
		}
		ev, ok := it.Next()
		if !ok {
			return it.Err()
		}
		for i < len(cols) && !ev.Time.Before(cols[i].from) {
			active = append(active, cols[i])
			i++
		}
		for _, c := range active {
			c.observe(ev)
		}
		active = slices.DeleteFunc(active, func(c *collector) bool { return si.Passed(c.to) })
		if len(active) == 0 && i < len(cols) && cols[i].from.Sub(ev.Time) > sweepGap {
			it = nil
		}
	}
	return nil
}

func signalRows(pid int, sig string) func(event.Event, func(Row)) {
	return func(ev event.Event, emit func(Row)) {
		if s, ok := event.As[schema.Signal](ev); ok && s.PID == pid && (sig == "" || s.Signal == sig) {
			detail := s.Signal
			if s.Code != "" {
				detail += " " + s.Code
			}
			if s.Result != "" {
				detail += ", " + s.Result
			}
			emit(Row{Time: ev.Time, Cells: []string{"signal", schema.Proc(s.PID, s.Comm), detail, sender(s)}})
		} else if f, ok := event.As[schema.Fork](ev); ok && (f.PID == pid || f.ChildPID == pid) {
			emit(Row{Time: ev.Time, Cells: []string{f.How, schema.Proc(f.PID, f.Comm), "child " + itoa(f.ChildPID), ""}})
		} else if x, ok := event.As[schema.Exec](ev); ok && x.PID == pid {
			emit(Row{Time: ev.Time, Cells: []string{"exec", schema.Proc(x.PID, x.Comm), x.OldComm + " → " + x.Filename, ""}})
		} else if x, ok := event.As[schema.Exit](ev); ok && x.PID == pid {
			detail := x.Status
			if x.Core {
				detail += ", core dumped"
			}
			emit(Row{Time: ev.Time, Cells: []string{"exit", schema.Proc(x.PID, x.Comm), detail, ""}})
		}
	}
}

// sender is who sent the signal, or "—" when the kernel names nobody.
func sender(s *schema.Signal) string {
	if from := s.Sender(); from != "" {
		return from
	}
	return "—"
}

func flowRows(iface string, id uint32) func(event.Event, func(Row)) {
	var prev time.Time
	return func(ev event.Event, emit func(Row)) {
		b, ok := event.As[packet.PacketBatch](ev)
		if !ok || b.Iface != iface {
			return
		}
		b.Each(func(p packet.Packet) {
			if p.Flow != id {
				return
			}
			since := "—"
			if !prev.IsZero() {
				since = fmtDur(p.Time.Sub(prev))
			}
			prev = p.Time
			emit(Row{Time: p.Time, Cells: []string{since, tcpFlags(p.Flags), itoa(int(p.Len)) + " B"}})
		})
	}
}

func ioRows(device string) func(event.Event, func(Row)) {
	return func(ev event.Event, emit func(Row)) {
		s, ok := event.As[schema.IOSample](ev)
		if !ok {
			return
		}
		for _, d := range s.Devices {
			if d.Device != device {
				continue
			}
			await := fmtNum(d.AwaitMs()) + " ms"
			if d.Stalled {
				await = "stalled, " + itoa(int(d.InFlight)) + " in flight"
			}
			emit(Row{Time: ev.Time, Cells: []string{fmtNum(d.RPerS), fmtNum(d.WPerS), await, fmtNum(d.AquSz), fmtNum(d.UtilPct) + "%"}})
		}
	}
}

func diskRows(mount string, inodes bool) func(event.Event, func(Row)) {
	return func(ev event.Event, emit func(Row)) {
		u, ok := event.As[schema.DiskUsage](ev)
		if !ok {
			return
		}
		for _, fs := range u.Filesystems {
			if fs.Mount != mount {
				continue
			}
			if inodes {
				emit(Row{Time: ev.Time, Cells: []string{fmtCount(fs.InodesUsed), fmtCount(fs.InodesFree),
					fmtNum(fs.Inodes.RatePerS) + " inodes/s", fmtEta(fs.Inodes.EtaS)}})
				continue
			}
			emit(Row{Time: ev.Time, Cells: []string{fmtBytes(float64(fs.UsedBytes)), fmtBytes(float64(fs.AvailBytes)),
				fmtBytes(fs.Bytes.RatePerS) + "/s", fmtEta(fs.Bytes.EtaS)}})
		}
	}
}
