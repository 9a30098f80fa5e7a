// Command synflood sends TCP SYNs from random source addresses and ports,
// as a spoofed SYN flood does, for bench/flowstorm.sh and the end-to-end
// tests. It writes whole IPv4 packets to a raw socket (IP_HDRINCL), -batch
// at a time with sendmmsg, so one core sends a few hundred thousand a
// second. Needs root (CAP_NET_RAW). Sources are drawn from -src, so the
// replies (SYN-ACKs, or RSTs from a closed port) go to addresses nobody
// holds.
//
// With -listen ADDR:PORT it instead listens there and never accepts, so a
// flood gets SYN-ACKs (SYN cookies once the backlog is full) rather than
// resets, until it is killed.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr: a msghdr and the bytes sent.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

func main() {
	n := flag.Int("n", 2000000, "SYNs to send")
	dst := flag.String("dst", "", "destination `ADDR:PORT` (IPv4)")
	src := flag.String("src", "198.18.0.0/15", "source addresses are drawn at random from this `PREFIX`")
	rate := flag.Int("rate", 0, "at most this many SYNs a second (0: as fast as it goes)")
	batch := flag.Int("batch", 64, "SYNs per sendmmsg call")
	seed := flag.Uint64("seed", 1, "random seed")
	listen := flag.String("listen", "", "listen on `ADDR:PORT` and never accept, until killed")
	flag.Parse()
	if *listen != "" {
		listenForever(*listen)
		return
	}
	to, err := netip.ParseAddrPort(*dst)
	if err != nil || !to.Addr().Is4() {
		fail(fmt.Errorf("-dst %q: want an IPv4 ADDR:PORT", *dst))
	}
	pfx, err := netip.ParsePrefix(*src)
	if err != nil || !pfx.Addr().Is4() {
		fail(fmt.Errorf("-src %q: want an IPv4 prefix", *src))
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		fail(fmt.Errorf("raw socket: %w", err))
	}
	defer unix.Close(fd)

	*batch = max(1, min(*batch, 1024))
	start := time.Now()
	sent := flood(fd, *n, *batch, *rate, *seed, pfx, to)
	d := time.Since(start)
	fmt.Printf("sent %d SYNs to %s in %.2fs: %.0f packets/s\n", sent, to, d.Seconds(), float64(sent)/d.Seconds())
}

// listenForever listens on addr and never accepts, until SIGINT or SIGTERM.
func listenForever(addr string) {
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		fail(err)
	}
	defer l.Close()
	fmt.Println("listening on", l.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
}

// flood sends n SYNs to `to` from random sources in pfx, batch at a time,
// at most rate a second (0: no limit), and returns how many it sent.
func flood(fd, n, batch, rate int, seed uint64, pfx netip.Prefix, to netip.AddrPort) int {
	rng := rand.New(rand.NewPCG(seed, 15))
	base := binary.BigEndian.Uint32(pfx.Masked().Addr().AsSlice())
	hostBits := uint32(0xffffffff)
	if pfx.Bits() > 0 {
		hostBits = ^uint32(0) >> pfx.Bits()
	}
	dstIP := to.Addr().As4()
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: dstIP}
	pkts := make([][40]byte, batch)
	iovs := make([]unix.Iovec, batch)
	msgs := make([]mmsghdr, batch)
	for i := range pkts {
		iovs[i].Base = &pkts[i][0]
		iovs[i].SetLen(40)
		msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&sa))
		msgs[i].hdr.Namelen = unix.SizeofSockaddrInet4
		msgs[i].hdr.Iov = &iovs[i]
		msgs[i].hdr.SetIovlen(1)
	}
	start := time.Now()
	sent := 0
	for sent < n {
		k := min(batch, n-sent)
		for i := range k {
			s := base | rng.Uint32()&hostBits
			syn(&pkts[i], s, dstIP, uint16(1024+rng.IntN(64511)), to.Port(), rng.Uint32())
		}
		for off := 0; off < k; {
			r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[off])), uintptr(k-off), 0, 0, 0)
			if e != 0 {
				if e == unix.ENOBUFS || e == unix.EAGAIN || e == unix.EINTR {
					continue
				}
				fail(fmt.Errorf("sendmmsg: %w", e))
			}
			off += int(r)
		}
		sent += k
		if rate > 0 {
			if ahead := time.Duration(float64(sent)/float64(rate)*float64(time.Second)) - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
	}
	return sent
}

// syn writes a 40-byte IPv4/TCP SYN into p with a correct TCP checksum
// (the receiver drops one without); the kernel fills in the IP checksum,
// total length and id.
func syn(p *[40]byte, src uint32, dst [4]byte, sport, dport uint16, seq uint32) {
	be := binary.BigEndian
	*p = [40]byte{}
	p[0], p[8], p[9] = 0x45, 64, unix.IPPROTO_TCP // version and header length, TTL, protocol
	be.PutUint32(p[12:], src)
	copy(p[16:20], dst[:])
	t := p[20:]
	be.PutUint16(t[0:], sport)
	be.PutUint16(t[2:], dport)
	be.PutUint32(t[4:], seq)
	t[12], t[13] = 5<<4, 0x02 // data offset 5 words; SYN
	be.PutUint16(t[14:], 64240)
	// The checksum over the pseudo-header (addresses, protocol, length)
	// and the 20-byte header.
	sum := uint32(unix.IPPROTO_TCP) + 20
	for i := 12; i < 20; i += 2 {
		sum += uint32(be.Uint16(p[i:]))
	}
	for i := 0; i < 20; i += 2 {
		sum += uint32(be.Uint16(t[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	be.PutUint16(t[16:], ^uint16(sum))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "synflood:", err)
	os.Exit(1)
}
