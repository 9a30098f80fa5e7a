package probes

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

func rawSiginfo(signo, code int32, a, b uint32, c int32, addr uint64) *[siginfoSize]byte {
	var raw [siginfoSize]byte
	le := binary.LittleEndian
	le.PutUint32(raw[0:], uint32(signo))
	le.PutUint32(raw[siCodeOff:], uint32(code))
	if addr != 0 {
		le.PutUint64(raw[siAddrOff:], addr)
	} else {
		le.PutUint32(raw[siPIDOff:], a)
		le.PutUint32(raw[siUIDOff:], b)
		le.PutUint32(raw[siStatusOff:], uint32(c))
	}
	return &raw
}

func TestDecodeSiginfo(t *testing.T) {
	cases := []struct {
		raw  *[siginfoSize]byte
		want string
	}{
		{rawSiginfo(1, 0, 4410, 0, 0, 0), `"signal":"SIGHUP","signo":1,"code":"SI_USER","sender_pid":4410,"sender_uid":0`},
		{rawSiginfo(10, -6, 77, 1000, 0, 0), `"code":"SI_TKILL","sender_pid":77,"sender_uid":1000`},
		{rawSiginfo(34+3, -1, 5, 0, 9, 0), `"signal":"SIGRTMIN+3","signo":37,"code":"SI_QUEUE","sender_pid":5`},
		{rawSiginfo(17, 2, 812, 0, 15, 0), `"code":"CLD_KILLED","child_pid":812,"status":"killed by SIGTERM"`},
		{rawSiginfo(17, 1, 812, 0, 3, 0), `"code":"CLD_EXITED","child_pid":812,"status":"exited 3"`},
		{rawSiginfo(11, 1, 0, 0, 0, 0xdeadbeef000), `"code":"SEGV_MAPERR","addr":"0xdeadbeef000"`},
		{rawSiginfo(7, 2, 0, 0, 0, 0x7f0000001000), `"code":"BUS_ADRERR","addr":"0x7f0000001000"`},
		{rawSiginfo(2, 0x80, 0, 0, 0, 0), `"signal":"SIGINT","signo":2,"code":"SI_KERNEL"}`},
		{rawSiginfo(14, -2, 7, 0, 0, 0), `"code":"SI_TIMER","timer_id":7}`},
	}
	for _, c := range cases {
		signo := int(binary.LittleEndian.Uint32(c.raw[0:]))
		s := &schema.Signal{PID: 1, TID: 1, Comm: "x", Signal: schema.SignalName(signo), Signo: signo}
		decodeSiginfo(c.raw, s)
		b, _ := json.Marshal(s)
		if !strings.Contains(string(b), c.want) {
			t.Errorf("got %s\nwant …%s…", b, c.want)
		}
	}
}

func TestSignalSummary(t *testing.T) {
	at := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	var s schema.SignalSummary
	for _, b := range []event.Body{
		&schema.Signal{PID: 812, Comm: "gimli", Signal: "SIGHUP"}, &schema.Signal{PID: 812, Comm: "gimli", Signal: "SIGHUP"},
		&schema.Signal{PID: 812, Comm: "gimli", Signal: "SIGUSR1"}, &schema.Fork{PID: 812, Comm: "gimli", ChildPID: 900},
		&schema.Exec{PID: 900, OldComm: "gimli", Comm: "gimli"}, &schema.Exit{PID: 900, Comm: "gimli", Status: "killed by SIGKILL"},
	} {
		s.Observe(event.New(at, "signals", b))
	}
	got := strings.Join(s.Lines(), "\n")
	want := "812 gimli: SIGHUP×2, SIGUSR1×1; 1 fork(s)\n900 gimli: no signals; 1 exec(s); killed by SIGKILL"
	if got != want {
		t.Errorf("lines:\n%s\nwant:\n%s", got, want)
	}
	b, _ := json.Marshal(s.Result())
	if !strings.Contains(string(b), `{"pid":812,"comm":"gimli","signals":{"SIGHUP":2,"SIGUSR1":1},"total":3,"forks":1}`) {
		t.Errorf("json %s", b)
	}
}

func TestSignalName(t *testing.T) {
	for n, want := range map[int]string{1: "SIGHUP", 9: "SIGKILL", 31: "SIGSYS", 34: "SIGRTMIN", 64: "SIGRTMIN+30", 99: "SIG99"} {
		if got := schema.SignalName(n); got != want {
			t.Errorf("SignalName(%d) = %s", n, got)
		}
	}
}
