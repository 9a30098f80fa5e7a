package probes

// PLACEHOLDER: replaced by the iostat probe implementation.

import (
	"context"
	"errors"
)

var iostatSpec = Spec{Name: "iostat", Help: "per-device I/O like iostat -x", New: func(cfg Config) Probe { return placeholder{} }}

type placeholder struct{}

func (placeholder) Check() error                    { return errors.New("not implemented") }
func (placeholder) Run(context.Context, Emit) error { return errors.New("not implemented") }
