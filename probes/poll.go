package probes

import (
	"context"
	"errors"
	"time"

	"github.com/stakeout/stakeout/internal/aligned"
)

// maxReadFailures is how many samples in a row may fail to read before a
// polling probe gives up; one odd read must not kill the probe for the
// session.
const maxReadFailures = 5

// errNotSampled is what a poll step returns when there was nothing to
// sample this time and that is neither a success nor a failure (the
// conntrack table is not loaded): the failure count stays as it is.
var errNotSampled = errors.New("nothing to sample")

// poller is the loop every probe that samples the kernel on an interval
// runs: one step per tick of an aligned ticker (internal/aligned), so all of
// them sample in the same instant, and a count of failed steps in a row.
// Where the probes differ is spelled out in its fields.
type poller struct {
	// every is the sampling period: Config.Interval, 1 s when not set.
	every time.Duration
	// atOnce runs the first step as soon as run is called. Without it the
	// first step waits for the first tick: for a probe that read its
	// baseline itself, before run, and treats that read failing as fatal.
	atOnce bool
	// giveUpAfter is how many step errors in a row end run, which then
	// returns the last of them. A step that succeeds starts the count
	// again; one that returns errNotSampled leaves it as it is. 1 (or
	// less): the first error ends run.
	giveUpAfter int
}

// newPoller gives the period from cfg; the caller sets the rest.
func newPoller(cfg Config) poller {
	every := cfg.Interval
	if every <= 0 {
		every = time.Second
	}
	return poller{every: every}
}

// run calls step once a tick until ctx is done (returning ctx.Err()) or the
// steps failed giveUpAfter times in a row. The ticker drops ticks a slow
// step missed rather than queueing them, so step reads its own clock.
func (pl poller) run(ctx context.Context, step func() error) error {
	tick := aligned.NewTicker(pl.every)
	defer tick.Stop()
	failures := 0
	for first := true; ; first = false {
		if !first || !pl.atOnce {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
		}
		switch err := step(); {
		case err == nil:
			failures = 0
		case errors.Is(err, errNotSampled):
		default:
			if failures++; failures >= pl.giveUpAfter {
				return err
			}
		}
	}
}
