package event

import (
	"bytes"
	"encoding/json"
	"sync"
)

// A finding's data is whatever Go value its detector made, a struct
// value of the detector's own type. A file holds it as JSON, so it comes
// back as that type only if the type is registered for the finding's name
// (RegisterFindingData, next to where a detector defines it), and only if
// the type can say everything the file said: data that does not fit (an
// older or newer stakeout's fields, a damaged or hand-made file) is read
// as the generic value encoding/json makes (a map), never an error.

var (
	dataMu   sync.RWMutex
	dataType = map[string]func(raw []byte) (any, bool){}
)

// RegisterFindingData makes the data of findings named name read back from
// a file as a T value, what the detector puts in Finding.Data live, so a
// consumer's type assertion holds for both. It panics on a duplicate name,
// as Register does on a duplicate kind.
func RegisterFindingData[T any](name string) {
	dataMu.Lock()
	defer dataMu.Unlock()
	if _, dup := dataType[name]; dup {
		panic("event: finding data registered twice: " + name)
	}
	dataType[name] = decodeData[T]
}

// FindingDataKnown reports whether findings named name have a registered
// data type in this build.
func FindingDataKnown(name string) bool {
	dataMu.RLock()
	defer dataMu.RUnlock()
	_, ok := dataType[name]
	return ok
}

// decodeData reads raw as a T when T holds all of it: decoded without
// unknown fields, it must write back as the same JSON (so no field was
// missing, misspelt in case, repeated or null where T has a number). A
// detector's data, written by MarshalFinite, always does.
func decodeData[T any](raw []byte) (any, bool) {
	var v T
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if dec.Decode(&v) != nil {
		return nil, false
	}
	back, err := MarshalFinite(v)
	if err != nil {
		return nil, false
	}
	var want bytes.Buffer
	if json.Compact(&want, raw) != nil || !bytes.Equal(want.Bytes(), back) {
		return nil, false
	}
	return v, true
}

// findingData decodes a finding's "data" member: nil when it is absent or
// null, the registered type when it fits, and otherwise the generic value.
func findingData(name string, raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	dataMu.RLock()
	typed := dataType[name]
	dataMu.RUnlock()
	if typed != nil {
		if v, ok := typed(raw); ok {
			return v, nil
		}
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// UnmarshalJSON decodes a finding, its data as findingData says.
func (f *Finding) UnmarshalJSON(b []byte) error {
	type plain Finding // no methods: no recursion
	var w struct {
		plain
		Data json.RawMessage `json:"data"` // shadows plain's
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	data, err := findingData(w.Finding, w.Data)
	if err != nil {
		return err
	}
	*f = Finding(w.plain)
	f.Data = data
	return nil
}
