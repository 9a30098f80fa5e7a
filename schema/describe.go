package schema

// Each kind's one line in words (event.Describer), as the handoff report's
// evidence rows show it. The strings are raw, from the recording: whoever
// shows them escapes them.

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/stakeout/stakeout/event"
)

// maxListed is how many items (devices, filesystems) a line spells out
// before "… N more", and maxNamed how many names (modules, processes).
const (
	maxListed = 3
	maxNamed  = 5
)

func (k Kmsg) Describe() string {
	s := "[" + k.Level + "] " + k.Text
	if k.Backlog {
		s += " (logged before the session)"
	}
	if k.Lost > 0 {
		s += fmt.Sprintf(" (%d earlier lines lost)", k.Lost)
	}
	return s
}

func (c ConntrackSample) Describe() string {
	return fmt.Sprintf("%d of %d entries (%.0f%%), drop +%d, early_drop +%d, insert_failed +%d",
		c.Count, c.Max, 100*c.Ratio(), c.Drop, c.EarlyDrop, c.InsertFailed)
}

func (s IOSample) Describe() string {
	var parts []string
	for i, d := range s.Devices {
		if i == maxListed {
			parts = append(parts, fmt.Sprintf("… %d more", len(s.Devices)-maxListed))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s%% util, await %s ms, queue %s", d.Device,
			event.HumanNumber(d.UtilPct), event.HumanNumber(d.AwaitMs()), event.HumanNumber(d.AquSz)))
	}
	if len(parts) == 0 {
		return "no device busy"
	}
	return strings.Join(parts, "; ")
}

func (u DiskUsage) Describe() string {
	var parts []string
	for i, fs := range u.Filesystems {
		if i == maxListed {
			parts = append(parts, fmt.Sprintf("… %d more", len(u.Filesystems)-maxListed))
			break
		}
		p := fs.Mount + " " + byteSize(fs.UsedBytes) + " used, " + byteSize(fs.AvailBytes) + " available"
		if fs.Stale {
			p += " (stale: statfs did not answer)"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "no filesystem"
	}
	return strings.Join(parts, "; ")
}

func (s Signal) Describe() string {
	out := s.Signal
	if s.Code != "" {
		out += " " + s.Code
	}
	out += " to " + Proc(s.PID, s.Comm)
	if from := s.Sender(); from != "" {
		out += " from " + from
	}
	for _, extra := range []string{s.Status, s.Result} {
		if extra != "" {
			out += ", " + extra
		}
	}
	if s.Addr != "" {
		out += ", at " + s.Addr
	}
	return out
}

// Sender is the process that sent the signal, "pid (comm) uid N", or ""
// when the kernel names none.
func (s Signal) Sender() string {
	if s.SenderPID == 0 && s.SenderComm == "" {
		return ""
	}
	out := Proc(s.SenderPID, s.SenderComm)
	if s.SenderUID != nil {
		out += " uid " + strconv.Itoa(*s.SenderUID)
	}
	return out
}

func (f Fork) Describe() string {
	return Proc(f.PID, f.Comm) + " " + f.How + ": child " + strconv.Itoa(f.ChildPID)
}

func (x Exec) Describe() string {
	s := strconv.Itoa(x.PID) + " exec " + x.Filename
	if x.OldComm != "" && x.OldComm != x.Comm {
		s += " (" + x.OldComm + " → " + x.Comm + ")"
	}
	return s
}

func (x Exit) Describe() string {
	s := Proc(x.PID, x.Comm) + " " + x.Status
	if x.Core {
		s += ", core dumped"
	}
	return s
}

func (tr Trace) Describe() string {
	s := tr.State + " " + Proc(tr.PID, tr.Comm)
	if tr.Threads > 0 {
		s += ", " + counted(tr.Threads, "thread")
	}
	if tr.Reason != "" {
		s += ": " + tr.Reason
	}
	return s
}

func (l ModuleList) Describe() string {
	return counted(l.Count, "module") + " loaded: " + listNames(l.Modules, len(l.Modules))
}

func (l ModuleLoad) Describe() string { return l.Module.describe("loaded ") }

func (u ModuleUnload) Describe() string { return u.Module.describe("unloaded ") }

func (m Module) describe(verb string) string {
	s := verb + m.Module + " (" + byteSize(m.Size) + ")"
	if len(m.UsedBy) > 0 {
		s += ", used by " + listNames(m.UsedBy, len(m.UsedBy))
	}
	return s
}

func (c CoreReadiness) Describe() string {
	pattern := c.CorePattern
	if pattern == "" {
		pattern = "(empty)"
	}
	s := "core_pattern " + pattern
	if c.PipeTarget != "" && c.PipeTargetExists != nil && !*c.PipeTargetExists {
		s += " (" + c.PipeTarget + " does not exist)"
	}
	who := "processes"
	if c.Watched {
		who = "watched processes"
	}
	s += fmt.Sprintf("; %d of %d %s with a core size limit of 0", c.ZeroLimit, c.Processes, who)
	if len(c.NoCore) > 0 {
		var ps []string
		for _, l := range c.NoCore {
			ps = append(ps, Proc(l.PID, l.Comm))
		}
		s += " (" + listNames(ps, c.ZeroLimit) + ")"
	}
	return s
}

// Proc names a process as "pid (comm)", or "pid" when its name is unknown.
func Proc(pid int, comm string) string {
	if comm == "" {
		return strconv.Itoa(pid)
	}
	return strconv.Itoa(pid) + " (" + comm + ")"
}

// byteSize is a byte count in binary units, as event.HumanBytes writes it.
func byteSize(n uint64) string { return event.HumanBytes(int64(min(n, math.MaxInt64))) }

// counted says "1 thread", "4 threads".
func counted(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// listNames lists the first few of list ("a, b, c, … 12 more"), of total.
func listNames(list []string, total int) string {
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
