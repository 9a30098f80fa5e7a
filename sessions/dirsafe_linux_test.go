package sessions

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stakeout/stakeout/internal/testenv"
)

const nobody = 65534

// asRoot skips a test that needs to chown things to another user.
func asRoot(t *testing.T) {
	t.Helper()
	testenv.NeedRoot(t, "to give files to another user")
	t.Setenv("SUDO_UID", "") // as if run by root directly, not through sudo
}

// mkdirAs makes a directory with exactly mode, owned by uid:gid.
func mkdirAs(t *testing.T, path string, mode os.FileMode, uid, gid int) string {
	t.Helper()
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// refused checks that creating a recording at path fails with one line
// naming the directory at fault and why, and that nothing was created in
// any of the directories listed.
func refused(t *testing.T, path, dir, why string, untouched ...string) {
	t.Helper()
	w, err := Create(path, testHeader(), manual())
	if err == nil {
		w.Close()
		t.Fatalf("Create(%s) recorded into an unsafe directory", path)
	}
	var ue *UnsafeDirError
	if !errors.As(err, &ue) || ue.Dir != dir {
		t.Fatalf("Create(%s): %v, want an UnsafeDirError about %s", path, err, dir)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, dir+" is ") || !strings.Contains(msg, why) {
		t.Fatalf("Create(%s): %q, want one line saying %s %s", path, msg, dir, why)
	}
	for _, d := range untouched {
		if ents, _ := os.ReadDir(d); len(ents) != 0 {
			t.Fatalf("%s was written to: %v", d, ents)
		}
	}
}

// TestRefusesDirectoriesOthersControl: another user's world-writable
// /var/tmp/stakeout made beforehand, a directory of ours that anyone may
// write, a directory of someone else's, a group-writable one, an unsafe
// directory higher up the path, and a symlink someone else planted in the
// recording directory's place are all refused, each in one line, and
// nothing is written in them or through the link. The directories that are
// safe, a sticky /tmp-like one included, are accepted.
func TestRefusesDirectoriesOthersControl(t *testing.T) {
	asRoot(t)
	base := t.TempDir()

	theirs := mkdirAs(t, filepath.Join(base, "stakeout"), 0o777, nobody, nobody)
	refused(t, filepath.Join(theirs, "h.stk"), theirs,
		"owned by uid 65534 and writable by others, who could delete or replace the recording", theirs)
	if err := EnsureDir(theirs); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Fatalf("EnsureDir(%s): %v", theirs, err)
	}

	open := mkdirAs(t, filepath.Join(base, "open"), 0o777, 0, 0)
	refused(t, filepath.Join(open, "h.stk"), open, "is writable by others,", open)

	owned := mkdirAs(t, filepath.Join(base, "owned"), 0o700, nobody, nobody)
	refused(t, filepath.Join(owned, "h.stk"), owned, "is owned by uid 65534, who could", owned)

	group := mkdirAs(t, filepath.Join(base, "group"), 0o770, 0, nobody)
	refused(t, filepath.Join(group, "h.stk"), group, "is writable by group 65534,", group)

	// Safe itself, but under a directory anyone may write: the whole
	// subtree could be renamed away and replaced.
	inner := mkdirAs(t, filepath.Join(theirs, "inner"), 0o700, 0, 0)
	refused(t, filepath.Join(inner, "h.stk"), theirs, "writable by others", inner)
	if err := os.Remove(inner); err != nil {
		t.Fatal(err)
	}

	// A symlink planted where the recording directory goes, pointing at a
	// directory of ours: the link is someone else's, so it is not followed.
	sticky := mkdirAs(t, filepath.Join(base, "tmp"), os.ModeSticky|0o777, 0, 0)
	target := mkdirAs(t, filepath.Join(base, "target"), 0o700, 0, 0)
	planted := filepath.Join(sticky, "stakeout")
	if err := os.Symlink(target, planted); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(planted, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	refused(t, filepath.Join(planted, "h.stk"), planted, "is a symbolic link owned by uid 65534, who could point it anywhere", target)
	if err := EnsureDir(planted); err == nil {
		t.Fatal("EnsureDir followed a planted symlink")
	}
	// And a link to someone else's directory is refused for the directory.
	if err := os.Remove(planted); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../stakeout", planted); err != nil {
		t.Fatal(err)
	}
	refused(t, filepath.Join(planted, "h.stk"), theirs, "owned by uid 65534", theirs)

	// Safe: a sticky world-writable directory owned by root (like /tmp), a
	// root-owned link to a directory of ours, a directory EnsureDir makes.
	if err := os.Remove(planted); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, planted); err != nil {
		t.Fatal(err)
	}
	made := filepath.Join(base, "new", "stakeout")
	if err := EnsureDir(made); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(made); err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 {
		t.Fatalf("EnsureDir made %v (%v), want a 0700 directory", st.Mode(), err)
	}
	for _, path := range []string{filepath.Join(sticky, "h.stk"), filepath.Join(planted, "h.stk"), filepath.Join(made, "h.stk")} {
		w, err := Create(path, testHeader(), manual())
		if err != nil {
			t.Fatalf("Create(%s): %v", path, err)
		}
		if w.Path() != path {
			t.Fatalf("Path() = %s, want %s as given", w.Path(), path)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(path); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTrustsTheSudoUser: under sudo, the user who ran it owns their home,
// and `sudo stakeout snapshot -o ~/x.stk` records there; anyone else's
// directory is still refused.
func TestTrustsTheSudoUser(t *testing.T) {
	asRoot(t)
	home := mkdirAs(t, filepath.Join(t.TempDir(), "home"), 0o755, nobody, nobody)
	refused(t, filepath.Join(home, "x.stk"), home, "owned by uid 65534", home)
	t.Setenv("SUDO_UID", "65534")
	w, err := Create(filepath.Join(home, "x.stk"), testHeader(), manual())
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Setenv("SUDO_UID", "1000")
	refused(t, filepath.Join(home, "y.stk"), home, "owned by uid 65534")
}

// TestCreateRefusesSymlinkedFileName: O_NOFOLLOW|O_EXCL refuse a symlink in
// the new file's place, whoever owns it, and write nothing through it.
func TestCreateRefusesSymlinkedFileName(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "victim")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "h.stk")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(link, testHeader(), manual()); err == nil || !strings.Contains(err.Error(), link) {
		t.Fatalf("Create over a symlink: %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Fatalf("written through the symlink: %q", b)
	}
}
