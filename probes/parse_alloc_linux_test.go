package probes

import (
	"os"
	"testing"
)

// The per-process files a sample reads by the hundred (diskfill's
// /proc/PID/io and fdinfo, coredump's limits, the signals probe's status
// for every signal on the host) are parsed without allocating: a
// bufio.Scanner's 4 KiB buffer for each was most of the garbage an idle
// stakeout made, and so most of its collector's work.
func TestPerProcessParsersDoNotAllocate(t *testing.T) {
	limits, err := os.ReadFile("testdata/coredump/apport/proc/610/limits")
	if err != nil {
		t.Fatal(err)
	}
	io := []byte("rchar: 323934931\nwchar: 323929600\nsyscr: 632687\nsyscw: 632675\nread_bytes: 0\nwrite_bytes: 323932160\ncancelled_write_bytes: 0\n")
	fdinfo := []byte("pos:\t1048576\nflags:\t02102001\nmnt_id:\t31\nino:\t12\n")
	status := []byte("Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nNgid:\t0\nPid:\t4243\nPPid:\t1\nTracerPid:\t0\n")
	for name, parse := range map[string]func() bool{
		"io": func() bool {
			wc, wb, err := parseProcIO(io)
			return err == nil && wc == 323929600 && wb == 323932160
		},
		"fdinfo": func() bool {
			fi, err := parseFDInfo(fdinfo)
			return err == nil && fi.MntID == 31 && fi.writable()
		},
		"limits": func() bool {
			s, h, ok := parseCoreLimit(limits)
			return ok && s == 0 && h == -1
		},
		"status": func() bool {
			v, err := parseStatusInt(status, "Tgid")
			return err == nil && v == 4242
		},
	} {
		if !parse() {
			t.Errorf("%s: parsed wrong", name)
			continue
		}
		if n := testing.AllocsPerRun(100, func() { parse() }); n != 0 {
			t.Errorf("%s: %v allocations a parse, want 0", name, n)
		}
	}
}

func TestProcIOAndFDInfoRefuseWhatIsNotANumber(t *testing.T) {
	for _, b := range []string{
		"wchar: 12x\nwrite_bytes: 1\n",
		"wchar: \nwrite_bytes: 1\n",
		"wchar: 99999999999999999999999\nwrite_bytes: 1\n",
	} {
		if _, _, err := parseProcIO([]byte(b)); err == nil {
			t.Errorf("io %q parsed", b)
		}
	}
	for _, b := range []string{
		"flags:\t0109\nmnt_id:\t1\n", // 9 is not octal
		"flags:\t01\nmnt_id:\t-1\n",  // no sign
		"flags:\t01\nmnt_id:\t1e3\n", // no exponent
		"flags:\t01\n",               // mnt_id missing (before 3.15)
	} {
		if _, err := parseFDInfo([]byte(b)); err == nil {
			t.Errorf("fdinfo %q parsed", b)
		}
	}
	// The last line may lack its newline.
	if wc, wb, err := parseProcIO([]byte("wchar: 7\nwrite_bytes: 8")); err != nil || wc != 7 || wb != 8 {
		t.Errorf("io without a final newline: %d %d %v", wc, wb, err)
	}
}
