package probes

import (
	"testing"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]int{"SIGURG": 23, "urg": 23, " Urg ": 23, "23": 23, "SIGRTMIN+3": 37, "hup": 1, "64": 64} {
		if n, err := ParseSignal(in); err != nil || n != want {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d", in, n, err, want)
		}
	}
	for _, in := range []string{"", "SIGFOO", "0", "65", "-1", "SIG"} {
		if n, err := ParseSignal(in); err == nil {
			t.Errorf("ParseSignal(%q) = %d, want an error", in, n)
		}
	}
	var l signalList
	if err := l.Set("urg,SIGHUP"); err != nil || l.String() != "SIGURG,SIGHUP" {
		t.Errorf("--signals-include urg,SIGHUP: %q %v", l.String(), err)
	}
	if err := l.Set("nope"); err == nil || err.Error() != `"nope" is not a signal name or number` {
		t.Errorf("--signals-include nope: %v", err)
	}
}

// The host-mode filter: SIGURG is left out (in the kernel, by the filter
// expression, and here) unless --signals-include brings it back; signals to
// stakeout itself or its watchdog are left out whatever they are.
func TestHostFilter(t *testing.T) {
	f := newHostFilter(nil, 100)
	f.own[101] = true // the watchdog
	if f.wantSignal(23) || !f.wantSignal(1) || !f.wantSignal(10) {
		t.Errorf("default: SIGURG %v, SIGHUP %v, SIGUSR1 %v", f.wantSignal(23), f.wantSignal(1), f.wantSignal(10))
	}
	if got := f.kernelFilter(); got != "sig != 23" {
		t.Errorf("kernel filter %q", got)
	}
	if f.wantTarget(100) || f.wantTarget(101) || !f.wantTarget(102) {
		t.Errorf("own processes: %v %v %v", f.wantTarget(100), f.wantTarget(101), f.wantTarget(102))
	}
	g := newHostFilter([]string{"SIGURG"}, 100)
	if !g.wantSignal(23) || g.kernelFilter() != "" {
		t.Errorf("--signals-include SIGURG: want %v, filter %q", g.wantSignal(23), g.kernelFilter())
	}
	if g.wantTarget(100) {
		t.Error("--signals-include SIGURG brought back stakeout's own signals")
	}
}

func TestSenderDetails(t *testing.T) {
	cg := "12:pids:/system.slice/cron.service\n1:name=systemd:/system.slice/cron.service\n0::/system.slice/logrotate.service\n"
	if p := cgroupPath([]byte(cg)); p != "/system.slice/logrotate.service" {
		t.Errorf("cgroup v2 line: %q", p)
	}
	if p := cgroupPath([]byte("12:pids:/a\n1:name=systemd:/user.slice/user-0.slice/session-3.scope\n")); p != "/user.slice/user-0.slice/session-3.scope" {
		t.Errorf("v1 systemd line: %q", p)
	}
	for path, want := range map[string]string{
		"/system.slice/logrotate.service":                           "logrotate.service",
		"/user.slice/user-0.slice/session-3.scope":                  "session-3.scope",
		"/system.slice/docker-ab12.scope/init.scope":                "init.scope",
		"/system.slice/containerd.service/kubepods-burstable.slice": "containerd.service",
		"/":           "",
		"/init.scope": "init.scope",
		"/mygroup":    "",
	} {
		if got := cgroupUnit(path); got != want {
			t.Errorf("cgroupUnit(%q) = %q, want %q", path, got, want)
		}
	}
	// tty_nr as the kernel encodes it: major in bits 8-19, minor in 0-7 and 20-31.
	for nr, want := range map[int]string{0: "", 136<<8 | 3: "pts/3", 137<<8 | 4: "pts/260", 4<<8 | 1: "tty1",
		4<<8 | 64: "ttyS0", 5<<8 | 1: "console", 136<<8 | (300&0xff | (300&^0xff)<<12): "pts/300"} {
		if got := ttyName(nr); got != want {
			t.Errorf("ttyName(%#x) = %q, want %q", nr, got, want)
		}
	}
}
