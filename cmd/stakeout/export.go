package main

import (
	"bufio"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/sessions"
)

func newExportCmd() *cobra.Command {
	var pcapOut string
	cmd := &cobra.Command{
		Use:   "export FILE --pcap OUT.pcap",
		Short: "write a recording's packets as a pcap file for Wireshark",
		Long: `export writes the packets recorded by the packets probe as a pcap file.
A recording made with --payload holds the captured bytes, which are written
as they were, under the link type they were captured with (Ethernet, or raw
IP from a tun or wireguard interface); otherwise each packet's headers (VLAN
tags, addresses, ports, protocol, TCP flags, lengths) are rebuilt from its
header record, and the original length is kept, as in any capture with a
short snap length. When interfaces of different link types were recorded
together, the file is Ethernet and the others' packets get an Ethernet
header in front.`,
		Example: `  stakeout export web-3.stk --pcap web-3.pcap && wireshark web-3.pcap`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pcapOut == "" {
				return usageErr("export needs --pcap OUT.pcap")
			}
			r, err := openSession(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			f, err := os.OpenFile(pcapOut, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("--pcap %s: %v", event.Sanitize(pcapOut), unwrapPath(err))
			}
			bw := bufio.NewWriterSize(f, 1<<16)
			// A first pass finds the link types: the file has the one they
			// share, else Ethernet.
			links, err := exportLinkTypes(r)
			var pw *packet.PcapWriter
			if err == nil {
				pw, err = packet.NewPcapWriter(bw, links...)
			}
			if err == nil {
				it, done := withProgress(r.Iter(time.Time{}), r, args[0], false)
				for ev, ok := it.Next(); ok && err == nil; ev, ok = it.Next() {
					if ev.Probe == "packets" || ev.Kind == packet.KindPackets {
						err = pw.Observe(ev)
					}
				}
				done()
				if err == nil {
					err = it.Err()
				}
			}
			// Damage ends the reading, not the export: the packets before
			// it are written, and readDone says what was lost.
			readErr := err
			if isDamage(err) {
				err = nil
			}
			if ferr := bw.Flush(); err == nil {
				err = ferr
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("--pcap %s: %v", event.Sanitize(pcapOut), err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d packets to %s\n", pw.Packets(), event.Sanitize(pcapOut))
			return readDone(args[0], r, readErr)
		},
	}
	cmd.Flags().StringVar(&pcapOut, "pcap", "", "pcap file to write (must not exist)")
	return cmd
}

// exportLinkTypes lists the link types the recording's packets are written
// with.
func exportLinkTypes(r *sessions.Reader) ([]uint16, error) {
	seen := map[uint16]bool{}
	var links []uint16
	it := r.Iter(time.Time{})
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		if b, ok := event.As[packet.PacketBatch](ev); ok && b.N() > 0 {
			if l := packet.ExportLinkType(b); !seen[l] {
				seen[l] = true
				links = append(links, l)
			}
		}
	}
	if err := it.Err(); err != nil && !isDamage(err) {
		return nil, err
	}
	return links, nil
}
