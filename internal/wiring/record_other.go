//go:build !linux

package wiring

import "github.com/stakeout/stakeout/engine"

// recordGuard: without Linux there is no live recording to guard.
func recordGuard(engine.Recorder) engine.RecordGuard { return nil }
