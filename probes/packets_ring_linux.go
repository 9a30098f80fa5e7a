package probes

// ring is one AF_PACKET socket with a TPACKET_V3 receive ring, read in place
// a block at a time. gopacket/afpacket reads the same ring, but one packet a
// call, each behind a mutex, seven interface calls and an atomic counter,
// with a time.Time built per packet: in the bench's 200k packets/s flood
// that alone cost as much CPU as tcpdump spends in all (issue 4's budget
// for stakeout's whole capture). Walking the block in a loop costs about a
// third of it. The socket is set up as libpcap does, in the order that
// lets no unfiltered packet into the ring: a socket bound to no protocol,
// then the TPACKET_V3 version, the filter, the ring, and only then bind to
// the interface for every protocol.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/stakeout/stakeout/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

const (
	ringFrameSize = 4096 // only checked by the kernel in V3: blocks hold packets of any size
	ringBlockTov  = 64   // ms: a block with packets in it is handed over after this at the latest
	ethPAll       = unix.ETH_P_ALL
	tpacket3Off   = 8 // the block header (tpacket_hdr_v1) follows version and offset_to_priv
)

var errRingTimeout = errors.New("no packet within the poll timeout")

// The socket is non-blocking and waited on through Go's netpoller (the
// kernel wakes it when it hands a block over): a blocking poll(2) parks an
// OS thread, so the runtime hands its P to another thread and sysmon keeps
// waking every 20 µs, which under a flood cost more system time than
// tcpdump's whole capture.
type ring struct {
	fd      int
	file    *os.File // fd, registered with the netpoller
	rc      syscall.RawConn
	mem     []byte
	blockSz int
	nblocks int
	cur     int // the block to read next
	stop    atomic.Bool
}

// ringPacket is one packet of a block, valid until the block is released.
type ringPacket struct {
	data []byte
	us   int64  // kernel timestamp, µs since the epoch
	wire uint32 // length on the wire (without a tag the kernel stripped)
	tag  packet.VlanTag
	out  bool // the host sent it (sll_pkttype PACKET_OUTGOING)
}

// The sockaddr_ll the kernel writes after each packet's tpacket3_hdr
// (at TPACKET_ALIGN of its size, which is already aligned) holds the
// packet's type at this offset: after family, protocol, ifindex, hatype.
const sllPkttypeOff = unix.SizeofTpacket3Hdr + 10

// openRing opens a capture on iface with a ring of blocks of blockSz bytes
// and the classic BPF program prog attached.
func openRing(iface string, blockSz, nblocks int, prog []bpf.RawInstruction) (*ring, error) {
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, err
	}
	if len(prog) == 0 || len(prog) > 4096 {
		return nil, fmt.Errorf("filter of %d instructions", len(prog))
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	r := &ring{fd: fd, blockSz: blockSz, nblocks: nblocks}
	fail := func(what string, err error) (*ring, error) {
		r.close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fail("TPACKET_V3", err)
	}
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp); err != nil {
		return fail("attaching filter", err)
	}
	req := unix.TpacketReq3{Block_size: uint32(blockSz), Block_nr: uint32(nblocks),
		Frame_size: ringFrameSize, Frame_nr: uint32(blockSz / ringFrameSize * nblocks), Retire_blk_tov: ringBlockTov}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fail("ring of "+fmt.Sprint(nblocks)+" blocks", err)
	}
	if r.mem, err = unix.Mmap(fd, 0, blockSz*nblocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return fail("mapping the ring", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(ethPAll), Ifindex: ifc.Index}); err != nil {
		return fail("bind", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return fail("non-blocking", err)
	}
	r.file = os.NewFile(uintptr(fd), "packet:"+iface) // owns fd from here on
	if r.rc, err = r.file.SyscallConn(); err != nil {
		return fail("netpoller", err)
	}
	return r, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (r *ring) close() {
	if r.mem != nil {
		unix.Munmap(r.mem)
		r.mem = nil
	}
	switch {
	case r.file != nil:
		r.file.Close()
		r.file = nil
	case r.fd >= 0:
		unix.Close(r.fd)
	}
	r.fd = -1
}

// blockHdr is the current block's header.
func (r *ring) blockHdr() *unix.TpacketHdrV1 {
	return (*unix.TpacketHdrV1)(unsafe.Pointer(&r.mem[r.cur*r.blockSz+tpacket3Off]))
}

// wake makes a waiting next return at once, and every later one too: the
// capture is stopping. Safe to call from any goroutine.
func (r *ring) wake() {
	r.stop.Store(true)
	r.file.SetReadDeadline(time.Now())
}

// ready is whether the kernel has handed over a block not yet read.
func (r *ring) ready() bool {
	return atomic.LoadUint32(&r.blockHdr().Block_status)&unix.TP_STATUS_USER != 0
}

// next waits (until the deadline) for the kernel to hand over the current
// block, and calls fn for each of its packets; then the block goes back to
// the kernel. It returns errRingTimeout if no block came.
func (r *ring) next(deadline time.Time, fn func(p *ringPacket)) error {
	h := r.blockHdr()
	ready := func(uintptr) bool { return atomic.LoadUint32(&h.Block_status)&unix.TP_STATUS_USER != 0 }
	if !ready(0) {
		r.file.SetReadDeadline(deadline)
		// After the deadline is set: a wake from now on moves it to now,
		// and one before it is seen here.
		if r.stop.Load() {
			return errRingTimeout
		}
		err := r.rc.Read(ready)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return errRingTimeout
		case err != nil:
			// An error queued on the socket (the interface went down):
			// reading it clears it.
			if serr, _ := unix.GetsockoptInt(r.fd, unix.SOL_SOCKET, unix.SO_ERROR); serr != 0 {
				return fmt.Errorf("capture socket: %v", unix.Errno(serr))
			}
			return err
		}
	}
	blk := r.mem[r.cur*r.blockSz : (r.cur+1)*r.blockSz]
	off := int(h.Offset_to_first_pkt)
	var p ringPacket
	for range h.Num_pkts {
		// The kernel wrote these offsets; a bad one ends the block rather
		// than the probe.
		if off <= 0 || off+unix.SizeofTpacket3Hdr > len(blk) {
			break
		}
		ph := (*unix.Tpacket3Hdr)(unsafe.Pointer(&blk[off]))
		start := off + int(ph.Mac)
		end := start + int(ph.Snaplen)
		if end > len(blk) || start > end {
			break
		}
		p.data = blk[start:end:end]
		p.us = int64(ph.Sec)*1e6 + int64(ph.Nsec)/1e3
		p.wire = ph.Len
		p.out = off+sllPkttypeOff < len(blk) && blk[off+sllPkttypeOff] == unix.PACKET_OUTGOING
		p.tag = packet.VlanTag{}
		if ph.Status&unix.TP_STATUS_VLAN_VALID != 0 {
			p.tag = packet.VlanTag{Tpid: packet.EtherDot1Q, Tci: uint16(ph.Hv1.Vlan_tci)}
			if ph.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 && ph.Hv1.Vlan_tpid != 0 {
				p.tag.Tpid = ph.Hv1.Vlan_tpid
			}
		}
		fn(&p)
		if ph.Next_offset == 0 {
			break
		}
		off += int(ph.Next_offset)
	}
	atomic.StoreUint32(&h.Block_status, unix.TP_STATUS_KERNEL)
	r.cur = (r.cur + 1) % r.nblocks
	return nil
}

// stats reads PACKET_STATISTICS, which the kernel zeroes on every read:
// packets that passed the filter (drops included), drops because the ring
// was full, and how often the ring froze full.
func (r *ring) stats() (packets, drops, freezes uint32, err error) {
	st, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return 0, 0, 0, err
	}
	return st.Packets, st.Drops, st.Freeze_q_cnt, nil
}
