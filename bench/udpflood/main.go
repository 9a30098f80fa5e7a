// Command udpflood sends a bounded UDP flood over loopback for
// bench/packets.sh: -n datagrams of -size payload bytes, as fast as one
// socket goes, to a socket of its own that never reads (so the kernel
// drops them there quietly, with no ICMP back). It prints the rate.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	n := flag.Int("n", 1000000, "datagrams to send")
	size := flag.Int("size", 64, "payload bytes per datagram")
	flag.Parse()
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
	buf := make([]byte, *size)
	start := time.Now()
	for i := 0; i < *n; i++ {
		tx.Write(buf) // a full receive buffer drops at the receiver, not here
	}
	d := time.Since(start)
	fmt.Printf("sent %d datagrams of %d bytes in %.2fs: %.0f packets/s\n", *n, *size, d.Seconds(), float64(*n)/d.Seconds())
}
