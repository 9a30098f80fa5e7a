package event

import (
	"encoding/json"
	"reflect"
)

// TreeJSON writes v the way MarshalFinite does once json.Marshal has
// refused it, so tests can hold that path to json.Marshal's output.
func TreeJSON(v any) ([]byte, error) {
	t, err := finiteTree(reflect.ValueOf(v))
	if err != nil {
		return nil, err
	}
	return json.Marshal(t)
}
