package probes

import (
	"errors"

	"golang.org/x/net/bpf"
)

// The kernel filter attached to each capture socket. Classic BPF's return
// value is how many bytes of the packet the kernel copies into the ring, so
// the filter is also how the snap length is enforced (afpacket has no
// snaplen option; libpcap does the same).

// ADAPTER (issue 4): --filter and --bpf need the tcpdump-syntax compiler
// that is being written in package filter (filter.Compile and
// filter.ParseTcpdumpDDD). Until it lands, userFilter refuses both flags
// with a clear error instead of capturing something else.
var errFilterNotBuilt = errors.New("this build has no filter compiler yet (package filter)")

// userFilter compiles --filter or --bpf; nil means "every packet".
func userFilter(cfg PacketsConfig, link linkKind) ([]bpf.RawInstruction, error) {
	switch {
	case cfg.Filter != "" && cfg.BPFFile != "":
		return nil, errors.New("--filter and --bpf: give one, not both")
	case cfg.Filter != "":
		return nil, errors.New("--filter: " + errFilterNotBuilt.Error())
	case cfg.BPFFile != "":
		return nil, errors.New("--bpf: " + errFilterNotBuilt.Error())
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
