package remote

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/google/shlex"
)

// EnvSSH names the ssh command line to run instead of plain `ssh`, e.g.
// `ssh -F /tmp/x/config`: a word list split as a shell would (quotes and
// backslashes; no variables or globs).
const EnvSSH = "STAKEOUT_SSH"

// sshOptions are always given: no prompt may wreck the TUI (BatchMode: a
// key or an agent must let us in), no terminal on the remote side (-T), and
// a dead link is noticed within about 15 s (ServerAlive*), not at TCP's
// pace. Given first on the command line, they win over ~/.ssh/config.
var sshOptions = []string{"-T", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3",
	"-o", "ConnectTimeout=15"}

// SSHCommand reads the ssh command line from $STAKEOUT_SSH (empty or
// unset: `ssh`). The error names the variable.
func SSHCommand() ([]string, error) {
	return parseSSHCommand(os.Getenv(EnvSSH))
}

func parseSSHCommand(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return []string{"ssh"}, nil
	}
	words, err := shlex.Split(s)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: %v", EnvSSH, s, err)
	}
	if len(words) == 0 {
		return []string{"ssh"}, nil
	}
	return words, nil
}

// argv is the whole ssh command line that runs remoteCmd on t.
func argv(sshCmd []string, t Target, remoteCmd string) []string {
	out := append([]string(nil), sshCmd...)
	out = append(out, sshOptions...)
	if t.Port != 0 {
		out = append(out, "-p", strconv.Itoa(t.Port))
	}
	return append(out, "--", t.destination(), remoteCmd)
}

// shellQuote quotes s for a POSIX shell (and for the login shells that
// quote as it does: bash, zsh, ksh, dash, busybox ash, fish).
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// bootScript runs on the remote host in one ssh session, under sh, with
// $1 our version and the rest the flags for `stakeout stream`. It prints
// one line, `stakeout-boot 1 OS ARCH installed|copy`; then, installed (a
// stakeout in PATH says exactly our version), it runs that one. To copy,
// it reads one line from the local side: the binary's size in bytes (or
// anything else: do not copy, e.g. the architecture is wrong), then
// exactly that many bytes into a fresh private directory (mktemp -d:
// mode 0700), prints `stakeout-boot-sha256 HASH`, and reads one more line:
// `run` runs the copy with --unlink-self (the copy unlinks itself and its
// directory once started, so nothing is left even if it is killed -9);
// anything else, or the end of stdin, removes the directory. It reads
// nothing past what it was sent, and the local side sends nothing more
// until the stream is running: stdin is the stream's from then on.
//
// It is written with no single quote (it travels inside one) and with a
// separator at every line end, so it reads the same joined into one line
// (csh and tcsh as login shells do not take a newline inside quotes).
const bootScript = `v="$1"; shift;
o=$(uname -s); a=$(uname -m);
s=$(command -v stakeout 2>/dev/null);
if [ "$v" != dev ] && [ -n "$s" ] && [ "$("$s" version 2>/dev/null)" = "stakeout $v" ]; then
  echo "stakeout-boot 1 $o $a installed $s";
  exec "$s" stream "$@";
fi;
echo "stakeout-boot 1 $o $a copy";
IFS= read -r n || exit 0;
case "$n" in ""|*[!0-9]*) exit 0;; esac;
d=$(mktemp -d "${TMPDIR:-/tmp}/stakeout.XXXXXXXX") || exit 1;
trap "rm -rf \"\$d\"" EXIT;
trap "exit 1" HUP INT TERM PIPE;
chmod 700 "$d" && head -c "$n" > "$d/stakeout" && chmod 700 "$d/stakeout" || exit 1;
h=$(sha256sum < "$d/stakeout" 2>/dev/null || shasum -a 256 < "$d/stakeout" 2>/dev/null || openssl dgst -sha256 -r < "$d/stakeout" 2>/dev/null);
echo "stakeout-boot-sha256 ${h%% *}";
IFS= read -r ok || exit 0;
[ "$ok" = run ] || exit 0;
if ! "$d/stakeout" version > /dev/null 2>&1; then echo "stakeout-boot-error cannot run a program in $d (is it mounted noexec? set TMPDIR there)"; exit 0; fi;
exec "$d/stakeout" stream --unlink-self "$@";
`

// remoteCommand is the command line ssh runs on the remote host: the boot
// script under sh, our version, and the stream's flags, each quoted.
func remoteCommand(version string, streamArgs []string) string {
	script := strings.ReplaceAll(bootScript, "\n", " ")
	var b strings.Builder
	b.WriteString("exec sh -c ")
	b.WriteString(shellQuote(script))
	b.WriteString(" stakeout-boot ")
	b.WriteString(shellQuote(version))
	for _, a := range streamArgs {
		b.WriteByte(' ')
		b.WriteString(shellQuote(a))
	}
	return b.String()
}

// unameArch is what `uname -m` says on Linux for a Go GOARCH; a GOARCH
// may be spelled more than one way.
var unameArch = map[string][]string{
	"amd64":   {"x86_64", "amd64"},
	"arm64":   {"aarch64", "arm64", "aarch64_be"},
	"386":     {"i386", "i486", "i586", "i686", "x86"},
	"arm":     {"armv6l", "armv7l", "armv7", "armv8l", "arm"},
	"riscv64": {"riscv64"},
	"ppc64le": {"ppc64le"},
	"ppc64":   {"ppc64"},
	"s390x":   {"s390x"},
	"mips64":  {"mips64"},
	"loong64": {"loongarch64"},
}

// archFits says whether a binary built for goarch runs where `uname -m`
// says machine.
func archFits(goarch, machine string) bool {
	for _, m := range unameArch[goarch] {
		if m == machine {
			return true
		}
	}
	return false
}

// archName is how the error names our architecture: uname's spelling, and
// Go's when it differs.
func archName(goarch string) string {
	if ms := unameArch[goarch]; len(ms) > 0 && ms[0] != goarch {
		return ms[0] + " (" + goarch + ")"
	}
	return goarch
}
