package event

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"sync"
	"time"
)

// MaxNumber bounds every float a decoded event carries: a recording is
// untrusted, and 1.7e308 in one field makes sums and products infinite and
// conversions to integers wrap. No byte count, rate or duration stakeout
// records comes near it (an exabyte; 31 billion years), and twice it, or a
// thousand times it, is still a finite float.
const MaxNumber = 1e18

// Bound returns x within ±MaxNumber, and 0 for NaN.
func Bound(x float64) float64 {
	if x != x {
		return 0
	}
	return max(-MaxNumber, min(x, MaxNumber))
}

// SatInt64 converts x to an int64, saturating instead of wrapping (Go
// leaves out-of-range conversions to the platform: amd64 gives
// -9223372036854775808 for 1e20). NaN gives 0.
func SatInt64(x float64) int64 {
	switch {
	case x != x:
		return 0
	case x >= math.MaxInt64: // float64(MaxInt64) is 2^63, one past the range
		return math.MaxInt64
	case x <= -math.MaxInt64:
		return -math.MaxInt64
	}
	return int64(x)
}

// DurationOf converts seconds to a Duration, saturating at about ±292
// years instead of wrapping; NaN gives 0.
func DurationOf(seconds float64) time.Duration {
	return time.Duration(SatInt64(seconds * float64(time.Second)))
}

// Finite reports whether x is neither NaN nor infinite.
func Finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// AddCount sums two counters, stopping at math.MaxInt64 (the bound of a
// decoded number) instead of wrapping around to a small one.
func AddCount(a, b uint64) uint64 {
	if a > math.MaxInt64-min(b, math.MaxInt64) {
		return math.MaxInt64
	}
	return a + b
}

// BoundNumbers bounds a body's numbers as UnmarshalJSON does: floats to
// ±MaxNumber (NaN to 0), unsigned integers to math.MaxInt64, signed ones to
// at least -math.MaxInt64, and whatever the body's own BoundNumbers does.
// The engine applies it to what probes emit, so live and replay see the
// same bounded numbers.
func BoundNumbers(b Body) {
	if b == nil {
		return
	}
	boundNumbers(reflect.ValueOf(b))
	if bb, ok := b.(Bounder); ok {
		bb.BoundNumbers()
	}
}

// boundNumbers clamps, in place, every float in a decoded body to
// ±MaxNumber, every unsigned integer to math.MaxInt64 and every int or int64
// to at least -math.MaxInt64, so that whatever computes from a recording's
// numbers stays finite, converts to signed integers exactly and can negate
// them without wrapping. It walks exported fields, pointers, slices, arrays,
// maps and interfaces; types with none of these numbers are skipped by a
// cached check, so a packet batch costs a few map lookups. It reports
// whether it changed anything, and writes nothing otherwise.
func boundNumbers(v reflect.Value) (changed bool) {
	if !walkable(v.Type()) {
		return false
	}
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		if f := v.Float(); f != Bound(f) && v.CanSet() {
			v.SetFloat(Bound(f))
			return true
		}
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		if v.Uint() > math.MaxInt64 && v.CanSet() {
			v.SetUint(math.MaxInt64)
			return true
		}
	case reflect.Int, reflect.Int64:
		if v.Int() < -math.MaxInt64 && v.CanSet() {
			v.SetInt(-math.MaxInt64)
			return true
		}
	case reflect.Pointer:
		if !v.IsNil() {
			return boundNumbers(v.Elem())
		}
	case reflect.Interface:
		if v.IsNil() {
			return false
		}
		// What an interface holds (a finding's data read from a file: a
		// map, or a float in one) is not addressable: bound a copy and put
		// it back if it changed.
		c := reflect.New(v.Elem().Type()).Elem()
		c.Set(v.Elem())
		if boundNumbers(c) && v.CanSet() {
			v.Set(c)
			return true
		}
	case reflect.Slice, reflect.Array:
		if ns, ok := v.Interface().([]int64); ok { // a packet batch's column: no reflection per value
			for i, n := range ns {
				if n < -math.MaxInt64 {
					ns[i], changed = -math.MaxInt64, true
				}
			}
			return changed
		}
		for i := range v.Len() {
			changed = boundNumbers(v.Index(i)) || changed
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			e := reflect.New(it.Value().Type()).Elem()
			e.Set(it.Value())
			if boundNumbers(e) {
				v.SetMapIndex(it.Key(), e)
				changed = true
			}
		}
	case reflect.Struct:
		for _, i := range planOf(v.Type()).fields {
			changed = boundNumbers(v.Field(i)) || changed
		}
	}
	return changed
}

// A plan says, once per type, whether values of it need walking, and for a
// struct which of its fields do.
type plan struct {
	walk   bool
	fields []int // a struct's exported fields that are walkable
}

var plans sync.Map // reflect.Type → *plan

// walkable reports whether values of t can hold a float, a large unsigned
// integer, a signed one (which can be -2^63), a time (for MarshalFinite) or
// an interface (which can hold any).
func walkable(t reflect.Type) bool { return planOf(t).walk }

func planOf(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	p := &plan{}
	plans.Store(t, p) // a recursive type: not walkable while being looked at
	switch t.Kind() {
	case reflect.Float32, reflect.Float64, reflect.Uint, reflect.Uint64, reflect.Uintptr, reflect.Int, reflect.Int64, reflect.Interface:
		p.walk = true
	case reflect.Struct:
		var fields []int
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && walkable(f.Type) {
				fields = append(fields, i)
			}
		}
		p = &plan{walk: len(fields) > 0 || t == timeType, fields: fields}
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		p = &plan{walk: walkable(t.Elem())}
	}
	plans.Store(t, p)
	return p
}

// Bounder is a body whose numbers need more than the generic bound (a
// packet batch's time offsets): UnmarshalJSON calls BoundNumbers after
// decoding it.
type Bounder interface{ BoundNumbers() }

// MarshalFinite is json.Marshal that never fails on a number: a NaN or an
// infinity, which encoding/json refuses, is written as null, and a time
// past the years 0-9999 that JSON's RFC 3339 form can hold is written as
// the nearest it can. Values with none are written exactly as json.Marshal
// writes them; only when it refuses one is v rebuilt, field by field in the
// same order and under the same names, with null (or the bounded time) in
// its place.
func MarshalFinite(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err == nil {
		return b, nil
	}
	t, terr := finiteTree(reflect.ValueOf(v))
	if terr != nil {
		return nil, err
	}
	if b, terr = json.Marshal(t); terr != nil {
		return nil, err
	}
	return b, nil
}

// The times JSON's RFC 3339 form can hold.
var (
	minJSONTime = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	maxJSONTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

var timeType = reflect.TypeFor[time.Time]()

// MarshalIndentFinite is MarshalFinite with json.MarshalIndent's layout.
func MarshalIndentFinite(v any, prefix, indent string) ([]byte, error) {
	b, err := MarshalFinite(v)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, prefix, indent); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

var marshalerType = reflect.TypeFor[json.Marshaler]()

// finiteTree rebuilds v as values json.Marshal cannot refuse: non-finite
// floats become nil, structs become ordered objects. Parts that hold no
// float, and types that marshal themselves, are marshalled as they are.
func finiteTree(v reflect.Value) (any, error) {
	if !v.IsValid() {
		return nil, nil
	}
	t := v.Type()
	if t == timeType {
		return clampJSONTime(v.Interface().(time.Time)), nil
	}
	if !walkable(t) || t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) {
		if (t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface) && v.IsNil() {
			return nil, nil
		}
		// A type that marshals itself answers for its own numbers (an
		// Event does, through MarshalFinite).
		b, err := json.Marshal(v.Interface())
		return json.RawMessage(b), err
	}
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		if f := v.Float(); Finite(f) {
			return f, nil
		}
		return nil, nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, nil
		}
		return finiteTree(v.Elem())
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil, nil
		}
		return finiteList(v)
	case reflect.Map:
		if v.IsNil() {
			return nil, nil
		}
		return finiteMap(v)
	case reflect.Struct:
		var obj object
		if err := obj.addFields(v); err != nil {
			return nil, err
		}
		return obj, nil
	}
	b, err := json.Marshal(v.Interface())
	return json.RawMessage(b), err
}

// clampJSONTime keeps a time within the years JSON can write (see
// minJSONTime and maxJSONTime).
func clampJSONTime(tm time.Time) time.Time {
	if tm.Before(minJSONTime) {
		return minJSONTime
	} else if tm.After(maxJSONTime) {
		return maxJSONTime
	}
	return tm
}

// finiteList is finiteTree of each element of a slice or an array.
func finiteList(v reflect.Value) (any, error) {
	out := make([]any, v.Len())
	for i := range out {
		e, err := finiteTree(v.Index(i))
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// finiteMap is finiteTree of each value of a map, under its key's name.
// Keys are named as json.Marshal names them (strings, numbers,
// TextMarshalers): it is asked, one key at a time.
func finiteMap(v reflect.Value) (any, error) {
	out := make(map[string]any, v.Len())
	one := reflect.MakeMapWithSize(reflect.MapOf(v.Type().Key(), reflect.TypeFor[bool]()), 1)
	for it := v.MapRange(); it.Next(); {
		one.Clear()
		one.SetMapIndex(it.Key(), reflect.ValueOf(true))
		b, err := json.Marshal(one.Interface())
		if err != nil {
			return nil, err
		}
		var named map[string]bool
		if err := json.Unmarshal(b, &named); err != nil {
			return nil, err
		}
		e, err := finiteTree(it.Value())
		if err != nil {
			return nil, err
		}
		for name := range named {
			out[name] = e
		}
	}
	return out, nil
}

// object is a JSON object whose keys keep their order.
type object []member

type member struct {
	name  string
	value any
}

func (o object) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, m := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k, err := json.Marshal(m.name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

// addFields appends v's fields as encoding/json names them: the tag's name
// or the field's, "-" skipped, omitempty and omitzero honoured, and the
// fields of an untagged embedded struct in its place. (encoding/json's rule
// for two promoted fields of one name is not needed by stakeout's types:
// the first is kept.)
func (o *object) addFields(v reflect.Value) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fv := v.Field(i)
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv, ft = fv.Elem(), ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if err := o.addFields(fv); err != nil {
					return err
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if hasOpt(opts, "omitempty") && emptyValue(fv) || hasOpt(opts, "omitzero") && zeroValue(fv) {
			continue
		}
		e, err := finiteTree(fv)
		if err != nil {
			return err
		}
		if o.has(name) {
			continue
		}
		*o = append(*o, member{name, e})
	}
	return nil
}

func (o object) has(name string) bool {
	for _, m := range o {
		if m.name == name {
			return true
		}
	}
	return false
}

func hasOpt(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

// emptyValue is encoding/json's omitempty test.
func emptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// zeroValue is encoding/json's omitzero test: an IsZero method if the type
// has one, else the zero value.
func zeroValue(v reflect.Value) bool {
	if z, ok := v.Interface().(interface{ IsZero() bool }); ok {
		if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
			return true
		}
		return z.IsZero()
	}
	return v.IsZero()
}
