package event

// Releaser is a body whose memory goes back to its maker for reuse once
// everyone who reads the event is done with it (a live capture's packet
// batch). Release is called at most once per event, by whoever is last to
// see it; it must leave the body safe to read (empty, not another event's
// data) and may do nothing when the body is not its maker's to reuse.
type Releaser interface{ Release() }
