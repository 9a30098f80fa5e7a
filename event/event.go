// Package event is stakeout's spine: every probe turns what it sees into
// Events, and everything downstream (recorder, detectors, UI, reports) only
// ever sees Events. Live and replay are therefore the same program.
//
// An Event's JSON form is the public contract used by `stakeout events` and
// inside .stk files:
//
//	{"time": RFC3339Nano, "host": "r1", "host_time": RFC3339Nano, "probe": "iostat", "kind": "io", ...body fields}
//
// "host" and "host_time" are there only for an event from another host
// than the one that made the recording (see Event.Host). The body's fields
// sit beside the envelope's, not under a sub-key. A body must therefore not
// use the field names "time", "host", "host_time", "probe" or "kind".
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Body is the typed payload of an event. Each kind registers its Go type
// with Register so that files can be decoded back into it.
type Body interface {
	// EventKind is the "kind" field, unique across all probes.
	EventKind() string
}

// Event is one timestamped observation made by one probe.
type Event struct {
	Time time.Time
	// Host names the host the event was seen on when that is not the host
	// that made the recording (whose header names it): the ssh target as
	// the user typed it (`r1` for `--ssh root@r1:2222`), or the hostname of
	// a recording merged with others. "" is the recording's own host.
	Host string
	// HostTime is the host's own clock reading, kept when a clock offset
	// was applied: Time is then the corrected time on the session's
	// timeline. Zero when no correction was made.
	HostTime time.Time
	Probe    string
	Kind     string
	// Body is the decoded payload, or nil when this build does not know Kind
	// (a recording made by a newer stakeout). Raw then still holds the fields.
	Body Body
	// Raw is the whole JSON object as read from a file; nil for events made live.
	Raw json.RawMessage
	// raw is the envelope Raw was read with: AppendJSON writes Raw as it
	// is only while Time, Host and HostTime still say what it says.
	raw rawEnvelope
}

type rawEnvelope struct {
	time, hostTime time.Time
	host           string
	read           bool // Raw was decoded here, not set by the caller
}

// New builds an event whose Kind comes from the body.
func New(t time.Time, probe string, b Body) Event {
	return Event{Time: t, Probe: probe, Kind: b.EventKind(), Body: b}
}

var (
	regMu    sync.RWMutex
	registry = map[string]kindInfo{}
)

type kindInfo struct {
	newBody func() Body
	traits  Traits
}

// Traits say, once and where a kind is registered, how the rest of
// stakeout treats its events. The zero value is an ordinary sample of
// state, as is every kind this build does not know.
type Traits struct {
	// Control kinds (findings, probe statuses, recorder events, notes)
	// must reach the screen: back-pressure and a frozen view drop
	// samples, never these.
	Control bool
	// Occurrence kinds report something happening (a kernel line, a
	// signal, a note) rather than a state, so the last one before an
	// extract's window says nothing about the window and is not carried
	// into it. Every other kind is state.
	Occurrence bool
	// Entity, for a state kind with one state per thing (a traced process,
	// a capturing interface), names the thing a body is about, so an
	// extract carries the last state of each, not only the last of the
	// kind. nil: one state per probe and kind.
	Entity func(Body) string
}

// Register makes kind decodable. newBody returns a pointer to a zero body.
// traits, at most one, says how the kind is treated (see Traits).
// It panics on a duplicate kind: kinds are a public contract and must be unique.
func Register(kind string, newBody func() Body, traits ...Traits) {
	if len(traits) > 1 {
		panic("event: more than one Traits for kind " + kind)
	}
	info := kindInfo{newBody: newBody}
	if len(traits) == 1 {
		info.traits = traits[0]
	}
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[kind]; dup {
		panic("event: kind registered twice: " + kind)
	}
	registry[kind] = info
}

// Known reports whether kind is registered in this build.
func Known(kind string) bool {
	regMu.RLock()
	defer regMu.RUnlock()
	_, ok := registry[kind]
	return ok
}

// TraitsOf returns the traits kind was registered with; a kind this build
// does not know has none.
func TraitsOf(kind string) Traits {
	regMu.RLock()
	defer regMu.RUnlock()
	return registry[kind].traits
}

// IsControl reports whether events of kind must never be dropped on the
// way to the screen (see Traits.Control).
func IsControl(kind string) bool { return TraitsOf(kind).Control }

// Kinds lists the kinds registered in this build, sorted.
func Kinds() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type envelope struct {
	Time     time.Time `json:"time"`
	Host     string    `json:"host,omitempty"`
	HostTime time.Time `json:"host_time,omitzero"`
	Probe    string    `json:"probe"`
	Kind     string    `json:"kind"`
}

func (e *Event) envelope() envelope {
	ht := e.HostTime
	if !ht.IsZero() {
		ht = ht.UTC()
	}
	return envelope{e.Time.UTC(), e.Host, ht, e.Probe, e.Kind}
}

// rawStale reports whether Time, Host or HostTime was changed since Raw
// was read, so Raw no longer says them.
func (e *Event) rawStale() bool {
	return e.raw.read && (e.Host != e.raw.host || !e.Time.Equal(e.raw.time) || !e.HostTime.Equal(e.raw.hostTime))
}

// restamp rewrites Raw's envelope members to what e says now. It is the
// rare path (an event of a kind this build does not know, moved in time
// or given a host after it was read), so it goes through a map; the
// members come out sorted, which readers accept.
func (e *Event) restamp(dst []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(e.Raw, &m); err != nil {
		return dst, fmt.Errorf("event %s: %w", e.Kind, err)
	}
	delete(m, "host")
	delete(m, "host_time")
	env := e.envelope()
	m["time"], _ = json.Marshal(env.Time)
	if env.Host != "" {
		m["host"], _ = json.Marshal(env.Host)
	}
	if !env.HostTime.IsZero() {
		m["host_time"], _ = json.Marshal(env.HostTime)
	}
	b, err := json.Marshal(m)
	return append(dst, b...), err
}

// ErrMalformed wraps every decoding failure of a single event.
var ErrMalformed = errors.New("malformed event")

// JSONAppender is for bodies on a hot path (a packet batch holds thousands
// of numbers): AppendJSON appends the body's JSON object to dst without
// reflection. It must produce exactly what encoding/json would.
type JSONAppender interface {
	AppendJSON(dst []byte) []byte
}

// MarshalJSON writes the flat public form. Events read from a file whose kind
// is unknown are written back unchanged from Raw. A NaN or infinite number
// in the body is written as null (MarshalFinite), never an error.
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil) }

// AppendJSON appends the flat public form to dst. The recorder calls it
// directly: going through json.Marshal would re-scan every byte to validate it.
func (e Event) AppendJSON(dst []byte) ([]byte, error) {
	if e.Body == nil {
		if len(e.Raw) > 0 {
			if e.rawStale() {
				return e.restamp(dst)
			}
			return append(dst, e.Raw...), nil
		}
		head, err := MarshalFinite(e.envelope())
		return append(dst, head...), err
	}
	head, err := MarshalFinite(e.envelope())
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, head[:len(head)-1]...)
	var body []byte
	if ap, ok := e.Body.(JSONAppender); ok {
		mark := len(dst)
		dst = append(dst, ',')
		dst = ap.AppendJSON(dst)
		body = dst[mark+1:]
		if len(body) < 2 || body[0] != '{' {
			return dst[:start], fmt.Errorf("event %s: body is not a JSON object", e.Kind)
		}
		if len(body) == 2 { // "{}": drop the comma and the braces
			return append(dst[:mark], '}'), nil
		}
		// Splice: `,{"a":1}` becomes `,"a":1}`.
		copy(dst[mark+1:], dst[mark+2:])
		return dst[:len(dst)-1], nil
	}
	body, err = MarshalFinite(e.Body)
	if err != nil {
		return dst[:start], fmt.Errorf("event %s: %w", e.Kind, err)
	}
	body = bytes.TrimSpace(body)
	if len(body) < 2 || body[0] != '{' {
		return dst[:start], fmt.Errorf("event %s: body is not a JSON object", e.Kind)
	}
	if len(body) == 2 { // "{}"
		return append(dst, '}'), nil
	}
	dst = append(dst, ',')
	return append(dst, body[1:]...), nil
}

// UnmarshalEnvelope decodes only the flat form's envelope: Time, Probe and
// Kind, with Raw keeping the whole object and Body nil, as for a kind this
// build does not know. It is for a reader that wants the fields as JSON
// (redaction learning names), at about a third of the cost of decoding a
// packet batch's columns.
func (e *Event) UnmarshalEnvelope(b []byte) error {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if env.Kind == "" {
		return fmt.Errorf("%w: no kind", ErrMalformed)
	}
	*e = Event{Time: env.Time, Host: env.Host, HostTime: env.HostTime, Probe: env.Probe, Kind: env.Kind, Raw: append(json.RawMessage(nil), b...)}
	e.raw = rawEnvelope{time: env.Time, hostTime: env.HostTime, host: env.Host, read: true}
	return nil
}

// HostCarrier is a body that names the host it is about in a Go field of
// its own but not in its JSON, where the envelope's "host" says it:
// decoding hands it the event's Host, so a body read back from a file
// says what it said live.
type HostCarrier interface {
	SetHost(host string)
}

// FlatDecoder is for bodies read by the million (a packet batch): it
// decodes the body's members of an event's flat form, as the writer put
// them, without encoding/json's two passes and reflection. members is what
// follows the envelope's "kind" member: the body's members, each after a
// comma, then the closing brace. It must either give exactly what
// json.Unmarshal would and return true, or return false for anything it
// does not handle (other spacing, order or escapes, bad input), and then
// the body is decoded by json.Unmarshal.
type FlatDecoder interface {
	DecodeFlat(members []byte) bool
}

// UnmarshalJSON decodes the flat form. An unknown kind is not an error: Body
// stays nil and Raw keeps the fields, so readers can skip it. A file is
// untrusted, so the body's floats are bounded to ±MaxNumber and its unsigned
// integers to math.MaxInt64 (Raw keeps what the file said).
func (e *Event) UnmarshalJSON(b []byte) error {
	if e.decodeFlat(b) {
		return nil
	}
	if err := e.UnmarshalEnvelope(b); err != nil {
		return err
	}
	regMu.RLock()
	mk := registry[e.Kind].newBody
	regMu.RUnlock()
	if mk == nil {
		return nil
	}
	body := mk()
	if err := json.Unmarshal(b, body); err != nil {
		return fmt.Errorf("%w: kind %s: %v", ErrMalformed, e.Kind, err)
	}
	BoundNumbers(body)
	if hc, ok := body.(HostCarrier); ok {
		hc.SetHost(e.Host)
	}
	e.Body = body
	return nil
}

// decodeFlat is UnmarshalJSON for an event whose body is a FlatDecoder,
// written as the recorder writes it: {"time":"…","probe":"…","kind":"…"
// then the body's members. It reports false, having set nothing, for
// anything else; UnmarshalJSON then takes the general path.
func (e *Event) decodeFlat(b []byte) bool {
	rest, ok := bytes.CutPrefix(b, []byte(`{"time":`))
	if !ok {
		return false
	}
	ts, rest, ok := flatString(rest)
	if !ok {
		return false
	}
	var t, ht time.Time
	if t.UnmarshalJSON(ts) != nil {
		return false
	}
	var host []byte
	if h, r, ok := flatMember(rest, `,"host":`); ok {
		host, rest = h, r
	}
	if r, ok := bytes.CutPrefix(rest, []byte(`,"host_time":`)); ok {
		var q []byte
		if q, rest, ok = flatString(r); !ok || ht.UnmarshalJSON(q) != nil {
			return false
		}
	}
	probe, rest, ok := flatMember(rest, `,"probe":`)
	if !ok {
		return false
	}
	kind, rest, ok := flatMember(rest, `,"kind":`)
	if !ok || len(kind) == 0 {
		return false
	}
	regMu.RLock()
	mk := registry[string(kind)].newBody
	regMu.RUnlock()
	if mk == nil {
		return false
	}
	body := mk()
	fd, ok := body.(FlatDecoder)
	if !ok || !fd.DecodeFlat(rest) {
		return false
	}
	BoundNumbers(body)
	*e = Event{Time: t, Host: string(host), HostTime: ht, Probe: string(probe), Kind: string(kind), Body: body, Raw: append(json.RawMessage(nil), b...)}
	e.raw = rawEnvelope{time: t, hostTime: ht, host: string(host), read: true}
	return true
}

// flatMember reads `name"value"` at the start of b: a string member whose
// value is plain printable ASCII (no escapes), returned without its quotes.
func flatMember(b []byte, name string) (value, rest []byte, ok bool) {
	rest, ok = bytes.CutPrefix(b, []byte(name))
	if !ok {
		return nil, nil, false
	}
	q, rest, ok := flatString(rest)
	if !ok {
		return nil, nil, false
	}
	return q[1 : len(q)-1], rest, true
}

// flatString splits a JSON string of plain printable ASCII, quotes
// included, off the start of b.
func flatString(b []byte) (q, rest []byte, ok bool) {
	if len(b) < 2 || b[0] != '"' {
		return nil, nil, false
	}
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return b[:i+1], b[i+1:], true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, nil, false
		}
	}
	return nil, nil, false
}
