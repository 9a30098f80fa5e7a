package packet

import (
	"iter"

	"github.com/stakeout/stakeout/event"
)

// A flow event announces a flow and a packet batch names flows by id, per
// interface: event.Announcer and event.Referrer let sessions.Extract carry
// the announcements of the flows its window's packets belong to without
// knowing about packets.

// Announces is the flow f announces (event.Announcer).
func (f FlowInfo) Announces() event.Ref { return event.Ref{Scope: f.Iface, ID: uint64(f.ID)} }

// Refs yields the flow of each packet in the batch (event.Referrer). A
// value receiver, like FlowInfo's, so a body held by value qualifies too.
func (b PacketBatch) Refs() iter.Seq[event.Ref] {
	return func(yield func(event.Ref) bool) {
		for _, id := range b.Flow[:b.N()] {
			if !yield(event.Ref{Scope: b.Iface, ID: uint64(id)}) {
				return
			}
		}
	}
}
