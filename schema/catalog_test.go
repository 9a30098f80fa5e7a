package schema_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	_ "github.com/stakeout/stakeout/packet" // registers the packets probe
	"github.com/stakeout/stakeout/schema"
)

// Every kind a probe lists is registered, belongs to that probe alone,
// and says in words what it holds (event.Describer) whether the body is
// the *T a file decodes to or a T made live.
func TestCatalogKindsDescribeThemselves(t *testing.T) {
	owner := map[string]string{}
	for _, p := range schema.Probes() {
		if len(p.Kinds) == 0 {
			t.Errorf("probe %s lists no kinds", p.Name)
		}
		for _, kind := range p.Kinds {
			if prev, dup := owner[kind]; dup {
				t.Errorf("kind %s listed by %s and %s", kind, prev, p.Name)
			}
			owner[kind] = p.Name
			if !event.Known(kind) {
				t.Errorf("probe %s lists kind %s, which is not registered", p.Name, kind)
				continue
			}
			ptr := decoded(t, kind)
			val := reflect.ValueOf(ptr).Elem().Interface().(event.Body)
			for _, b := range []event.Body{ptr, val} {
				d, ok := event.BodyAs[event.Describer](event.New(time.Unix(0, 0), p.Name, b))
				if !ok {
					t.Errorf("%s: a %T body does not describe itself", kind, b)
					continue
				}
				_ = d.Describe() // a zero body must not panic
			}
			if _, ok := val.(event.Plotter); event.Plots(kind) != ok {
				t.Errorf("%s: plots as a pointer (%v) but not as a value", kind, event.Plots(kind))
			}
		}
	}
	if len(owner) == 0 {
		t.Fatal("the catalog is empty")
	}
}

// decoded is the body a file holding an empty event of kind reads back as.
func decoded(t *testing.T, kind string) event.Body {
	t.Helper()
	var ev event.Event
	if err := ev.UnmarshalJSON([]byte(`{"time":"2026-11-23T04:00:00Z","probe":"p","kind":"` + kind + `"}`)); err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
	if ev.Body == nil || reflect.ValueOf(ev.Body).Kind() != reflect.Pointer {
		t.Fatalf("%s decodes to %T", kind, ev.Body)
	}
	return ev.Body
}
