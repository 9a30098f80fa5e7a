package findings

// PLACEHOLDER: replaced by the io.saturated detector.

import "github.com/stakeout/stakeout/event"

type ioSaturated struct{}

func NewIOSaturated() Detector                        { return ioSaturated{} }
func (ioSaturated) Produces() []string                { return []string{"io.saturated"} }
func (ioSaturated) Observe(event.Event) []event.Event { return nil }
