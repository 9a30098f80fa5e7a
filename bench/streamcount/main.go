// Command streamcount is bench/stream.sh's reading side: it reads a
// `stakeout stream` from stdin, as `stakeout --ssh` does, and when the
// stream ends prints what came: the bytes of the stream, the events, the
// packets recorded on -iface, the kernel's drops there (capture_stats),
// and the events the stream itself dropped (stream.dropped). It keeps
// nothing, so it reads as fast as the stream can be decoded.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

func main() {
	iface := flag.String("iface", "lo", "interface whose packets to count")
	flag.Parse()
	sr, err := sessions.ReadStream(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "streamcount:", err)
		os.Exit(1)
	}
	var events, packets, kernelDrops, streamDrops uint64
	for {
		ev, err := sr.Next()
		if err != nil {
			end := "clean"
			if err != io.EOF {
				end = err.Error()
			}
			fmt.Printf("stream_bytes %d events %d packets %d kernel_drops %d stream_dropped %d end %q\n",
				sr.Offset(), events, packets, kernelDrops, streamDrops, end)
			return
		}
		events++
		switch b := ev.Body.(type) {
		case *packet.PacketBatch:
			if b.Iface == *iface {
				packets += uint64(b.N())
			}
		case *packet.CaptureStats:
			if b.Iface == *iface {
				kernelDrops += b.Drops
			}
		case *schema.StreamDropped:
			streamDrops += b.Events
		}
	}
}
