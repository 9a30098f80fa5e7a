package schema

// What a multi-host session records about its hosts (issue 17): the facts
// of each host whose stream connected or whose recording was merged, the
// offset of each host's clock from the local one, and the stream's answer
// to a clock ping. Events from other hosts carry event.Event.Host; these
// carry it in their body too, so a reader of one event alone knows it.

import (
	"fmt"
	"time"

	"github.com/stakeout/stakeout/event"
)

// ProbeRemote is the probe name of the events below.
const ProbeRemote = "remote"

const (
	KindHostFacts  = "host_facts"
	KindClock      = "clock"
	KindStreamPong = "stream.pong"

	// FindingHostLost is raised when a host's stream ends while the
	// session goes on (ssh dropped, the remote stakeout died), and
	// FindingHostBack when it is connected again.
	FindingHostLost = "host.lost"
	FindingHostBack = "host.back"
)

// HostFacts is one host's header facts, as its stream or its recording
// gave them. Host is the name its events carry: the event's own "host"
// says it in JSON (a body must not repeat an envelope member), and
// decoding gives it back (event.HostCarrier). Target is the ssh target as
// typed (empty for a merged file), File the recording (empty live).
type HostFacts struct {
	Host            string    `json:"-"`
	Target          string    `json:"target,omitempty"`
	File            string    `json:"file,omitempty"`
	Hostname        string    `json:"hostname"`
	Kernel          string    `json:"kernel,omitempty"`
	BootTime        time.Time `json:"boot_time,omitzero"`
	CPUs            int       `json:"cpus,omitempty"`
	MemoryBytes     uint64    `json:"memory_bytes,omitempty"`
	StakeoutVersion string    `json:"stakeout_version,omitempty"`
}

func (HostFacts) EventKind() string { return KindHostFacts }

// SetHost is event.HostCarrier.
func (f *HostFacts) SetHost(h string) { f.Host = h }

// Describe says which machine the host name stands for.
func (f HostFacts) Describe() string {
	s := fmt.Sprintf("%s is %s", f.Host, f.Hostname)
	if f.Kernel != "" {
		s += ", kernel " + f.Kernel
	}
	if f.StakeoutVersion != "" {
		s += ", stakeout " + f.StakeoutVersion
	}
	return s
}

// Clock is an estimate of a host's clock against the local one: Offset
// is the host's clock minus the local clock, from the ping with the
// shortest round trip (RTT) of Samples pings, taken at connect and every
// minute. Events from the host are moved back by Offset (their Time), and
// keep the host's own reading (event.Event.HostTime).
type Clock struct {
	Host    string        `json:"-"` // the event's "host" (event.HostCarrier)
	Offset  time.Duration `json:"offset_ns"`
	RTT     time.Duration `json:"rtt_ns"`
	Samples int           `json:"samples"`
}

func (Clock) EventKind() string { return KindClock }

// SetHost is event.HostCarrier.
func (c *Clock) SetHost(h string) { c.Host = h }

// Describe is the offset as the status line shows it.
func (c Clock) Describe() string {
	return fmt.Sprintf("%s clock %+.3fs (±%.3fs)", c.Host, c.Offset.Seconds(), (c.RTT / 2).Seconds())
}

// StreamPong answers the local side's `ping ID` on a stream's stdin. Its
// event Time is the remote clock when it answered.
type StreamPong struct {
	ID uint64 `json:"id"`
}

func (StreamPong) EventKind() string { return KindStreamPong }

// HostLostData is host.lost's and host.back's data.
type HostLostData struct {
	Host   string `json:"host"`
	Target string `json:"target,omitempty"`
	// Error says why the stream ended (host.lost).
	Error string `json:"error,omitempty"`
	// Down is how long the host was lost (host.back).
	Down time.Duration `json:"down_ns,omitempty"`
}

func init() {
	event.Register(KindHostFacts, func() event.Body { return &HostFacts{} }, event.Traits{Control: true})
	event.Register(KindClock, func() event.Body { return &Clock{} }, event.Traits{Control: true})
	event.Register(KindStreamPong, func() event.Body { return &StreamPong{} }, event.Traits{Control: true, Occurrence: true})
	event.RegisterFindingData[HostLostData](FindingHostLost)
	event.RegisterFindingData[HostLostData](FindingHostBack)
}
