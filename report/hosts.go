package report

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// MaxHosts bounds the hosts a document tells apart: the hosts are what the
// user named (--ssh) or merged, but a file's events could name any number.
// Events of hosts past it are counted as the recording's span only.
const MaxHosts = 4096

// Host is one entry of the document's "hosts": its facts as its
// host_facts event (or, for the recording's own host, its header) gave
// them, its clock's offset from the session's as the last clock event
// estimated it (absent when none did: a recording made on that host, or
// merged from one), and its probes' summaries in a document of several
// hosts.
type Host struct {
	schema.HostFacts
	ClockOffset *time.Duration `json:"clock_offset_ns,omitempty"`
	ClockRTT    time.Duration  `json:"clock_rtt_ns,omitempty"`
	Summary     map[string]any `json:"summary,omitempty"`
	// SummaryText is Summary as lines, for the text forms.
	SummaryText map[string][]string `json:"-"`
}

// hostSet follows the hosts of the events a Builder sees.
type hostSet struct {
	seen  map[string]bool
	facts map[string]schema.HostFacts
	clock map[string]schema.Clock
}

// observe notes ev's host and what it says about hosts; false when ev is
// of a host past MaxHosts.
func (h *hostSet) observe(ev event.Event) bool {
	if !h.note(ev.Host) {
		return false
	}
	switch b := ev.Body.(type) {
	case *schema.HostFacts:
		if h.note(b.Host) {
			if h.facts == nil {
				h.facts = map[string]schema.HostFacts{}
			}
			h.facts[b.Host] = *b
		}
	case *schema.Clock:
		if h.note(b.Host) {
			if h.clock == nil {
				h.clock = map[string]schema.Clock{}
			}
			h.clock[b.Host] = *b
		}
	}
	return true
}

func (h *hostSet) note(host string) bool {
	if h.seen[host] {
		return true
	}
	if len(h.seen) >= MaxHosts {
		return false
	}
	if h.seen == nil {
		h.seen = map[string]bool{}
	}
	h.seen[host] = true
	return true
}

// multi says the events name some host: the document is of several
// hosts (or of one other than the recording's).
func (h *hostSet) multi() bool {
	return len(h.seen) > 1 || (len(h.seen) == 1 && !h.seen[""])
}

// list is the document's hosts, by name: the recording's own (own, its
// header's facts) when its events are there or nothing else is, then
// every host the events named.
func (h *hostSet) list(own schema.HostFacts, sums map[hostProbe]Summarizer, multi bool) []Host {
	var out []Host
	for name := range h.seen {
		if name == "" {
			continue
		}
		e := Host{HostFacts: schema.HostFacts{Host: name}}
		if f, ok := h.facts[name]; ok {
			e.HostFacts = f
		}
		if c, ok := h.clock[name]; ok {
			off := c.Offset
			e.ClockOffset, e.ClockRTT = &off, c.RTT
		}
		out = append(out, e)
	}
	if h.seen[""] || len(out) == 0 {
		out = append(out, Host{HostFacts: own})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	if !multi {
		return out
	}
	for i := range out {
		key := out[i].Host
		if key == own.Host && h.seen[""] {
			key = ""
		}
		for k, s := range sums {
			if k.host != key {
				continue
			}
			if out[i].Summary == nil {
				out[i].Summary, out[i].SummaryText = map[string]any{}, map[string][]string{}
			}
			out[i].Summary[k.probe] = s.Result()
			out[i].SummaryText[k.probe] = s.Lines()
		}
	}
	return out
}

// ownFacts reads the recording's own host's facts from the document's
// host (a sessions.Header, or any value with its JSON fields); its name
// is its hostname.
func ownFacts(host any) schema.HostFacts {
	var f schema.HostFacts
	if b, err := json.Marshal(host); err == nil {
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) == nil {
			delete(m, "host") // a header has none; a host_facts' is its own name
			if b, err = json.Marshal(m); err == nil {
				_ = json.Unmarshal(b, &f)
			}
		}
	}
	f.Host = f.Hostname
	return f
}
