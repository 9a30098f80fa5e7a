package redact

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/hostile"
)

// FuzzEvent decodes arbitrary bytes as an event from a file (with every
// probe's kind registered, through this package's imports), redacts it
// and writes it back: nothing may panic, what is written must be JSON the
// reader takes back, and the sanitized form of any string must be safe for
// a terminal.
func FuzzEvent(f *testing.F) {
	for _, s := range []string{
		`{"time":"2026-11-23T04:00:00Z","probe":"kmsg","kind":"kmsg","text":"login from 10.0.0.1 password=x on db-7","level":"info"}`,
		`{"time":"2026-11-23T04:00:00Z","probe":"packets","kind":"flow","id":1,"iface":"eth0","proto":"tcp","src":"[2001:db8::1]:80","dst":"10.0.0.2:5"}`,
		`{"time":"2026-11-23T04:00:00Z","probe":"packets","kind":"packets","iface":"eth0","start":"2026-11-23T04:00:00Z","dt_us":[0,1],"flow":[1,1],"flags":[2,16],"len":[60,60],"data":["AAE=","AgM="]}`,
		`{"time":"2026-11-23T04:00:00Z","probe":"note","kind":"note","author":"alice","text":"see /home/alice ?token=1"}`,
		`{"time":"2026-11-23T04:00:00Z","probe":"x","kind":"future","m":{"10.1.1.1":[{"a":"::ffff:1.2.3.4"}]}}`,
		`{"time":"2026-11-23T04:00:00Z","probe":"signals","kind":"signal","pid":1,"comm":"x\u001b]0;t\u0007","sender_comm":"\u009b"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev event.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			return
		}
		r := New()
		r.Learn(ev)
		red := r.Event(ev)
		out, err := red.AppendJSON(nil)
		if err != nil {
			t.Fatalf("redacted event does not encode: %v", err)
		}
		var back event.Event
		if err := json.Unmarshal(out, &back); err != nil || back.Kind != ev.Kind {
			t.Fatalf("redacted event does not decode: %v\n%s", err, out)
		}
		for _, s := range strings.Split(string(b), `"`) {
			if raw := hostile.Raw(event.Sanitize(s)); raw != "" {
				t.Fatalf("Sanitize(%q) left %s", s, raw)
			}
			r.String(s)
		}
	})
}
