// Command udpflood sends a bounded UDP flood over loopback for
// bench/packets.sh and bench/flowstorm.sh: -n datagrams of -size payload
// bytes, as fast as one socket goes. With -ports 1 (the default) they go to
// a socket of its own that never reads (so the kernel drops them there
// quietly, with no ICMP back): one flow. With -ports N the destination port
// cycles over N ports from -base, N flows, as a port scan or a service with
// many clients would make. It prints the rate.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	n := flag.Int("n", 1000000, "datagrams to send")
	size := flag.Int("size", 64, "payload bytes per datagram")
	ports := flag.Int("ports", 1, "destination ports to cycle over (flows)")
	base := flag.Int("base", 20000, "first destination port with -ports")
	flag.Parse()
	buf := make([]byte, *size)
	var send func(i int) error
	if *ports <= 1 {
		rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer rx.Close()
		tx, err := net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		send = func(int) error { _, err := tx.Write(buf); return err }
	} else {
		if *base < 1 || *base+*ports > 65536 {
			fmt.Fprintln(os.Stderr, "udpflood: -base and -ports must stay within 1..65535")
			os.Exit(2)
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer unix.Close(fd)
		// One address per port, made once: Sendto would otherwise be
		// most of the sender's own cost.
		to := make([]unix.SockaddrInet4, *ports)
		for i := range to {
			to[i] = unix.SockaddrInet4{Port: *base + i, Addr: [4]byte{127, 0, 0, 1}}
		}
		send = func(i int) error { return unix.Sendto(fd, buf, 0, &to[i%len(to)]) }
	}
	start := time.Now()
	for i := 0; i < *n; i++ {
		send(i) // a full receive buffer or a closed port drops at the receiver, not here
	}
	d := time.Since(start)
	fmt.Printf("sent %d datagrams of %d bytes to %d ports in %.2fs: %.0f packets/s\n", *n, *size, max(*ports, 1), d.Seconds(), float64(*n)/d.Seconds())
}
