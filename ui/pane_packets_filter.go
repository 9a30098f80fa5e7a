package ui

import (
	"encoding/binary"

	"github.com/stakeout/stakeout/filter"
	"github.com/stakeout/stakeout/packet"
	"golang.org/x/net/bpf"
)

// pktFilter is the packets pane's view filter (f): a tcpdump expression,
// compiled by the filter package the capture uses, run over each packet's
// bytes when they were recorded (--payload), else over its headers rebuilt
// from the record (packet.AppendHeaders, padded to the wire length), as the
// capture's kernel filter would see them: VLAN tags out of the frame.
//
// It filters the view, not the capture: the recording and the detectors
// keep every packet, so a narrow filter typed at 4 a.m. cannot make the
// VRRP adverts look silent to packet.gap or leave them out of the file.
type pktFilter struct {
	expr string
	vms  map[filter.LinkType]*bpf.VM // nil: the expression matches nothing on that link
	memo map[pktMemoKey]bool         // verdicts on rebuilt headers, which depend on these only
	buf  []byte
}

type pktMemoKey struct {
	flow  uint32
	flags uint8
	len   uint32
	link  uint16
}

const pktMemoMax = 4096

// newPktFilter compiles expr; an expression Ethernet does not take is an
// error, one that a raw IP link cannot match just matches nothing there.
func newPktFilter(expr string) (*pktFilter, error) {
	f := &pktFilter{expr: expr, vms: map[filter.LinkType]*bpf.VM{}, memo: map[pktMemoKey]bool{}}
	for _, lt := range []filter.LinkType{filter.LinkEthernet, filter.LinkRaw, filter.LinkLinuxSLL} {
		vm, err := compileVM(expr, lt)
		if err != nil && lt == filter.LinkEthernet {
			return nil, err
		}
		f.vms[lt] = vm
	}
	return f, nil
}

func compileVM(expr string, lt filter.LinkType) (*bpf.VM, error) {
	prog, err := filter.Compile(expr, lt, 0)
	if err != nil {
		return nil, err
	}
	insns, _ := bpf.Disassemble(prog)
	return bpf.NewVM(insns)
}

// match says whether row r of flow fi passes; link is its batch's link type.
func (f *pktFilter) match(fi packet.FlowInfo, r pktRow, link uint16) bool {
	if r.data != nil {
		lt, frame := filterFrame(link, r.data)
		return f.run(lt, frame)
	}
	k := pktMemoKey{fi.ID, r.flags, r.len, link}
	if v, ok := f.memo[k]; ok {
		return v
	}
	fi.VLAN, fi.InnerVLAN = 0, 0
	ether := link == 1
	f.buf = packet.AppendHeaders(f.buf[:0], fi, packet.Packet{Flags: r.flags, Len: r.len}, ether)
	lt := filter.LinkRaw
	if ether {
		lt = filter.LinkEthernet
	}
	if w := min(int(r.len), packet.PayloadSnaplen); f.buf != nil && len(f.buf) < w {
		f.buf = append(f.buf, make([]byte, w-len(f.buf))...)
	}
	v := f.buf != nil && f.run(lt, f.buf)
	if len(f.memo) >= pktMemoMax {
		clear(f.memo)
	}
	f.memo[k] = v
	return v
}

func (f *pktFilter) run(lt filter.LinkType, frame []byte) bool {
	vm := f.vms[lt]
	if vm == nil || frame == nil {
		return false
	}
	n, err := vm.Run(frame)
	return err == nil && n > 0
}

// filterFrame is recorded bytes as the filter takes them: Ethernet without
// its VLAN tags, raw IP whatever its pcap link type said, a Linux cooked
// capture as it is.
func filterFrame(link uint16, data []byte) (filter.LinkType, []byte) {
	switch link {
	case 0, 1:
		for len(data) >= 18 {
			if et := binary.BigEndian.Uint16(data[12:]); et != 0x8100 && et != 0x88a8 {
				break
			}
			data = append(append([]byte(nil), data[:12]...), data[16:]...)
		}
		return filter.LinkEthernet, data
	case 101, 12, 228, 229:
		return filter.LinkRaw, data
	case 113:
		return filter.LinkLinuxSLL, data
	case 276:
		if len(data) >= 20 {
			return filter.LinkRaw, data[20:]
		}
	}
	return 0, nil
}
