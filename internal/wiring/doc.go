// Package wiring puts together what the live TUI,
// `snapshot` and `replay` run (probes, engine, detectors, recorder, the
// Bubble Tea program and the mailbox between them) from options the
// command line has already parsed and checked. cmd/stakeout keeps the
// cobra commands, flag binding and exit codes; nothing here reads a flag or
// picks an exit code.
//
// It is internal because it is not an API: only the binary uses it. With
// engine, it is the one place that may import probes (issue 13), so the
// packages that read recordings do not link the collectors.
package wiring
