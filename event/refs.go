package event

import "iter"

// Ref names one entity that some events announce and others refer to by a
// short id: a capture's flow is announced once by a flow event (its
// 5-tuple) and then named by id in every packet batch. Scope is what the
// id is unique within (the interface, for a flow).
type Ref struct {
	Scope string
	ID    uint64
}

// Referrer is a body that names announced entities: a packet batch names
// its flows. Refs yields each one it names, repeats included.
type Referrer interface {
	Refs() iter.Seq[Ref]
}

// Announcer is a body that announces one entity. Such state is only worth
// carrying along with a slice of a recording (an extract) where a copied
// Referrer names it: a flow no copied packet belongs to says nothing.
type Announcer interface {
	Announces() Ref
}
