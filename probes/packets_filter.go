package probes

import (
	"errors"
	"fmt"
	"os"

	"github.com/stakeout/stakeout/filter"
	"github.com/stakeout/stakeout/packet"
	"golang.org/x/net/bpf"
)

// The kernel filter attached to each capture socket. Classic BPF's return
// value is how many bytes of the packet the kernel copies into the ring, so
// the filter is also how the snap length is enforced (afpacket has no
// snaplen option; libpcap does the same).

// userFilter compiles --filter (tcpdump syntax, package filter) or loads
// --bpf (tcpdump -ddd output) for one link type; nil means "every packet".
// Accepting returns are capped to the snap length by kernelFilter.
func userFilter(cfg packet.PacketsConfig, link packet.LinkKind) ([]bpf.RawInstruction, error) {
	switch {
	case cfg.Filter != "" && cfg.BPFFile != "":
		return nil, errors.New("--filter and --bpf: give one, not both")
	case cfg.Filter != "":
		lt := filter.LinkEthernet
		if link == packet.LinkRawIP {
			lt = filter.LinkRaw
		}
		prog, err := filter.Compile(cfg.Filter, lt, 0)
		if err != nil {
			return nil, fmt.Errorf("--filter %q: %w", cfg.Filter, err)
		}
		return prog, nil
	case cfg.BPFFile != "":
		text, err := os.ReadFile(cfg.BPFFile)
		if err != nil {
			return nil, fmt.Errorf("--bpf: %w", err)
		}
		prog, err := filter.ParseTcpdumpDDD(string(text))
		if err != nil {
			return nil, fmt.Errorf("--bpf %s: %w", cfg.BPFFile, err)
		}
		return prog, nil
	}
	return nil, nil
}

// kernelFilter builds the program for one socket: on loopback first drop
// the outgoing copy of every packet (each one passes the capture point twice
// there; libpcap drops it too, in user space), then the user's filter with
// every accepting return capped to snaplen, or plain "accept snaplen".
func kernelFilter(user []bpf.RawInstruction, snaplen uint32, loopback bool) ([]bpf.RawInstruction, error) {
	var prog []bpf.RawInstruction
	if loopback {
		pre, err := bpf.Assemble([]bpf.Instruction{
			bpf.LoadExtension{Num: bpf.ExtType}, // skb->pkt_type
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 4 /* PACKET_OUTGOING */, SkipTrue: 0, SkipFalse: 1},
			bpf.RetConstant{Val: 0},
		})
		if err != nil {
			return nil, err
		}
		prog = append(prog, pre...)
	}
	if len(user) == 0 {
		return append(prog, bpf.RawInstruction{Op: 0x06 /* BPF_RET|BPF_K */, K: snaplen}), nil
	}
	for _, ins := range user {
		// BPF_RET|BPF_K with a non-zero length accepts: cap it.
		if ins.Op == 0x06 && ins.K > snaplen {
			ins.K = snaplen
		}
		prog = append(prog, ins)
	}
	return prog, nil
}
