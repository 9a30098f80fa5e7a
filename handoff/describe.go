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
)

// maxDetail bounds an evidence cell, so one huge event cannot swamp the report.
const maxDetail = 240

// describe says in one line, in words, what an event holds, for the
// generic evidence: a kind that describes itself (event.Describer) in its
// own words, the kinds every probe shares as bookkeepingLine says, and any
// other (a newer build's) as its fields in key=value pairs, never JSON.
// The strings are raw (from the file); the renderers escape them.
func describe(ev event.Event) string {
	var s string
	if d, ok := event.BodyAs[event.Describer](ev); ok {
		s = d.Describe()
	} else if !bookkeepingLine(ev, &s) {
		s = keyValues(ev)
	}
	return clip(s, maxDetail)
}

// bookkeepingLine is the kinds every probe shares: findings, notes, a
// probe's status and the recorder's state.
func bookkeepingLine(ev event.Event, out *string) bool {
	if f, ok := event.As[event.Finding](ev); ok {
		*out = strings.ToUpper(f.Severity.String()) + " " + f.Finding
		if f.State != "" {
			*out += " (" + f.State + ")"
		}
		*out += ": " + f.Summary
		return true
	}
	if n, ok := event.As[event.Note](ev); ok {
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
var fmtNum = event.HumanNumber

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
