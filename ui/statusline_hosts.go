package ui

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// remoteHost is what the status line shows of another host: its clock's
// offset from the local one, and whether its stream is lost.
type remoteHost struct {
	offset time.Duration
	clock  bool // a clock event gave offset
	lost   bool // a host.lost finding for it is open
}

// statusHosts are the other hosts seen, by name. It changes only when a
// host is first seen, its clock is measured or it is lost or back (a
// copy each time, so an earlier statusLine keeps what it showed); any
// other event costs one map lookup.
type statusHosts struct {
	names []string // sorted
	by    map[string]remoteHost
}

func (h statusHosts) with(name string, r remoteHost) statusHosts {
	by := make(map[string]remoteHost, len(h.by)+1)
	maps.Copy(by, h.by)
	if _, ok := by[name]; !ok {
		h.names = append(slices.Clone(h.names), name)
		slices.Sort(h.names)
	}
	by[name] = r
	h.by = by
	return h
}

// isHostKind: the kinds about the hosts themselves, which the status line
// shows and no pane does.
func isHostKind(kind string) bool {
	return kind == schema.KindHostFacts || kind == schema.KindClock || kind == schema.KindStreamPong
}

// Observe notes the host an event comes from, and a clock event's offset.
func (s statusLine) Observe(ev event.Event) statusLine {
	if ev.Host != "" {
		if _, ok := s.hosts.by[ev.Host]; !ok {
			s.hosts = s.hosts.with(ev.Host, remoteHost{})
		}
	}
	if ev.Kind == schema.KindClock {
		if c, ok := event.As[schema.Clock](ev); ok && ev.Host != "" {
			r := s.hosts.by[ev.Host]
			r.offset, r.clock = c.Offset, true
			s.hosts = s.hosts.with(ev.Host, r)
		}
	}
	return s
}

// ForgetClocks drops the offsets, before a replay seek feeds the events
// before the new position again.
func (s statusLine) ForgetClocks() statusLine {
	for _, n := range s.hosts.names {
		r := s.hosts.by[n]
		r.offset, r.clock = 0, false
		s.hosts = s.hosts.with(n, r)
	}
	return s
}

// lostFinding reads a host.lost or host.back finding: the host it is
// about, and whether that host is lost after it.
func lostFinding(ev event.Event) (host string, lost, ok bool) {
	f, isF := event.As[event.Finding](ev)
	if !isF || (f.Finding != schema.FindingHostLost && f.Finding != schema.FindingHostBack) {
		return "", false, false
	}
	host = ev.Host
	switch d := f.Data.(type) {
	case schema.HostLostData:
		host = cmp.Or(d.Host, host)
	case *schema.HostLostData:
		if d != nil {
			host = cmp.Or(d.Host, host)
		}
	case map[string]any: // read back as the generic value
		if h, _ := d["host"].(string); h != "" {
			host = h
		}
	}
	lost = f.Finding == schema.FindingHostLost && f.State != event.FindingCleared
	return host, lost, host != ""
}

// hostFinding follows host.lost and host.back.
func (s statusLine) hostFinding(ev event.Event) statusLine {
	if host, lost, ok := lostFinding(ev); ok {
		r := s.hosts.by[host]
		if r.lost != lost || !slices.Contains(s.hosts.names, host) {
			r.lost = lost
			s.hosts = s.hosts.with(host, r)
		}
	}
	return s
}

// SetLost says which hosts are lost after findings, in time order (a
// replay's, up to its position).
func (s statusLine) SetLost(findings []event.Event) statusLine {
	for _, n := range s.hosts.names {
		if r := s.hosts.by[n]; r.lost {
			r.lost = false
			s.hosts = s.hosts.with(n, r)
		}
	}
	for _, ev := range findings {
		s = s.hostFinding(ev)
	}
	return s
}

// hostsSegment is the other hosts, each with its clock offset and LOST
// while its stream is lost: "r1 +3.002s  r2 LOST". Within room cells:
// the lost hosts come first when not all fit, and "+N" counts those left
// out.
func (s statusLine) hostsSegment(room int) string {
	if len(s.hosts.names) == 0 || room <= 0 {
		return ""
	}
	st := s.env.st
	entry := func(n string) string {
		r := s.hosts.by[n]
		e := st.Host.Render(event.Sanitize(n))
		if r.clock {
			e += " " + fmt.Sprintf("%+.3fs", r.offset.Seconds())
		}
		if r.lost {
			e += " " + st.Sev(event.Critical).Render("LOST")
		}
		return e
	}
	all := make([]string, len(s.hosts.names))
	for i, n := range s.hosts.names {
		all[i] = entry(n)
	}
	if line := strings.Join(all, "  "); ansi.StringWidth(line) <= room {
		return line
	}
	// Not all fit: the lost ones first, then the others in order, as many
	// as leave room for "+N".
	order := slices.Clone(s.hosts.names)
	slices.SortStableFunc(order, func(a, b string) int {
		la, lb := s.hosts.by[a].lost, s.hosts.by[b].lost
		switch {
		case la == lb:
			return 0
		case la:
			return -1
		}
		return 1
	})
	var shown []string
	used := 0
	for i, n := range order {
		e := entry(n)
		w := ansi.StringWidth(e)
		if len(shown) > 0 {
			w += 2
		}
		reserve := 0
		if left := len(order) - i - 1; left > 0 {
			reserve = 2 + len(fmt.Sprintf("+%d", left))
		}
		if used+w+reserve > room {
			break
		}
		shown, used = append(shown, e), used+w
	}
	rest := st.Muted.Render(fmt.Sprintf("+%d", len(order)-len(shown)))
	if len(shown) == 0 {
		return clip(entry(order[0])+" "+rest, room)
	}
	return strings.Join(shown, "  ") + "  " + rest
}
