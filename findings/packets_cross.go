package findings

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
)

// The cross-host note on packet.gap: when a flow falls silent on one host
// (the receiver) and another recorded host sent that flow, the gap says
// whether the sender's own capture saw it send during the silence. That
// is the VRRP question: an advert lost on the wire, or never sent?
//
// The packet detector still keeps one state per host (perHost); crossPackets
// is the one instance that sees every host's events around it. It knows a
// flow's sender by the flow event's out (the capture saw the flow leave
// that host): a host that sends the flow and never receives it is its
// origin and is preferred to one that forwards it (has it both ways). For
// each flow that one host sends and another receives it keeps the sender's
// recent bursts, so a gap's window can be looked up afterwards.
//
// Hosts' events do not come in time order: live, a remote host's arrive a
// second or two after the local ones; in a replay they are merged by time.
// A gap finding with a sender is held until the sender's capture has shown
// all its packets past the gap's window (its clock per interface, as the
// gap detector's own), or until gapHold has passed on the session's
// timeline, when it goes out saying the sender's packets were not seen.
// Held findings of one condition go out in order, and each is the one
// finding the gap detector made: the note is added, never a second one.

// GapSender is the note a packet.gap carries when another recorded host
// sent the flow: which host, how many of the flow's packets its capture
// saw leave within the gap, and the verdict.
type GapSender struct {
	Host    string `json:"host"`
	Sent    int    `json:"sent"`
	Verdict string `json:"verdict"`
}

// GapSender verdicts.
const (
	GapNotSent      = "not sent"           // the sender's capture covers the gap and it sent nothing
	GapSentNotRecvd = "sent, not received" // it sent Sent packets the receiver never got
	GapSenderUnseen = "not seen"           // its packets for the gap never arrived (within gapHold)
)

const (
	// gapHold is how long, on the session's timeline (the latest event of
	// any host), a gap waits for its sender's events: a remote stream
	// flushes every 250 ms and ssh adds its own delay, and a sender's
	// idle interface shows its clock once a second.
	gapHold = 5 * time.Second
	// gapEdge is the least of a gap's either end that is not counted
	// against the sender (half the usual interval if more): the packets
	// either side that did arrive, seen through two hosts' clocks.
	gapEdge = 100 * time.Millisecond
	// maxHostFlows bounds the flows followed per host (the least
	// recently announced go first: an active flow is announced every
	// minute), maxHostRings the sent flows whose packets are kept per
	// host, and maxHeld the gap findings waiting for their senders.
	maxHostFlows = packet.MaxTrackedFlows
	maxHostRings = 4096
	maxHeld      = 1024
	// ringBursts is how many of a sent flow's recent bursts are kept: a
	// gap's window reaches back that many of the sender's intervals.
	ringBursts = 16
)

var _ [0]struct{} = [ringBursts & (ringBursts - 1)]struct{}{}

// burstGapUs parts a sender's bursts as the gap rule parts a flow's.
var burstGapUs = packet.DefaultGapRule.BurstGap.Microseconds()

type crossPackets struct {
	inner   *perHost
	hosts   map[string]*xhost
	last    *xhost
	flows   map[string]*xflow // by crossName
	held    []heldGap
	blocked map[string]bool // scratch for release
	now     int64           // µs: the latest event time of any host
}

// xhost is what crossPackets keeps of one host.
type xhost struct {
	name  string
	clock map[string]int64      // per interface: µs before which all its packets are seen
	sends map[uint32]*member    // the flows it sends, by the id it sends them under
	rings map[uint32]*burstRing // those of them with a ring: its batches are walked only when there are some
	lru   member                // sentinel: its flows, lru.next the least recently announced
	n     int                   // its flows
}

// xflow is one flow by name, across hosts.
type xflow struct {
	name    string
	members []*member // one per host that has it, first seen first
	nIn     int       // members that receive it
}

// member is one host's part in a flow: it sends it (out), receives it
// (in), or both: it forwards it.
type member struct {
	host       *xhost
	flow       *xflow
	out, in    bool
	iface      string     // out: the interface it sends on
	id         uint32     // out: the id it sends under
	ring       *burstRing // out: nil until another host receives the flow
	from       int64      // µs: the ring holds every packet sent since
	prev, next *member    // the host's LRU list
}

// burstRing is a flow's recent bursts (packets under the gap rule's
// BurstGap apart), newest last.
type burstRing struct {
	pos, len int32
	b        [ringBursts]burst
}

type burst struct {
	start, end int64 // µs
	n          uint32
}

type heldGap struct {
	ev     event.Event
	f      *event.Finding
	sender *member // nil: no note
	s, e   int64   // µs: the window counted against the sender
	key    string
}

func newCrossPackets() *crossPackets {
	return &crossPackets{inner: newPerHost(NewPackets), hosts: map[string]*xhost{}, flows: map[string]*xflow{}}
}

func (c *crossPackets) Produces() []string { return c.inner.Produces() }

func (c *crossPackets) host(name string) *xhost {
	if c.last != nil && c.last.name == name {
		return c.last
	}
	h := c.hosts[name]
	if h == nil {
		h = &xhost{name: name, clock: map[string]int64{}, sends: map[uint32]*member{}, rings: map[uint32]*burstRing{}}
		h.lru.prev, h.lru.next = &h.lru, &h.lru
		c.hosts[name] = h
	}
	c.last = h
	return h
}

func (c *crossPackets) Observe(ev event.Event) []event.Event {
	h := c.host(ev.Host)
	c.now = max(c.now, ev.Time.UnixMicro())
	if fi, ok := event.As[packet.FlowInfo](ev); ok {
		c.flowEvent(h, fi)
	} else if st, ok := event.As[packet.CaptureStats](ev); ok {
		through := st.Through
		if through.IsZero() {
			through = ev.Time.Add(-statsLag) // as the gap detector reads it
		}
		h.advance(st.Iface, through.UnixMicro())
	} else if pb, ok := event.As[packet.PacketBatch](ev); ok && pb.N() > 0 {
		h.advance(pb.Iface, h.walk(pb))
	}
	return c.release(c.hold(c.inner.Observe(ev)), false)
}

// Finish closes what each host's detector still has open and lets every
// held gap go: no sender's event is coming any more.
func (c *crossPackets) Finish() []event.Event {
	return c.release(c.hold(c.inner.Finish()), true)
}

// advance moves the host's clock for iface to us.
func (h *xhost) advance(iface string, us int64) {
	if prev, ok := h.clock[iface]; ok && us <= prev {
		return
	}
	if _, ok := h.clock[iface]; ok || len(h.clock) < maxGapIfaces {
		h.clock[iface] = us
	}
}

// walk puts the batch's packets of the host's watched sent flows in their
// rings and returns the batch's last packet time. A run of one flow costs
// one lookup; a host with no ring is not walked.
func (h *xhost) walk(b *packet.PacketBatch) int64 {
	us := b.Start.UnixMicro()
	n := b.N()
	if len(h.rings) == 0 {
		for _, dt := range b.DtUs[:n] {
			us += dt
		}
		return us
	}
	var cur uint32
	var r *burstRing
	for i := range n {
		us += b.DtUs[i]
		if id := b.Flow[i]; id != cur || i == 0 {
			cur, r = id, h.rings[id]
		}
		if r != nil {
			r.add(us)
		}
	}
	return us
}

func crossName(proto, flow string) string { return proto + " " + flow }

// flowEvent files a host's flow under its name: as a flow it sends, or
// one it receives.
func (c *crossPackets) flowEvent(h *xhost, fi *packet.FlowInfo) {
	if fi.Src == "" && fi.Dst == "" {
		return
	}
	name := crossName(fi.Proto, fi.String())
	if o := h.sends[fi.ID]; o != nil && (o.flow.name != name || o.iface != fi.Iface) {
		c.drop(o) // the id names another flow now
	}
	x := c.flows[name]
	if x == nil {
		x = &xflow{name: name}
		c.flows[name] = x
	}
	m := x.member(h)
	if m == nil {
		if h.n >= maxHostFlows {
			c.drop(h.lru.next) // another flow's: h is not in x
		}
		m = &member{host: h, flow: x}
		x.members = append(x.members, m)
		h.n++
	} else {
		m.prev.next, m.next.prev = m.next, m.prev
	}
	m.prev, m.next = h.lru.prev, &h.lru
	h.lru.prev.next = m
	h.lru.prev = m
	switch {
	case fi.Out && !m.out:
		m.out, m.iface, m.id = true, fi.Iface, fi.ID
		h.sends[fi.ID] = m
	case !fi.Out && !m.in:
		m.in = true
		x.nIn++
	}
	// A sender's packets are kept once another host receives the flow.
	for _, s := range x.members {
		if s.out && s.ring == nil && x.nIn > b2i(s.in) && len(s.host.rings) < maxHostRings {
			s.ring, s.from = &burstRing{}, s.host.clock[s.iface]
			s.host.rings[s.id] = s.ring
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (x *xflow) member(h *xhost) *member {
	for _, m := range x.members {
		if m.host == h {
			return m
		}
	}
	return nil
}

// drop forgets a host's part in a flow, and the flow once no host has it.
// A gap held with it as its sender keeps what its ring holds.
func (c *crossPackets) drop(m *member) {
	h, x := m.host, m.flow
	if i := slices.Index(x.members, m); i >= 0 {
		x.members = slices.Delete(x.members, i, i+1)
	}
	if len(x.members) == 0 {
		delete(c.flows, x.name)
	}
	if m.in {
		x.nIn--
	}
	if m.out && h.sends[m.id] == m {
		delete(h.sends, m.id)
		delete(h.rings, m.id)
	}
	m.prev.next, m.next.prev = m.next, m.prev
	h.n--
}

// senderFor is the host that sent the flow of a gap on host recv: another
// host, its origin if one is known (it sends the flow and does not
// receive it), else one that forwards it. A forwarder's gap on the flow it
// sends on is noted with the origin's sending; the origin's own is not.
func (c *crossPackets) senderFor(recv *xhost, d PacketGapData) *member {
	x := c.flows[crossName(d.Proto, d.Flow)]
	if x == nil {
		return nil
	}
	var origin, fwd *member
	for _, m := range x.members {
		switch {
		case !m.out:
		case m.host == recv:
			if m.iface == d.Iface && !m.in {
				return nil
			}
		case !m.in:
			origin = cmp.Or(origin, m)
		default:
			fwd = cmp.Or(fwd, m)
		}
	}
	return cmp.Or(origin, fwd)
}

// hold queues the gap findings among evs, each with its sender and window,
// and returns the others.
func (c *crossPackets) hold(evs []event.Event) []event.Event {
	out := evs[:0]
	for _, ev := range evs {
		f, ok := event.As[event.Finding](ev)
		var d PacketGapData
		if ok && f.Finding == FindingPacketGap {
			d, ok = f.Data.(PacketGapData)
		}
		if !ok || f.Finding != FindingPacketGap {
			out = append(out, ev)
			continue
		}
		g := heldGap{ev: ev, f: f, key: f.Key}
		if g.sender = c.senderFor(c.host(ev.Host), d); g.sender != nil {
			end := ev.Time.UnixMicro()
			gap := int64(d.GapMs * 1000)
			edge := min(max(int64(d.UsualMs*1000)/2, gapEdge.Microseconds()), gap/4)
			g.s, g.e = end-gap+edge, end-edge
		}
		c.held = append(c.held, g)
	}
	return out
}

// release sends, in order, the held gaps whose sender's clock has passed
// their window or whose wait is over (all of them at the end), each behind
// any earlier one of its condition.
func (c *crossPackets) release(out []event.Event, all bool) []event.Event {
	if len(c.held) == 0 {
		return out
	}
	over := len(c.held) - maxHeld
	clear(c.blocked)
	kept := c.held[:0]
	for i, g := range c.held {
		ready := all || i < over || g.sender == nil ||
			g.sender.host.clock[g.sender.iface] >= g.e || c.now >= g.ev.Time.UnixMicro()+gapHold.Microseconds()
		if !ready || c.blocked[g.key] {
			if c.blocked == nil {
				c.blocked = map[string]bool{}
			}
			c.blocked[g.key] = true
			kept = append(kept, g)
			continue
		}
		if g.sender != nil {
			g.note()
		}
		out = append(out, g.ev)
	}
	clear(c.held[len(kept):])
	c.held = kept
	return out
}

// note adds the sender's verdict on the gap's window to the finding.
func (g *heldGap) note() {
	s := g.sender
	sent, whole := 0, false
	if s.ring != nil {
		sent, whole = s.ring.count(g.s, g.e)
		whole = whole && s.from <= g.s
	}
	n := &GapSender{Host: s.host.name, Sent: sent}
	var says string
	switch who := hostName(s.host.name); {
	case sent > 0:
		n.Verdict = GapSentNotRecvd
		atLeast := ""
		if !whole {
			atLeast = "at least "
		}
		says = fmt.Sprintf("%s sent %s%d packet%s during the gap that %s never received", who, atLeast, sent, plural(sent), hostName(g.ev.Host))
	case whole && s.host.clock[s.iface] >= g.e:
		n.Verdict = GapNotSent
		says = who + " sent nothing during the gap"
	default:
		n.Verdict = GapSenderUnseen
		says = who + "'s packets for the gap were not seen"
	}
	d := g.f.Data.(PacketGapData)
	d.Sender = n
	g.f.Data = d
	g.f.Summary += "; " + says
}

func hostName(h string) string {
	if h == "" {
		return "this host"
	}
	return event.Sanitize(h)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// add counts one packet at us.
func (r *burstRing) add(us int64) {
	if r.len > 0 {
		b := &r.b[(r.pos-1)&(ringBursts-1)]
		if d := us - b.end; d >= 0 && d < burstGapUs {
			b.end = us
			b.n++
			return
		}
	}
	r.b[r.pos] = burst{us, us, 1}
	r.pos = (r.pos + 1) & (ringBursts - 1)
	r.len = min(r.len+1, ringBursts)
}

// count is the packets within (s, e), a burst that straddles an end
// counted in proportion (at least one), and whether the ring reaches back
// to s: if it does not, earlier bursts of the window were forgotten.
func (r *burstRing) count(s, e int64) (n int, whole bool) {
	whole = r.len < ringBursts
	for k := range r.len {
		b := &r.b[(r.pos-1-k)&(ringBursts-1)]
		bs, be := b.start, b.end
		if bs <= s {
			whole = true
		}
		if be <= s || bs >= e {
			continue
		}
		if bs > s && be < e || be == bs {
			n += int(b.n)
			continue
		}
		part := int(int64(b.n) * (min(be, e) - max(bs, s)) / (be - bs))
		n += max(part, 1)
	}
	return n, whole
}

func init() { registerCrossHostDetector(30, func(Config) Detector { return newCrossPackets() }) }
