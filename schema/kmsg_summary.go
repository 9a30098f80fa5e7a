package schema

import (
	"fmt"

	"github.com/stakeout/stakeout/event"
)

// kmsgNotableCap bounds the notable lines a KmsgSummary keeps.
const kmsgNotableCap = 20

// KmsgSummary counts kernel log lines by level and by what they name, and
// keeps the last few lines that named something or were err or worse.
type KmsgSummary struct {
	lines, backlog, lost int
	levels               [8]int
	named                map[string]int
	notable              []string
}

// KmsgSummaryResult is the JSON form, under "summary": {"kmsg": …}.
type KmsgSummaryResult struct {
	Lines   int            `json:"lines"`
	Backlog int            `json:"backlog_lines"` // of Lines, logged before the session
	Lost    int            `json:"lost,omitempty"`
	Levels  map[string]int `json:"levels"`
	Named   map[string]int `json:"named"` // segfault, oom_kill, hung_task, io_error, conntrack_full
	Notable []string       `json:"notable"`
}

func (s *KmsgSummary) Observe(ev event.Event) {
	k, ok := event.As[Kmsg](ev)
	if !ok {
		return
	}
	s.lines++
	if k.Backlog {
		s.backlog++
	}
	s.lost = int(event.AddCount(uint64(s.lost), k.Lost))
	s.levels[k.Priority&7]++
	what := KernelLineName(k.Text)
	if what != "" {
		if s.named == nil {
			s.named = map[string]int{}
		}
		s.named[what]++
	}
	if what != "" || k.Priority <= 3 {
		s.notable = append(s.notable, ev.Time.UTC().Format("15:04:05")+" "+KmsgLevels[k.Priority&7]+": "+k.Text)
		if len(s.notable) > kmsgNotableCap {
			s.notable = s.notable[1:]
		}
	}
}

// KernelLineName names what a kernel log line reports, "" for nothing.
func KernelLineName(text string) string {
	l, ok := ParseKernelLine(text)
	switch {
	case !ok:
		return ""
	case l.Segfault != nil:
		return "segfault"
	case l.OOMKill != nil:
		return "oom_kill"
	case l.HungTask != nil:
		return "hung_task"
	case l.IOError != nil:
		return "io_error"
	case l.ConntrackFull:
		return "conntrack_full"
	}
	return ""
}

func (s *KmsgSummary) Result() any {
	lv := map[string]int{}
	for i, n := range s.levels {
		if n > 0 {
			lv[KmsgLevels[i]] = n
		}
	}
	named := map[string]int{}
	for k, v := range s.named {
		named[k] = v
	}
	return KmsgSummaryResult{Lines: s.lines, Backlog: s.backlog, Lost: s.lost, Levels: lv, Named: named,
		Notable: append([]string{}, s.notable...)}
}

func (s *KmsgSummary) Lines() []string {
	head := fmt.Sprintf("%d kernel log lines (%d from before the session)", s.lines, s.backlog)
	for _, n := range []string{"segfault", "oom_kill", "hung_task", "io_error", "conntrack_full"} {
		if c := s.named[n]; c > 0 {
			head += fmt.Sprintf(", %d %s", c, n)
		}
	}
	if s.lost > 0 {
		head += fmt.Sprintf("; %d overwritten before they could be read", s.lost)
	}
	return append([]string{head}, s.notable...)
}

// ProbeKmsg is the kmsg probe's name.
const ProbeKmsg = "kmsg"

func init() {
	RegisterProbe(ProbeInfo{Name: ProbeKmsg, Rank: 50, Summary: func() Summarizer { return &KmsgSummary{} },
		Kinds: []string{KindKmsg}})
}
