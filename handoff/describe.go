package handoff

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/probes"
)

// maxDetail bounds an evidence cell, so one huge event cannot swamp the report.
const maxDetail = 240

// describe says in one line what an event holds, for the generic evidence.
// The strings are raw (from the file); the renderers escape them.
func describe(ev event.Event) string {
	var s string
	switch {
	case kmsgLine(ev, &s):
	case conntrackLine(ev, &s):
	case ioLine(ev, &s):
	case diskLine(ev, &s):
	case packetLine(ev, &s):
	default:
		s = rawFields(ev)
	}
	return clip(s, maxDetail)
}

func kmsgLine(ev event.Event, out *string) bool {
	k, ok := probes.AsKmsg(ev)
	if ok {
		*out = "[" + k.Level + "] " + k.Text
		if k.Backlog {
			*out += " (logged before the session)"
		}
	}
	return ok
}

func conntrackLine(ev event.Event, out *string) bool {
	c, ok := probes.AsConntrack(ev)
	if ok {
		*out = fmt.Sprintf("%d of %d entries (%.0f%%), drop +%d, early_drop +%d, insert_failed +%d",
			c.Count, c.Max, 100*c.Ratio(), c.Drop, c.EarlyDrop, c.InsertFailed)
	}
	return ok
}

func ioLine(ev event.Event, out *string) bool {
	s, ok := probes.AsIOSample(ev)
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
	u, ok := probes.AsDiskUsage(ev)
	if !ok {
		return false
	}
	var parts []string
	for i, fs := range u.Filesystems {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("… %d more", len(u.Filesystems)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s used, %s available", fs.Mount, fmtBytes(float64(fs.UsedBytes)), fmtBytes(float64(fs.AvailBytes))))
	}
	*out = strings.Join(parts, "; ")
	return true
}

func packetLine(ev event.Event, out *string) bool {
	if b, ok := probes.AsPacketBatch(ev); ok {
		var rst, syn int
		b.Each(func(p probes.Packet) {
			if p.Flags&probes.FlagRST != 0 {
				rst++
			}
			if p.Flags&probes.FlagSYN != 0 {
				syn++
			}
		})
		*out = fmt.Sprintf("%s: %d packets, %d SYN, %d RST", b.Iface, b.N(), syn, rst)
		return true
	}
	if s, ok := probes.AsCaptureStats(ev); ok {
		*out = fmt.Sprintf("%s: %d packets, %d dropped by the kernel", s.Iface, s.Packets, s.Drops)
		return true
	}
	if f, ok := probes.AsFlowInfo(ev); ok {
		*out = f.Iface + " " + f.Proto + " " + f.String()
		return true
	}
	return false
}

// rawFields is an event's own fields as compact JSON, without the envelope.
func rawFields(ev event.Event) string {
	b, err := ev.MarshalJSON()
	if err != nil {
		return ""
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return string(b)
	}
	delete(m, "time")
	delete(m, "probe")
	delete(m, "kind")
	out, err := json.Marshal(m)
	if err != nil {
		return ""
	}
	return string(out)
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

// fmtDur prints a duration the way people say it: 850 ms, 3.5 s, 7m, 2h05m.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', -1, 64) + " ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// fmtClock prints an event time in UTC to the millisecond.
func fmtClock(t time.Time) string { return t.UTC().Format("15:04:05.000") }
