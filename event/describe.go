package event

import "reflect"

// Describer is a body that says in one line, in words, what it holds: the
// handoff report shows it as an evidence row. The text is raw (strings
// from the recording as they are): whoever shows it escapes it. Implement
// it with a value receiver, so the *T a file decodes to and a T made live
// both describe themselves.
type Describer interface {
	Describe() string
}

// BodyAs returns ev's body as the interface I (Describer, Plotter, …) if
// it implements it. A nil pointer body implements nothing: its value
// methods would panic.
func BodyAs[I any](ev Event) (I, bool) {
	i, ok := ev.Body.(I)
	if !ok || nilPointer(ev.Body) {
		var zero I
		return zero, false
	}
	return i, true
}

func nilPointer(b Body) bool {
	v := reflect.ValueOf(b)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
