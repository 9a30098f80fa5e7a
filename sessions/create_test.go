package sessions

import (
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCreateMode0600(t *testing.T) {
	path, _ := writeSession(t, t.TempDir(), 1)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
}

func TestCreateNeverClobbers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "taken.stk")
	if err := os.WriteFile(path, []byte("someone else's"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(path, testHeader(), manual()); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create over an existing file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "someone else's" {
		t.Fatal("existing file was changed")
	}
	// A planted symlink is refused too, even a dangling one.
	link := filepath.Join(dir, "link.stk")
	if err := os.Symlink(filepath.Join(dir, "target"), link); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(link, testHeader(), manual()); err == nil {
		t.Fatal("Create followed a symlink")
	}
	if _, err := os.Stat(filepath.Join(dir, "target")); err == nil {
		t.Fatal("symlink target was created")
	}
}

func TestOpenNotASession(t *testing.T) {
	dir := t.TempDir()
	random := make([]byte, 4096)
	rand.Read(random)
	files := map[string][]byte{
		"empty":  nil,
		"random": random,
		"text":   []byte("hello, this is a log file\n"),
		"magic":  []byte(fileMagic), // cut right after the signature
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(p)
		if !errors.Is(err, ErrNotSession) {
			t.Errorf("%s: err %v, want ErrNotSession", name, err)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, p) {
			t.Errorf("%s: want one line naming the file, got %q", name, msg)
		}
	}
	if _, err := Open(dir); !errors.Is(err, ErrNotSession) {
		t.Errorf("directory: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing.stk")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestOpenNewerMajor(t *testing.T) {
	path, _ := writeSession(t, t.TempDir(), 1)
	b := mustRead(t, path)
	b[8] = FormatMajor + 1
	if _, err := openBytes(b); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("err %v, want ErrUnsupportedVersion", err)
	}
	// A newer minor is readable: it only adds what old readers skip.
	b = mustRead(t, path)
	b[10] = 9
	if _, err := openBytes(b); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownChunkTypeIsSkipped(t *testing.T) {
	path, want := writeSession(t, t.TempDir(), 3)
	b := mustRead(t, path)
	r, _ := openBytes(b)
	// Splice a chunk of a future type in after the header, and drop the
	// index (its offsets would be off by the splice): the walk must skip it.
	extra := appendChunk(nil, 'Z', 0, 0, 0, []byte("from the future"))
	c := append(append(append([]byte(nil), b[:r.dataStart]...), extra...), b[r.dataStart:r.dataEnd]...)
	r2, err := openBytes(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r2, time.Time{})
	if err != nil || len(got) != len(want) {
		t.Fatalf("%d events, err %v", len(got), err)
	}
}

func TestDefaultPathAndEnsureDir(t *testing.T) {
	at := time.Date(2026, 11, 23, 4, 0, 0, 0, time.FixedZone("X", 3600))
	if got := DefaultPath("/var/rec", "db-7.example", at); got != "/var/rec/db-7.example-20261123T030000Z.stk" {
		t.Fatal(got)
	}
	if got := DefaultPath("d", "../../etc/x\x1b", at); got != "d/_.._etc_x_-20261123T030000Z.stk" {
		t.Fatal(got)
	}
	if got := DefaultPath("d", "", at); got != "d/host-20261123T030000Z.stk" {
		t.Fatal(got)
	}
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := EnsureDir(dir); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("%v %v", st.Mode(), err)
	}
}
