package ui

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/stakeout/stakeout/event"
)

// genericPane is drawn for probes that have no pane of their own yet: how
// many events came, the last one's kind and time, and its fields.
type genericPane struct {
	paneBase
	count    int
	lastKind string
	lastAt   time.Time
	lastBody string // sanitized, capped JSON of the last event
}

const genericBodyCap = 512

func newGenericPane(env paneEnv) Pane { return genericPane{paneBase: newPaneBase(env)} }

func (p genericPane) Apply(ev event.Event) Pane {
	p.count++
	p.lastKind, p.lastAt = ev.Kind, ev.Time
	var b []byte
	if ev.Body != nil {
		b, _ = json.Marshal(ev.Body)
	} else {
		b = ev.Raw
	}
	if len(b) > genericBodyCap {
		b = b[:genericBodyCap]
	}
	p.lastBody = event.Sanitize(string(b))
	return p
}

func (p genericPane) ContentHeight() int { return 3 }

func (p genericPane) View() string {
	st := p.env.st
	if p.count == 0 {
		return st.Muted.Render("no events yet")
	}
	head := fmt.Sprintf("%d events · last %s at %s", p.count,
		event.Sanitize(p.lastKind), p.lastAt.In(p.env.loc).Format("15:04:05"))
	out := clip(head, p.w)
	for _, l := range wrap(p.lastBody, p.w, p.h-1) {
		out += "\n" + st.Muted.Render(l)
	}
	return out
}
