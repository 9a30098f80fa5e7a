package probes

import (
	"time"

	"github.com/stakeout/stakeout/event"
)

// KindKmsg is one kernel log record read from /dev/kmsg.
const KindKmsg = "kmsg"

// Kmsg is one kernel log record. The event's time is the record's kernel
// timestamp converted to wall time for lines logged before stakeout caught
// up with the buffer (Backlog), and the time it was read for lines logged
// while it watched: printk's clock drifts from wall time over a long uptime
// (as `dmesg -T` shows), and a live line is read within milliseconds.
type Kmsg struct {
	Level    string `json:"level"`     // "emerg" … "debug"
	Priority int    `json:"priority"`  // syslog level 0-7 (0 most severe)
	Facility string `json:"facility"`  // "kern" for the kernel, "user" for lines written to /dev/kmsg
	Seq      uint64 `json:"seq"`       // the kernel's record sequence number
	KernelUS uint64 `json:"kernel_us"` // printk timestamp: µs since boot
	Text     string `json:"text"`      // the message as the kernel escaped it (\xNN for non-printables)
	// Device and Subsystem come from the record's dictionary (DEVICE=, SUBSYSTEM=), when given.
	Device    string `json:"device,omitempty"`
	Subsystem string `json:"subsystem,omitempty"`
	Cont      bool   `json:"cont,omitempty"`    // a continuation fragment (flag 'c')
	Backlog   bool   `json:"backlog,omitempty"` // logged before the session, read from the buffer
	// Lost counts records the kernel overwrote before stakeout read them
	// (EPIPE), just before this one.
	Lost uint64 `json:"lost,omitempty"`
}

func (Kmsg) EventKind() string { return KindKmsg }

// AsKmsg returns the Kmsg carried by ev, if it is one.
func AsKmsg(ev event.Event) (*Kmsg, bool) {
	switch b := ev.Body.(type) {
	case *Kmsg:
		return b, b != nil
	case Kmsg:
		return &b, true
	}
	return nil, false
}

func init() { event.Register(KindKmsg, func() event.Body { return &Kmsg{} }) }

// KmsgConfig holds the kmsg probe's flags.
type KmsgConfig struct {
	Backlog time.Duration // --kmsg-backlog: how far before the session to read the buffer
	// Dev is the root of /dev ("/dev" when empty); tests point it at a
	// fixture tree whose dev/kmsg is a regular file of records.
	Dev string
}
