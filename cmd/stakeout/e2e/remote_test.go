//go:build linux

package e2e

import "testing"

func TestRemoteFlagsBadUsage(t *testing.T) {
	share(t)
	oneLineError(t, run(t, nil, "snapshot", "--duration", "1s", "--no-local"), exitUsage, "--no-local needs at least one --ssh")
	oneLineError(t, run(t, nil, "snapshot", "--duration", "1s", "--ssh", "root@-oProxyCommand=x"), exitUsage, `--ssh "root@-oProxyCommand=x"`)
	oneLineError(t, run(t, nil, "snapshot", "--duration", "1s", "--ssh", "[::1]:99999"), exitUsage, "99999")
	oneLineError(t, run(t, nil, "snapshot", "--duration", "1s", "--ssh", "h1", "--ssh", "root@h1:22", "--no-local"), exitUsage, "same host")
	oneLineError(t, run(t, nil, "snapshot", "--duration", "1s", "--ssh", "h1", "--no-local", "--probes", "nope"), exitUsage, `unknown probe "nope"`)
	oneLineError(t, run(t, []string{"STAKEOUT_SSH=ssh -F 'unclosed"}, "snapshot", "--duration", "1s", "--ssh", "h1", "--no-local"), exitError, "STAKEOUT_SSH")
}
