package ptrace

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stakeout/stakeout/schema"
)

func rawSiginfo(signo, code int32, a, b uint32, c int32, addr uint64) *Siginfo {
	var raw Siginfo
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
		raw  *Siginfo
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
		c.raw.Decode(s)
		b, _ := json.Marshal(s)
		if !strings.Contains(string(b), c.want) {
			t.Errorf("got %s\nwant …%s…", b, c.want)
		}
	}
}
