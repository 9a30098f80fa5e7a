package remote

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// Hidden test hooks, read from the environment so the end-to-end tests can
// reach them through the binary; undocumented for users.
const (
	// EnvTestClockSkew is HOST=D[,HOST=D…]: that host's stream adds D to
	// every time it writes (stream --clock-skew), a clock D off.
	EnvTestClockSkew = "STAKEOUT_TEST_CLOCK_SKEW"
	// EnvTestCorruptCopy is HOST[,HOST…]: the copy of stakeout sent to
	// that host has one byte flipped on its way.
	EnvTestCorruptCopy = "STAKEOUT_TEST_CORRUPT_COPY"
)

func applyTestEnv(o *Options) error {
	if v := os.Getenv(EnvTestClockSkew); v != "" {
		for _, kv := range strings.Split(v, ",") {
			host, d, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok {
				return fmt.Errorf("%s=%q: want HOST=DURATION[,…]", EnvTestClockSkew, v)
			}
			skew, err := time.ParseDuration(d)
			if err != nil {
				return fmt.Errorf("%s=%q: %v", EnvTestClockSkew, v, err)
			}
			if host == o.Target.Host {
				o.ClockSkew = skew
			}
		}
	}
	for _, h := range strings.Split(os.Getenv(EnvTestCorruptCopy), ",") {
		if h != "" && strings.TrimSpace(h) == o.Target.Host {
			o.CorruptCopy = true
		}
	}
	return nil
}
