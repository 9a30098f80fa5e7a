package handoff

import (
	"errors"
	"time"

	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/sessions"
)

// How a handoff reads its recording: a damaged tail kept as a note, and
// the iterators that rewrite events and track how far the reading got.

// damageOrErr keeps a damaged tail as a note in the report (everything
// before it was read) and passes any other error on.
func damageOrErr(err error, rep *Report) error {
	var d *sessions.Damage
	if errors.As(err, &d) {
		rep.Damage = d.Error()
		return nil
	}
	return err
}

// damageOf keeps the damage of r's files as the report's note, naming
// each damaged file when there are several.
func damageOf(r sessions.Recording, err error, rep *Report) error {
	if err = damageOrErr(err, rep); err == nil && len(r.Files()) > 1 && rep.Damage != "" {
		rep.Damage = sessions.Damaged(r)
	}
	return err
}

// transformed applies fn to every event an iterator yields.
func transformed(it engine.Iterator, fn func(event.Event) event.Event) engine.Iterator {
	if fn == nil {
		return it
	}
	return &transformIter{it, fn}
}

type transformIter struct {
	engine.Iterator
	fn func(event.Event) event.Event
}

func (t *transformIter) Next() (event.Event, bool) {
	ev, ok := t.Iterator.Next()
	if ok {
		ev = t.fn(ev)
	}
	return ev, ok
}

// tracked tells track the time of each event it passes on.
func tracked(it engine.Iterator, track func(time.Time)) engine.Iterator {
	if track == nil {
		return it
	}
	return &trackIter{it, track}
}

type trackIter struct {
	engine.Iterator
	track func(time.Time)
}

func (t *trackIter) Next() (event.Event, bool) {
	ev, ok := t.Iterator.Next()
	if ok {
		t.track(ev.Time)
	}
	return ev, ok
}
