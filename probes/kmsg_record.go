package probes

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/stakeout/stakeout/schema"
)

// kmsgRecord is one /dev/kmsg record, as documented in
// Documentation/ABI/testing/dev-kmsg:
//
//	PRI,SEQ,TS_USEC,FLAGS[,more];MESSAGE\n
//	 KEY=VALUE\n            (dictionary lines, each starting with a space)
//
// PRI is facility<<3 | level. Newer kernels add fields after FLAGS (the
// caller id with CONFIG_PRINTK_CALLER); they are ignored.
type kmsgRecord struct {
	Pri       int
	Seq       uint64
	TSUS      uint64
	Cont      bool
	Text      string
	Device    string
	Subsystem string
}

var errKmsgRecord = errors.New("not a /dev/kmsg record")

// Facility codes 0-23 as syslog(3) names them.
var kmsgFacilities = [...]string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

func (r kmsgRecord) level() string { return schema.KmsgLevels[r.Pri&7] }

func (r kmsgRecord) facility() string {
	if f := r.Pri >> 3; f < len(kmsgFacilities) {
		return kmsgFacilities[f]
	}
	return "facility" + strconv.Itoa(r.Pri>>3)
}

// parseKmsgRecord parses what one read(2) of /dev/kmsg returns.
func parseKmsgRecord(b []byte) (kmsgRecord, error) {
	head, rest, ok := bytes.Cut(b, []byte{';'})
	if !ok {
		return kmsgRecord{}, fmt.Errorf("%w: no ';'", errKmsgRecord)
	}
	f := bytes.Split(head, []byte{','})
	if len(f) < 4 {
		return kmsgRecord{}, fmt.Errorf("%w: %d header fields", errKmsgRecord, len(f))
	}
	pri, err1 := strconv.Atoi(string(f[0]))
	seq, err2 := strconv.ParseUint(string(f[1]), 10, 64)
	ts, err3 := strconv.ParseUint(string(f[2]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || pri < 0 {
		return kmsgRecord{}, fmt.Errorf("%w: bad header %q", errKmsgRecord, head)
	}
	r := kmsgRecord{Pri: pri, Seq: seq, TSUS: ts, Cont: bytes.HasPrefix(f[3], []byte{'c'})}
	msg, dict, _ := bytes.Cut(rest, []byte{'\n'})
	r.Text = string(msg)
	for _, line := range bytes.Split(dict, []byte{'\n'}) {
		k, v, ok := bytes.Cut(bytes.TrimPrefix(line, []byte{' '}), []byte{'='})
		if !ok {
			continue
		}
		switch string(k) {
		case "DEVICE":
			r.Device = string(v)
		case "SUBSYSTEM":
			r.Subsystem = string(v)
		}
	}
	return r, nil
}
