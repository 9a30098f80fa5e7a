//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stakeout/stakeout/internal/testenv"
)

// underTerminal runs stakeout under script(1), which gives it a terminal
// (the live TUI needs one), and returns what it printed.
func underTerminal(t *testing.T, env []string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script(1) not installed (util-linux)")
	}
	cmd := exec.Command("script", "-q", "-e", "-c", binPath+" "+strings.Join(args, " "), "/dev/null")
	cmd.Env = append(os.Environ(), env...)
	out, _ := cmd.CombinedOutput() // the exit status is stakeout's: checked by what it printed
	return string(out)
}

// TestRecordHintsNameTheCommandsFlag: when the recording can't be made,
// snapshot's hint names -o (it has no --record) and the live TUI's names
// --record.
func TestRecordHintsNameTheCommandsFlag(t *testing.T) {
	share(t)
	procfs, sysfs := fixtureRoots(t)
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(notDir, "x.stk") // its directory is a file
	common := []string{"--probes", "iostat", "--procfs", procfs, "--sysfs", sysfs}

	r := run(t, nil, append([]string{"snapshot", "--duration", "1s", "-o", file}, common...)...)
	oneLineError(t, r, exitError, "cannot record to "+file+": not a directory (use -o FILE elsewhere, or --no-record)")
	if strings.Contains(r.stderr, "--record") {
		t.Errorf("snapshot's hint names --record, which snapshot rejects: %q", r.stderr)
	}
	r = run(t, []string{"STAKEOUT_DIR=" + notDir}, append([]string{"snapshot", "--duration", "1s"}, common...)...)
	oneLineError(t, r, exitError, "(use -o FILE elsewhere, or --no-record)")

	out := underTerminal(t, nil, append([]string{"--record", file}, common...)...)
	if !strings.Contains(out, "stakeout: cannot record to "+file+": not a directory (use --record FILE elsewhere, or --no-record)") ||
		strings.Contains(out, "-o FILE") {
		t.Errorf("live TUI: %q", out)
	}
}

// TestRecordingRefusesDirectoriesOthersControl: a /var/tmp/stakeout-like
// directory another user made beforehand (owned by nobody, mode 0777),
// named by -o, --record or STAKEOUT_DIR, and a symlink someone else planted
// as the recording directory, are refused in one line that says why and
// names the command's flag; nothing is recorded in them or through the
// link.
func TestRecordingRefusesDirectoriesOthersControl(t *testing.T) {
	share(t)
	testenv.NeedRoot(t, "to give a directory to nobody")
	procfs, sysfs := fixtureRoots(t)
	common := []string{"--probes", "iostat", "--procfs", procfs, "--sysfs", sysfs}
	env := []string{"SUDO_UID="} // as root itself, not through sudo
	base := t.TempDir()
	theirs := filepath.Join(base, "stakeout")
	if err := os.Mkdir(theirs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(theirs, 0o777); err != nil {
		t.Fatal(err)
	}
	why := theirs + " is owned by uid 65534 and writable by others, who could delete or replace the recording; remove it, or record elsewhere with "
	empty := func(dirs ...string) {
		t.Helper()
		for _, d := range dirs {
			if ents, _ := os.ReadDir(d); len(ents) != 0 {
				t.Fatalf("recorded into %s: %v", d, ents)
			}
		}
	}

	file := filepath.Join(theirs, "x.stk")
	r := run(t, env, append([]string{"snapshot", "--duration", "1s", "-o", file}, common...)...)
	oneLineError(t, r, exitError, why+"-o FILE or STAKEOUT_DIR=DIR, or use --no-record")
	r = run(t, append(env, "STAKEOUT_DIR="+theirs), append([]string{"snapshot", "--duration", "1s"}, common...)...)
	oneLineError(t, r, exitError, why+"-o FILE or STAKEOUT_DIR=DIR")
	out := underTerminal(t, env, append([]string{"--record", file}, common...)...)
	if !strings.Contains(out, why+"--record FILE or STAKEOUT_DIR=DIR") {
		t.Errorf("live TUI: %q", out)
	}
	empty(theirs)

	// A symlink planted in a sticky directory (as /var/tmp is) where the
	// recording directory goes, pointing at a directory of root's.
	sticky := filepath.Join(base, "tmp")
	if err := os.Mkdir(sticky, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(base, "target")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(sticky, "stakeout")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	r = run(t, append(env, "STAKEOUT_DIR="+link), append([]string{"snapshot", "--duration", "1s"}, common...)...)
	oneLineError(t, r, exitError, fmt.Sprintf("%s is a symbolic link owned by uid 65534, who could point it anywhere; remove it, or record elsewhere with -o FILE", link))
	empty(target)

	// The same sticky directory with a directory of root's in it is fine.
	ok := filepath.Join(sticky, "mine")
	r = run(t, env, append([]string{"snapshot", "--duration", "300ms", "--interval", "100ms", "-o", filepath.Join(ok, "x.stk")}, common...)...)
	if r.code != 0 {
		t.Fatalf("recording into a new directory in a sticky one: %+v", r)
	}
	if st, err := os.Lstat(ok); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("made %v (%v), want 0700", st.Mode(), err)
	}
}
