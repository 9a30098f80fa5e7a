package probes

// The packets probe: a pure-Go AF_PACKET capture (a TPACKET_V3 ring read in
// place, packets_ring_linux.go) on each chosen interface. Headers are read
// at fixed offsets (packets_decode.go) into a flow id, TCP flags and a
// length per packet, and recorded in compact batches (see packets_event.go).
// Kernel drop counts (PACKET_STATISTICS) are read and emitted every second.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/pflag"
	"github.com/stakeout/stakeout/packet"
	"golang.org/x/sys/unix"
)

const (
	defaultSnaplen = 128 // headers only: Ethernet+VLAN+IPv6+TCP with options fit
	defaultRingMB  = 8
	// With no --iface, stakeout captures on every interface that is up. On a
	// container host that can be hundreds of veths, and rings are pinned
	// kernel memory: the default set shares this budget (at least 1 MiB a
	// ring) and stops at maxDefaultIfaces, in interface index order.
	defaultRingBudgetMB = 64
	maxDefaultIfaces    = 64
	// A ring's blocks are cycled even on a quiet link, so all of it ends up
	// resident. The implicit set gets at most 4 MiB a ring (about 100 ms of
	// 128-byte snaps at 200k packets/s); a named --iface gets --ring-mb.
	maxDefaultRingMB = 4
)

var packetsSpec = Spec{
	Name: packet.PacketsName,
	Help: "packet timeline: per-flow gaps, RSTs and kernel drops (AF_PACKET, headers only)",
	Flags: func(fs *pflag.FlagSet, cfg *Config) {
		p := &cfg.Packets
		fs.StringSliceVar(&p.Ifaces, "iface", nil, "packets: capture on interface `NAME` (repeatable; default: every interface that is up, at most 64, with rings of at most 4 MiB sharing 64 MiB)")
		fs.IntVar(&p.RingMB, "ring-mb", defaultRingMB, "packets: kernel ring size per interface, MiB")
		fs.BoolVar(&p.Payload, "payload", false, "packets: keep and record packet bytes (default: headers only, nothing recorded but a 4-field record)")
		fs.StringVar(&p.Filter, "filter", "", "packets: tcpdump-syntax filter `EXPR`, run in the kernel, e.g. 'vrrp or tcp port 443'")
		fs.StringVar(&p.BPFFile, "bpf", "", "packets: classic BPF program in `FILE`, as printed by tcpdump -ddd EXPR")
	},
	New:      func(cfg Config) Probe { return &packetsProbe{cfg: cfg} },
	Validate: validatePackets,
}

// validatePackets fails fast on flags that name something that isn't there,
// so `snapshot --iface eth9` says so in one line instead of running.
func validatePackets(cfg Config) error {
	p := cfg.Packets
	if p.RingMB < 0 || p.RingMB > 1024 {
		return fmt.Errorf("--ring-mb %d: want 1 to 1024", p.RingMB)
	}
	for _, name := range p.Ifaces {
		if _, err := net.InterfaceByName(name); err != nil {
			return fmt.Errorf("--iface %s: %s", name, noIface(name))
		}
	}
	if _, err := userFilter(p, packet.LinkEthernet); err != nil {
		return err
	}
	return nil
}

// noIface is the reason given for a missing interface, with what exists.
func noIface(name string) string {
	var have []string
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		have = append(have, i.Name)
	}
	sort.Strings(have)
	return fmt.Sprintf("no interface %s (have: %s)", name, strings.Join(have, ", "))
}

type packetsProbe struct {
	cfg Config
}

// target is one interface to capture on.
type target struct {
	name     string
	link     packet.LinkKind
	loopback bool
	ringMB   int
}

// targets resolves --iface, or every interface that is up (bounded: see
// defaultRingBudgetMB).
func (p *packetsProbe) targets() ([]target, error) {
	names := p.cfg.Packets.Ifaces
	defaulted := len(names) == 0
	if defaulted {
		ifs, err := net.Interfaces()
		if err != nil {
			return nil, Unavailablef("cannot list interfaces: %v", err)
		}
		for _, i := range ifs {
			if i.Flags&net.FlagUp != 0 {
				names = append(names, i.Name)
			}
		}
		if len(names) == 0 {
			return nil, Unavailablef("no interface is up")
		}
	}
	var out []target
	for _, name := range names {
		if defaulted && len(out) == maxDefaultIfaces {
			break
		}
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			return nil, Unavailablef("%s", noIface(name))
		}
		link, err := packet.LinkOf(p.arphrd(name))
		if err != nil {
			if defaulted {
				continue // default set: skip what we can't decode
			}
			return nil, Unavailablef("%s: %v", name, err)
		}
		out = append(out, target{name: name, link: link, loopback: ifc.Flags&net.FlagLoopback != 0,
			ringMB: ringMB(p.cfg.Packets)})
	}
	if len(out) == 0 {
		return nil, Unavailablef("no interface with Ethernet or raw IP framing is up")
	}
	if defaulted {
		per := defaultRingShare(len(out), ringMB(p.cfg.Packets))
		for i := range out {
			out[i].ringMB = per
		}
	}
	return out, nil
}

// defaultRingShare is each ring's size when n default interfaces share
// defaultRingBudgetMB: never more than --ring-mb or maxDefaultRingMB, never
// under 1 MiB.
func defaultRingShare(n, perIfaceMB int) int {
	return min(perIfaceMB, maxDefaultRingMB, max(1, defaultRingBudgetMB/max(n, 1)))
}

// arphrd reads the interface's link type; Ethernet if sysfs can't say.
func (p *packetsProbe) arphrd(name string) int {
	b, err := os.ReadFile(p.cfg.SysPath("class", "net", name, "type"))
	if err != nil {
		return 1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 1
	}
	return n
}

// Check resolves the interfaces, compiles the filter and opens (and closes)
// one packet socket, so a missing privilege is reported before Run.
func (p *packetsProbe) Check() error {
	// In the live TUI nothing validated the flags yet: the pane shows why.
	if err := validatePackets(p.cfg); err != nil {
		return Unavailablef("%v", err)
	}
	if _, err := p.targets(); err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return Unavailablef("capturing packets needs root or CAP_NET_RAW")
	}
	if err != nil {
		return Unavailablef("cannot open a packet socket: %v", err)
	}
	unix.Close(fd)
	return nil
}

// Run captures on every target, one goroutine each, until ctx is done. One
// interface failing stops the probe (its status says which and why).
func (p *packetsProbe) Run(ctx context.Context, emit Emit) error {
	ts, err := p.targets()
	if err != nil {
		return err
	}
	snap := uint32(defaultSnaplen)
	if p.cfg.Packets.Payload {
		snap = packet.PayloadSnaplen
	}
	ids := packet.NewFlowIDs() // flow ids are unique across interfaces
	caps := make([]*ifaceCapture, 0, len(ts))
	for _, t := range ts {
		c, err := openCapture(t, p.cfg.Packets, snap, ids, emit)
		if err != nil {
			for _, c := range caps {
				c.close()
			}
			return err
		}
		caps = append(caps, c)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(caps))
	for _, c := range caps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.run(ctx); err != nil {
				errs <- err
				cancel()
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}

func init() { register(packetsSpec) }
