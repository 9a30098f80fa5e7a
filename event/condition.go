package event

import "time"

// Condition is one condition's finding events folded together: what the
// findings strip, a report and a handoff show once, as "×N, last at T".
// A detector raises a condition (State ""), may update it, and may clear
// it; the same Key raised again after a clear is a new Condition.
type Condition struct {
	First  Event    // the event that raised it, or the first one seen of it
	Last   Event    // its latest event
	Worst  Severity // the highest severity it reached
	Events int      // finding events folded in
}

// NewCondition starts a condition at a finding event (usually its raise).
func NewCondition(ev Event) *Condition {
	f, _ := As[Finding](ev)
	return &Condition{First: ev, Last: ev, Worst: f.Severity, Events: 1}
}

// Add folds a later event of the same condition in.
func (c *Condition) Add(ev Event) {
	f, _ := As[Finding](ev)
	c.Last = ev
	c.Events++
	if f.Severity > c.Worst {
		c.Worst = f.Severity
	}
}

// Continues says whether f belongs to the open condition of its key (an
// update or a clear) rather than starting one (a raise, or a finding
// without a key).
func (f *Finding) Continues() bool { return f.Key != "" && f.State != "" }

// Finding is the latest finding of the condition: its summary and data.
func (c *Condition) Finding() *Finding {
	f, _ := As[Finding](c.Last)
	return f
}

// Key is the condition's key ("" for a finding that has none, such as one
// recorded by an older stakeout; each of those is its own condition).
func (c *Condition) Key() string { return c.Finding().Key }

// Cleared says the detector saw the condition end.
func (c *Condition) Cleared() bool { return c.Finding().State == FindingCleared }

// Since is when the condition was raised: its raising event's time, or the
// Since its later events carry when the raise came before what was read.
func (c *Condition) Since() time.Time {
	if f, ok := As[Finding](c.First); ok && f.State != "" && !f.Since.IsZero() {
		return f.Since
	}
	return c.First.Time
}

// Count is how many times the condition was seen (×N): the detector's count
// on its latest event. Updates and a clear are not sightings of their own
// (a raise and its clear are ×1), so the events folded do not count.
func (c *Condition) Count() int { return max(c.Finding().Count, 1) }

// Event is the condition as one finding event, as a report lists it: the
// latest event's time, probe, summary and data, the worst severity it
// reached, its key, the latest state, when it was raised (since) and how
// many times it was seen (count).
func (c *Condition) Event() Event {
	f := *c.Finding()
	f.Severity = c.Worst
	f.Since = c.Since().UTC()
	f.Count = c.Count()
	ev := New(c.Last.Time, c.Last.Probe, &f)
	ev.Host, ev.HostTime = c.Last.Host, c.Last.HostTime
	return ev
}

// Conditions folds finding events, in time order, into conditions, each
// on its host (Event.Host). A raise
// (State "") or a finding without a key starts a new condition; an update or
// a clear joins the open condition of its key, or starts one when none is
// open (what was read began while the condition lasted). A clear closes it.
// The zero value is ready to use.
type Conditions struct {
	// Max bounds the conditions kept (0: no bound); later new conditions are
	// counted in Omitted and their updates ignored.
	Max     int
	Omitted int
	list    []*Condition
	open    map[string]*Condition
}

// Add folds ev in. It returns the condition ev belongs to and whether ev
// started it; nil when ev is not a finding or its condition was omitted.
func (s *Conditions) Add(ev Event) (c *Condition, started bool) {
	f, ok := As[Finding](ev)
	if !ok {
		return nil, false
	}
	// A key names a condition on its host: two hosts' detectors raise the
	// same key for the same-named disk or flow.
	key := ev.Host + "\x00" + f.Key
	if f.Continues() {
		if c = s.open[key]; c != nil {
			c.Add(ev)
			if f.State == FindingCleared {
				delete(s.open, key)
			}
			return c, false
		}
	}
	if s.Max > 0 && len(s.list) >= s.Max {
		if f.State == "" || f.Key == "" {
			s.Omitted++
		}
		return nil, false
	}
	c = NewCondition(ev)
	s.list = append(s.list, c)
	if f.Key != "" {
		if s.open == nil {
			s.open = map[string]*Condition{}
		}
		if f.State == FindingCleared {
			delete(s.open, key)
		} else {
			s.open[key] = c // a raise of an open key starts over
		}
	}
	return c, true
}

// List returns the conditions in the order they started.
func (s *Conditions) List() []*Condition { return s.list }

// Len is the number of conditions kept.
func (s *Conditions) Len() int { return len(s.list) }

// CompareConditions orders conditions worst first, then by when they were
// raised, earliest first: the order of a report's findings.
func CompareConditions(a, b *Condition) int {
	if a.Worst != b.Worst {
		if a.Worst > b.Worst {
			return -1
		}
		return 1
	}
	return a.Since().Compare(b.Since())
}
