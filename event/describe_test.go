package event

import (
	"testing"
	"time"
)

// gauge is a body that describes and plots itself, with value receivers;
// notPlotted describes itself only.
type gauge struct{ V float64 }

func (gauge) EventKind() string    { return "test.describe_gauge" }
func (gauge) Describe() string     { return "gauge" }
func (gauge) Plot(time.Time, Plot) {}

type notPlotted struct{}

func (notPlotted) EventKind() string { return "test.describe_not_plotted" }
func (notPlotted) Describe() string  { return "not plotted" }

func init() {
	Register("test.describe_gauge", func() Body { return &gauge{} })
	Register("test.describe_not_plotted", func() Body { return &notPlotted{} })
}

// A value-receiver interface is found on a *T and a T body alike; a nil
// *T, whose value methods would panic, and no body at all have none.
func TestBodyAs(t *testing.T) {
	at := time.Unix(1, 0)
	for _, b := range []Body{&gauge{}, gauge{}} {
		if d, ok := BodyAs[Describer](New(at, "p", b)); !ok || d.Describe() != "gauge" {
			t.Errorf("%T body: %v %v", b, d, ok)
		}
	}
	if _, ok := BodyAs[Describer](Event{Kind: "test.describe_gauge", Body: (*gauge)(nil)}); ok {
		t.Error("a nil *gauge describes itself")
	}
	if _, ok := BodyAs[Describer](Event{Kind: "gpu_temp", Raw: []byte(`{"kind":"gpu_temp"}`)}); ok {
		t.Error("an event without a body describes itself")
	}
	if _, ok := BodyAs[Describer](New(at, "p", &Note{Text: "x"})); ok {
		t.Error("a note describes itself")
	}
}

// Plots asks the registered body of a kind: a kind this build does not
// know plots nothing.
func TestPlots(t *testing.T) {
	for kind, want := range map[string]bool{"test.describe_gauge": true, "test.describe_not_plotted": false, KindNote: false, "gpu_temp": false} {
		if got := Plots(kind); got != want {
			t.Errorf("Plots(%q) = %v, want %v", kind, got, want)
		}
	}
}
