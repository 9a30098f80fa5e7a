package handoff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
)

// maxDetail bounds an evidence cell, so one huge event cannot swamp the report.
const maxDetail = 240

// describe says in one line, in words, what an event holds, for the
// generic evidence: every kind this build knows has its own form, and any
// other (a newer build's) is its fields as key=value pairs, never JSON. The
// strings are raw (from the file); the renderers escape them.
func describe(ev event.Event) string {
	var s string
	switch {
	case kmsgLine(ev, &s):
	case conntrackLine(ev, &s):
	case ioLine(ev, &s):
	case diskLine(ev, &s):
	case packetLine(ev, &s):
	case processLine(ev, &s):
	case moduleLine(ev, &s):
	case coreLine(ev, &s):
	case bookkeepingLine(ev, &s):
	default:
		s = keyValues(ev)
	}
	return clip(s, maxDetail)
}

func kmsgLine(ev event.Event, out *string) bool {
	k, ok := schema.AsKmsg(ev)
	if ok {
		*out = "[" + k.Level + "] " + k.Text
		if k.Backlog {
			*out += " (logged before the session)"
		}
		if k.Lost > 0 {
			*out += fmt.Sprintf(" (%d earlier lines lost)", k.Lost)
		}
	}
	return ok
}

func conntrackLine(ev event.Event, out *string) bool {
	c, ok := schema.AsConntrack(ev)
	if ok {
		*out = fmt.Sprintf("%d of %d entries (%.0f%%), drop +%d, early_drop +%d, insert_failed +%d",
			c.Count, c.Max, 100*c.Ratio(), c.Drop, c.EarlyDrop, c.InsertFailed)
	}
	return ok
}

func ioLine(ev event.Event, out *string) bool {
	s, ok := schema.AsIOSample(ev)
	if !ok {
		return false
	}
	var parts []string
	for i, d := range s.Devices {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("… %d more", len(s.Devices)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s%% util, await %s ms, queue %s", d.Device, fmtNum(d.UtilPct), fmtNum(d.AwaitMs()), fmtNum(d.AquSz)))
	}
	if len(parts) == 0 {
		parts = append(parts, "no device busy")
	}
	*out = strings.Join(parts, "; ")
	return true
}

func diskLine(ev event.Event, out *string) bool {
	u, ok := schema.AsDiskUsage(ev)
	if !ok {
		return false
	}
	var parts []string
	for i, fs := range u.Filesystems {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("… %d more", len(u.Filesystems)-3))
			break
		}
		p := fmt.Sprintf("%s %s used, %s available", fs.Mount, fmtBytes(float64(fs.UsedBytes)), fmtBytes(float64(fs.AvailBytes)))
		if fs.Stale {
			p += " (stale: statfs did not answer)"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		parts = append(parts, "no filesystem")
	}
	*out = strings.Join(parts, "; ")
	return true
}

func packetLine(ev event.Event, out *string) bool {
	if b, ok := packet.AsPacketBatch(ev); ok {
		var rst, syn int
		b.Each(func(p packet.Packet) {
			if p.Flags&packet.FlagRST != 0 {
				rst++
			}
			if p.Flags&packet.FlagSYN != 0 {
				syn++
			}
		})
		*out = fmt.Sprintf("%s: %d packets, %d SYN, %d RST", b.Iface, b.N(), syn, rst)
		return true
	}
	if s, ok := packet.AsCaptureStats(ev); ok {
		*out = fmt.Sprintf("%s: %d packets, %d dropped by the kernel", s.Iface, s.Packets, s.Drops)
		return true
	}
	if f, ok := packet.AsFlowInfo(ev); ok {
		*out = f.Iface + " " + f.Proto + " " + f.String()
		return true
	}
	return false
}

// processLine is the signals probe's kinds: a signal, fork, exec, exit or
// a change in what it traces.
func processLine(ev event.Event, out *string) bool {
	if s, ok := schema.AsSignal(ev); ok {
		*out = s.Signal
		if s.Code != "" {
			*out += " " + s.Code
		}
		*out += " to " + proc(s.PID, s.Comm)
		if s.SenderPID != 0 || s.SenderComm != "" {
			*out += " from " + sender(s)
		}
		for _, extra := range []string{s.Status, s.Result} {
			if extra != "" {
				*out += ", " + extra
			}
		}
		if s.Addr != "" {
			*out += ", at " + s.Addr
		}
		return true
	}
	if f, ok := schema.AsFork(ev); ok {
		*out = proc(f.PID, f.Comm) + " " + f.How + ": child " + itoa(f.ChildPID)
		return true
	}
	if x, ok := schema.AsExec(ev); ok {
		*out = itoa(x.PID) + " exec " + x.Filename
		if x.OldComm != "" && x.OldComm != x.Comm {
			*out += " (" + x.OldComm + " → " + x.Comm + ")"
		}
		return true
	}
	if x, ok := schema.AsExit(ev); ok {
		*out = proc(x.PID, x.Comm) + " " + x.Status
		if x.Core {
			*out += ", core dumped"
		}
		return true
	}
	if tr, ok := schema.AsTrace(ev); ok {
		*out = tr.State + " " + proc(tr.PID, tr.Comm)
		if tr.Threads > 0 {
			*out += ", " + plural(tr.Threads, "thread")
		}
		if tr.Reason != "" {
			*out += ": " + tr.Reason
		}
		return true
	}
	return false
}

// maxNamed is how many names (modules, processes) a line lists before "…".
const maxNamed = 5

func moduleLine(ev event.Event, out *string) bool {
	var m *schema.Module
	verb := ""
	switch b := ev.Body.(type) {
	case *schema.ModuleList:
		if b == nil {
			return false
		}
		*out = plural(b.Count, "module") + " loaded: " + names(b.Modules, len(b.Modules))
		return true
	case schema.ModuleList:
		*out = plural(b.Count, "module") + " loaded: " + names(b.Modules, len(b.Modules))
		return true
	}
	if l, ok := schema.AsModuleLoad(ev); ok {
		m, verb = &l.Module, "loaded "
	} else if u, ok := schema.AsModuleUnload(ev); ok {
		m, verb = &u.Module, "unloaded "
	} else {
		return false
	}
	*out = verb + m.Module + " (" + fmtBytes(float64(m.Size)) + ")"
	if len(m.UsedBy) > 0 {
		*out += ", used by " + names(m.UsedBy, len(m.UsedBy))
	}
	return true
}

func coreLine(ev event.Event, out *string) bool {
	c, ok := event.As[schema.CoreReadiness](ev)
	if !ok {
		return false
	}
	pattern := c.CorePattern
	if pattern == "" {
		pattern = "(empty)"
	}
	*out = "core_pattern " + pattern
	if c.PipeTarget != "" && c.PipeTargetExists != nil && !*c.PipeTargetExists {
		*out += " (" + c.PipeTarget + " does not exist)"
	}
	who := "processes"
	if c.Watched {
		who = "watched processes"
	}
	*out += fmt.Sprintf("; %d of %d %s with a core size limit of 0", c.ZeroLimit, c.Processes, who)
	if len(c.NoCore) > 0 {
		var ps []string
		for _, l := range c.NoCore {
			ps = append(ps, proc(l.PID, l.Comm))
		}
		*out += " (" + names(ps, c.ZeroLimit) + ")"
	}
	return true
}

// bookkeepingLine is the kinds every probe shares: findings, notes, a
// probe's status and the recorder's state.
func bookkeepingLine(ev event.Event, out *string) bool {
	if f, ok := event.AsFinding(ev); ok {
		*out = strings.ToUpper(f.Severity.String()) + " " + f.Finding
		if f.State != "" {
			*out += " (" + f.State + ")"
		}
		*out += ": " + f.Summary
		return true
	}
	if n, ok := event.AsNote(ev); ok {
		*out = n.Author + ": " + n.Text
		return true
	}
	if st, ok := event.As[event.ProbeStatus](ev); ok {
		*out = statusLine(st.Status, st.Reason)
		return true
	}
	if r, ok := event.As[event.Recording](ev); ok {
		*out = recordingLine(r)
		return true
	}
	return false
}

func statusLine(status, reason string) string {
	s := "probe " + status
	if reason != "" {
		s += ": " + reason
	}
	return s
}

func recordingLine(r *event.Recording) string {
	s := "recording " + r.State
	if r.File != "" {
		s += " " + r.File
	}
	if r.PausedS != nil {
		s += " after " + fmtDur(time.Duration(*r.PausedS*float64(time.Second)))
	}
	if r.EventsDropped != nil {
		s += fmt.Sprintf(", %d events dropped", *r.EventsDropped)
	}
	if r.Reason != "" {
		s += ": " + r.Reason
	}
	return s
}

// names lists the first few of list ("a, b, c, … 12 more"), of total.
func names(list []string, total int) string {
	total = max(total, len(list))
	if len(list) > maxNamed {
		list = list[:maxNamed]
	}
	s := strings.Join(list, ", ")
	if total > len(list) {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("… %d more", total-len(list))
	}
	return s
}

// keyValues is an event's own fields as key=value pairs, in the order of
// its JSON, without the envelope: nested objects as a.b=v, lists of plain
// values as a=x,y, lists of objects as a[0].b=v. A string with a space, an
// = or a quote is quoted. It stops once there is more than a cell can show.
func keyValues(ev event.Event) string {
	b, err := ev.MarshalJSON()
	if err != nil {
		return ev.Kind
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var parts []string
	size := 0
	emit := func(k, v string) {
		if size > 4*maxDetail {
			return
		}
		switch k {
		case "time", "probe", "kind":
			return
		}
		parts = append(parts, k+"="+v)
		size += len(k) + len(v) + 1
	}
	if flatten(dec, "", emit) != nil && len(parts) == 0 {
		return ev.Kind
	}
	if len(parts) == 0 {
		return "no fields"
	}
	return strings.Join(parts, " ")
}

// flatten reads one JSON value from dec and emits its leaves under prefix.
func flatten(dec *json.Decoder, prefix string, emit func(k, v string)) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k, _ := kt.(string)
				if prefix != "" {
					k = prefix + "." + k
				}
				if err := flatten(dec, k, emit); err != nil {
					return err
				}
			}
		case '[':
			var plain []string
			for i := 0; dec.More(); i++ {
				var leaf string
				isLeaf := false
				err := flatten(dec, prefix+"["+itoa(i)+"]", func(k, v string) {
					if k == prefix+"["+itoa(i)+"]" {
						leaf, isLeaf = v, true
						return
					}
					emit(k, v)
				})
				if err != nil {
					return err
				}
				if isLeaf {
					plain = append(plain, leaf)
				}
			}
			if len(plain) > 0 {
				emit(prefix, strings.Join(plain, ","))
			}
		}
		_, err := dec.Token() // the closing delimiter
		return err
	case nil:
		return nil // null: nothing to say
	case string:
		if t == "" || strings.ContainsAny(t, " =\"") {
			t = strconv.Quote(t)
		}
		emit(prefix, t)
	default:
		emit(prefix, fmt.Sprint(t))
	}
	return nil
}

// clip cuts s to n runes, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n-1 {
			return s[:j] + "…"
		}
		i++
	}
	return s
}

var flagNames = []string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"}

func tcpFlags(f uint8) string {
	if f == 0 {
		return "—"
	}
	var parts []string
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, " ")
}

func itoa(i int) string { return strconv.Itoa(i) }

// fmtNum prints a measurement with three significant digits or so.
func fmtNum(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "—"
	case v == math.Trunc(v) && math.Abs(v) < 1e6:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func fmtCount(v uint64) string { return strconv.FormatUint(v, 10) }

// fmtBytes prints bytes in IEC units, as df -h does.
func fmtBytes(v float64) string {
	neg := v < 0
	v = math.Abs(v)
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	s := strconv.FormatFloat(v, 'f', 1, 64) + " " + units[i]
	if i == 0 {
		s = strconv.FormatFloat(v, 'f', 0, 64) + " B"
	}
	if neg {
		s = "-" + s
	}
	return s
}

func fmtEta(s *float64) string {
	if s == nil {
		return "not filling"
	}
	return fmtDur(event.DurationOf(*s))
}

// fmtDur prints a duration the way people say it: 850 ms, 3.50 s, 7m05s.
var fmtDur = event.SpokenDuration

// fmtClock prints an event time in UTC to the millisecond.
func fmtClock(t time.Time) string { return t.UTC().Format("15:04:05.000") }
