package schema

import "github.com/stakeout/stakeout/event"

// Summarizer condenses one probe's events into a bounded summary.
type Summarizer interface {
	Observe(ev event.Event)
	Result() any     // JSON-able, under "summary": {"<probe>": …}
	Lines() []string // the same, for text and Markdown
}
