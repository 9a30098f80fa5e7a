package probes

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// script is a fake poll step: it returns its results in order, then nil,
// and cancels ctx (if set) at the step numbered cancelAt (1-based).
type script struct {
	results  []error
	calls    int
	cancel   context.CancelFunc
	cancelAt int
}

func (s *script) step() error {
	s.calls++
	if s.cancel != nil && s.calls == s.cancelAt {
		s.cancel()
	}
	if s.calls <= len(s.results) {
		return s.results[s.calls-1]
	}
	return nil
}

// fast is a poller whose ticks come every millisecond; the tests count
// steps, they time nothing.
func fast(atOnce bool, giveUpAfter int) poller {
	return poller{every: time.Millisecond, atOnce: atOnce, giveUpAfter: giveUpAfter}
}

func TestPollerSucceedsUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &script{cancel: cancel, cancelAt: 5}
	if err := fast(false, 1).run(ctx, s.step); !errors.Is(err, context.Canceled) {
		t.Fatalf("run = %v, want context.Canceled", err)
	}
	// A tick already waiting may win the select against ctx, as with any
	// ticker loop, so one more step may have run.
	if s.calls < 5 || s.calls > 6 {
		t.Errorf("%d steps, want 5 (or 6): run must stop at a wait once ctx ends", s.calls)
	}
}

// Failures fewer than giveUpAfter in a row, each run ended by a success,
// never end the loop.
func TestPollerRidesOutTransientFailures(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bad := errors.New("odd read")
	var results []error
	for range 3 {
		results = append(results, bad, bad, bad, bad, nil)
	}
	s := &script{results: results, cancel: cancel, cancelAt: len(results) + 1}
	if err := fast(false, 5).run(ctx, s.step); !errors.Is(err, context.Canceled) {
		t.Fatalf("run = %v after runs of 4 failures with giveUpAfter 5, want it to go on until cancelled", err)
	}
	if s.calls < len(results)+1 || s.calls > len(results)+2 {
		t.Errorf("%d steps, want %d (or one more)", s.calls, len(results)+1)
	}
}

// giveUpAfter failures in a row end the loop with the last error.
func TestPollerGivesUpOnPersistentFailure(t *testing.T) {
	var results []error
	for i := range 10 {
		results = append(results, fmt.Errorf("read %d failed", i+1))
	}
	for _, atOnce := range []bool{false, true} {
		s := &script{results: results}
		err := fast(atOnce, 5).run(context.Background(), s.step)
		if err != results[4] {
			t.Errorf("atOnce %v: run = %v, want the fifth error", atOnce, err)
		}
		if s.calls != 5 {
			t.Errorf("atOnce %v: %d steps, want 5", atOnce, s.calls)
		}
	}
	// 1 (and 0, the zero value): the first error ends it.
	for _, n := range []int{0, 1} {
		s := &script{results: results}
		if err := fast(true, n).run(context.Background(), s.step); err != results[0] || s.calls != 1 {
			t.Errorf("giveUpAfter %d: run = %v after %d steps, want the first error after 1", n, err, s.calls)
		}
	}
}

// errNotSampled neither counts as a failure nor resets the count: two
// failures, a step with nothing to sample, a third failure: given up.
func TestPollerNotSampledLeavesTheCount(t *testing.T) {
	bad := errors.New("odd read")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &script{results: []error{bad, bad, errNotSampled, errNotSampled, bad, nil}, cancel: cancel, cancelAt: 7}
	if err := fast(true, 3).run(ctx, s.step); err != bad || s.calls != 5 {
		t.Errorf("run = %v after %d steps, want the odd read after 5", err, s.calls)
	}
	// Nothing to sample, ever, is not a reason to give up.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	s = &script{results: []error{errNotSampled, errNotSampled, errNotSampled, errNotSampled}, cancel: cancel, cancelAt: 4}
	if err := fast(true, 1).run(ctx, s.step); !errors.Is(err, context.Canceled) || s.calls < 4 {
		t.Errorf("run = %v after %d steps, want context.Canceled after 4 (or 5)", err, s.calls)
	}
}

// atOnce decides whether a step comes before the first tick. The ticks are
// an hour apart, so only that first step can run before ctx, already
// cancelled, is seen.
func TestPollerFirstStep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for atOnce, want := range map[bool]int{false: 0, true: 1} {
		s := &script{}
		pl := poller{every: time.Hour, atOnce: atOnce, giveUpAfter: 1}
		if err := pl.run(ctx, s.step); !errors.Is(err, context.Canceled) {
			t.Errorf("atOnce %v: run = %v, want context.Canceled", atOnce, err)
		}
		if s.calls != want {
			t.Errorf("atOnce %v: %d steps before the first tick, want %d", atOnce, s.calls, want)
		}
	}
}

func TestNewPollerDefaultsToASecond(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Interval = 0
	if pl := newPoller(cfg); pl.every != time.Second || pl.atOnce || pl.giveUpAfter != 0 {
		t.Errorf("newPoller(no interval) = %+v", pl)
	}
	cfg.Interval = 250 * time.Millisecond
	if pl := newPoller(cfg); pl.every != 250*time.Millisecond {
		t.Errorf("newPoller(250ms) = %+v", pl)
	}
}
