// Package redact makes a recording fit to hand to someone outside: it
// replaces IP and MAC addresses, host names and user names with stable
// pseudonyms, and blanks values that look like secrets, in every string of
// every event and of the header.
//
// Pseudonyms stay parseable, so a redacted recording still replays, its
// flows still group and its pcap export is still a valid capture:
//
//	IPv4   → 198.18.0.0/15 (RFC 2544 benchmarking): 198.18.0.1, 198.18.0.2, …
//	IPv6   → 2001:db8::/32 (RFC 3849 documentation): 2001:db8::1, …
//	MAC    → 02:00:00:xx:xx:xx (locally administered)
//	hosts  → host-1, host-2, …   users → user-1, user-2, …
//	secret values (password=, token=, Authorization:, URL queries, …) → [redacted]
//
// Loopback, unspecified, multicast and broadcast addresses are kept: they
// name no one, and a VRRP or mDNS flow without them makes no sense.
//
// One Redactor gives one address the same pseudonym everywhere it is used,
// so use one per output file. Pseudonyms are handed out in order of first
// sight, so they say nothing about the original; past a cap (to keep memory
// bounded) they come from a keyed hash instead, with a key drawn at random
// per Redactor.
package redact

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/sessions"
)

// Redacted replaces a secret value.
const Redacted = "[redacted]"

// maxMapped bounds each pseudonym table (addresses, MACs, names). Past it,
// pseudonyms are hashed, which needs no memory.
const maxMapped = 1 << 16

// maxNames bounds the host and user names searched for in every string.
const maxNames = 1024

// Redactor rewrites events and headers. It is safe for concurrent use.
type Redactor struct {
	mu    sync.Mutex
	key   [16]byte
	v4    map[netip.Addr]netip.Addr
	v6    map[netip.Addr]netip.Addr
	macs  map[string]string
	hosts map[string]string // lower-case name → host-N
	users map[string]string // lower-case name → user-N
	// scan is the declared host and user names in the order learned, and
	// names the same longest first, for the text scan (nil when it must be
	// rebuilt). Names found by pattern (DNS names, e-mail addresses) are
	// matched by that pattern instead.
	declared map[string]bool
	scan     []nameRule
	names    []nameRule
	// changed is set when redacting an event rewrote anything.
	changed bool
}

type nameRule struct{ lower, pseudonym string }

// New returns a Redactor that knows no names yet: call Learn, LearnHeader
// or LearnLocal (or let Header learn the header's hostname).
func New() *Redactor {
	r := &Redactor{
		v4: map[netip.Addr]netip.Addr{}, v6: map[netip.Addr]netip.Addr{},
		macs: map[string]string{}, hosts: map[string]string{}, users: map[string]string{},
		declared: map[string]bool{},
	}
	rand.Read(r.key[:])
	return r
}

// envelope fields are never rewritten: they are the event's identity.
// encoding/json matches keys case-insensitively, so "Kind" in a crafted
// file is the kind too.
func envelope(k string) bool {
	return len(k) <= 5 && (strings.EqualFold(k, "time") || strings.EqualFold(k, "probe") || strings.EqualFold(k, "kind"))
}

// enumKeys hold values from a small fixed vocabulary (or times) that
// stakeout itself wrote; rewriting them could only break readers.
var enumKeys = map[string]bool{
	"finding": true, "severity": true, "signal": true, "code": true, "level": true,
	"facility": true, "proto": true, "state": true, "status": true, "how": true,
	"fstype": true, "result": true, "when": true, "start": true,
	"started": true, "boot_time": true, "format_version": true, "stakeout_version": true,
}

// userKeys name a person: their value is learned as a user name.
var userKeys = map[string]bool{"author": true, "user": true, "username": true, "login": true, "owner": true}

// Event returns ev with every string of its body redacted and packet
// payload bytes dropped. The body goes through its flat JSON form, so
// fields this package has never heard of (a newer probe's) are covered too.
// The result has a decoded Body where this build knows the kind.
func (r *Redactor) Event(ev event.Event) event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, err := ev.AppendJSON(nil)
	if err == nil {
		r.changed = false
		if out, ok := r.event(b, ev.Raw == nil); ok {
			if !r.changed {
				// Nothing to hide (most packet batches, iostat samples):
				// the event as it was, with no decoding back.
				return ev
			}
			return out
		}
	}
	// Nothing is safer than an event whose body could not be walked:
	// keep only its identity.
	bare := event.Event{Time: ev.Time, Probe: ev.Probe, Kind: ev.Kind}
	bare.Raw, _ = bare.AppendJSON(nil)
	return bare
}

func (r *Redactor) event(b []byte, live bool) (event.Event, bool) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil || top == nil {
		return event.Event{}, false
	}
	var kind string
	json.Unmarshal(top["kind"], &kind)
	if _, ok := top["data"]; ok && kind == "packets" {
		// Packet bytes hold addresses and payloads in binary; the
		// header records (flow, flags, len) are enough to replay and export.
		delete(top, "data")
		r.changed = true
	}
	obj := make(map[string]any, len(top))
	for k, raw := range top {
		// A member with no string in it (a packet batch's number
		// columns) passes through as it is: decoding thousands of
		// numbers only to write them back would cost more than the rest.
		if envelope(k) || bytes.IndexByte(raw, '"') < 0 {
			obj[k] = raw
			continue
		}
		v, ok := decodeValue(raw)
		if !ok {
			return event.Event{}, false
		}
		obj[k] = v
	}
	r.learnObject(obj)
	r.rebuildNames()
	for k, v := range obj {
		if !envelope(k) {
			r.redactMember(obj, k, v)
		}
	}
	if !r.changed {
		return event.Event{}, true
	}
	out, ok := encodeObject(obj, []string{"time", "probe", "kind"})
	if !ok {
		return event.Event{}, false
	}
	var ev event.Event
	if err := ev.UnmarshalJSON(out); err != nil && ev.Kind == "" {
		return event.Event{}, false
	}
	if live && ev.Body != nil {
		ev.Raw = nil // as made live: the recorder encodes the body
	}
	return ev, true
}

// Header returns h with its hostname, command line and every other string
// redacted. The hostname is learned first, so it is also replaced wherever
// it turns up in events.
func (r *Redactor) Header(h sessions.Header) sessions.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.learnHostLocked(h.Hostname)
	b, err := json.Marshal(h)
	if err != nil {
		return sessions.Header{FormatVersion: h.FormatVersion, Started: h.Started, Interval: h.Interval}
	}
	obj, ok := decodeObject(b)
	if !ok {
		return sessions.Header{FormatVersion: h.FormatVersion, Started: h.Started, Interval: h.Interval}
	}
	r.learnObject(obj)
	r.rebuildNames()
	for k, v := range obj {
		r.redactMember(obj, k, v)
	}
	out, ok := encodeObject(obj, nil)
	var red sessions.Header
	if !ok || json.Unmarshal(out, &red) != nil {
		return sessions.Header{FormatVersion: h.FormatVersion, Started: h.Started, Interval: h.Interval}
	}
	return red
}

// String redacts one free-text string, e.g. a file path printed in a
// report or a note typed in a terminal.
func (r *Redactor) String(s string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.learnText(s)
	r.rebuildNames()
	return r.text(s)
}

// Learn collects the names ev reveals (note authors, /home/NAME paths,
// e-mail addresses) without rewriting anything. Reading a whole file with
// Learn before redacting it means a name is replaced even where it
// appears before the event that gives it away.
func (r *Redactor) Learn(ev event.Event) {
	b, err := ev.AppendJSON(nil)
	if err != nil {
		return
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, raw := range top {
		if envelope(k) || bytes.IndexByte(raw, '"') < 0 {
			continue // nothing to learn in numbers
		}
		if v, ok := decodeValue(raw); ok {
			r.learnObject(map[string]any{k: v})
		}
	}
}

// LearnHeader learns the header's hostname.
func (r *Redactor) LearnHeader(h sessions.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.learnHostLocked(h.Hostname)
}

// LearnHost adds a host name to replace wherever it appears.
func (r *Redactor) LearnHost(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.learnHostLocked(name)
}

// LearnUser adds a user name to replace wherever it appears.
func (r *Redactor) LearnUser(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.learnUserLocked(name)
}

// redactMember rewrites obj[k] (and the key itself, which a newer kind
// might use for a name or address).
func (r *Redactor) redactMember(obj map[string]any, k string, v any) {
	nv := r.value(k, v)
	nk := k
	if !envelope(k) {
		nk = r.text(k)
	}
	if nk != k {
		delete(obj, k)
		r.changed = true
	}
	obj[nk] = nv
}

func (r *Redactor) value(key string, v any) any {
	switch x := v.(type) {
	case string:
		if enumKeys[key] {
			return x
		}
		red := r.text(x)
		if red != x {
			r.changed = true
		}
		return red
	case []any:
		r.argv(x)
		for i, e := range x {
			x[i] = r.value(key, e)
		}
		return x
	case map[string]any:
		for k, e := range x {
			r.redactMember(x, k, e)
		}
		return x
	}
	return v // numbers, booleans, null, and raw members holding no string
}

// learnObject walks a decoded object for names to learn.
func (r *Redactor) learnObject(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && userKeys[k] {
				r.learnUserLocked(s)
			}
			if k == "hostname" {
				if s, ok := e.(string); ok {
					r.learnHostLocked(s)
				}
			}
			r.learnObject(e)
		}
	case []any:
		for _, e := range x {
			r.learnObject(e)
		}
	case string:
		r.learnText(x)
	}
}

func decodeValue(b []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // numbers pass through exactly
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

func decodeObject(b []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // numbers pass through exactly
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, false
	}
	return obj, true
}

// encodeObject writes obj with the keys in first (if present) leading and
// the rest sorted, without HTML escaping.
func encodeObject(obj map[string]any, first []string) ([]byte, bool) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	keys := make([]string, 0, len(obj))
	lead := map[string]bool{}
	for _, k := range first {
		if _, ok := obj[k]; ok {
			keys = append(keys, k)
			lead[k] = true
		}
	}
	rest := make([]string, 0, len(obj))
	for k := range obj {
		if !lead[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	keys = append(keys, rest...)
	out := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		buf.Reset()
		if enc.Encode(k) != nil {
			return nil, false
		}
		out = append(out, bytes.TrimSpace(buf.Bytes())...)
		out = append(out, ':')
		buf.Reset()
		if enc.Encode(obj[k]) != nil {
			return nil, false
		}
		out = append(out, bytes.TrimSpace(buf.Bytes())...)
	}
	return append(out, '}'), true
}

// rebuildNames refreshes the longest-first list of names after learning.
func (r *Redactor) rebuildNames() {
	if r.names != nil || len(r.scan) == 0 {
		return
	}
	names := append([]nameRule(nil), r.scan...)
	sort.SliceStable(names, func(i, j int) bool { return len(names[i].lower) > len(names[j].lower) })
	r.names = names
}

// ipv4Base and ipv6Base are where pseudonyms start.
var (
	ipv4Base = netip.MustParseAddr("198.18.0.0")
	ipv6Base = netip.MustParseAddr("2001:db8::")
)

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
