// Package layering holds the test that keeps the arrows between stakeout's
// packages pointing one way (docs/architecture.md, README "Adding a probe").
package layering

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/stakeout/stakeout/"

// forbidden maps a package to the packages it must never link, directly or
// through another package.
var forbidden = map[string][]string{
	// What reads a recording or judges events links no collector: a
	// recording opens on a laptop, and a detector is the same live and in
	// replay.
	"ui":       {"probes", "engine"},
	"findings": {"probes", "engine", "ui"},
	"report":   {"probes", "engine", "ui"},
	"handoff":  {"probes", "ui"},
	"redact":   {"probes", "engine", "ui"},
	"sessions": {"probes", "engine", "ui", "findings"},
	// The engine fans events out; the collectors are handed to it.
	"engine": {"probes", "ui"},
	// The pure packages: the envelope, each probe's schema, the packet code.
	"event":  {"probes", "engine", "schema", "packet", "sessions"},
	"schema": {"probes", "engine", "packet", "sessions", "findings"},
	"packet": {"probes", "engine", "sessions", "findings"},
}

func TestArrowsPointOneWay(t *testing.T) {
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", "../../"+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		deps := map[string]bool{}
		for _, d := range strings.Fields(string(out)) {
			deps[d] = true
		}
		if !deps[module+pkg] {
			t.Fatalf("go list -deps %s does not list the package itself: %q", pkg, out)
		}
		for _, b := range bad {
			if deps[module+b] {
				t.Errorf("%s links %s: %s must not depend on it, directly or through another package", pkg, b, pkg)
			}
		}
	}
}

// TestReadersBuildEverywhere builds the binary for the systems an incoming
// engineer reads a handoff on: replay, report, events, handoff and extract
// are the same code there, with the live probes compiled out.
func TestReadersBuildEverywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("cross builds take a while; -short skips them")
	}
	// A Mac laptop and a Windows one; the other pairs compile the same
	// files, so they would only cost CI time.
	for _, target := range [][2]string{{"darwin", "arm64"}, {"windows", "amd64"}} {
		goos, arch := target[0], target[1]
		cmd := exec.Command("go", "build", "-o", os.DevNull, "../../cmd/stakeout")
		cmd.Env = append(cmd.Environ(), "GOOS="+goos, "GOARCH="+arch, "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("GOOS=%s GOARCH=%s go build ./cmd/stakeout: %v\n%s", goos, arch, err, out)
		}
	}
}
