package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/sessions"
)

func newExportCmd() *cobra.Command {
	var pcapOut string
	cmd := &cobra.Command{
		Use:   "export FILE [FILE...] --pcap OUT.pcap",
		Short: "write a recording's packets as a pcap file for Wireshark",
		Long: `export writes the packets recorded by the packets probe as a pcap file.
A recording made with --payload holds the captured bytes, which are written
as they were, under the link type they were captured with (Ethernet, or raw
IP from a tun or wireguard interface); otherwise each packet's headers (VLAN
tags, addresses, ports, protocol, TCP flags, lengths) are rebuilt from its
header record, and the original length is kept, as in any capture with a
short snap length. When interfaces of different link types were recorded
together, the file is Ethernet and the others' packets get an Ethernet
header in front.

Packets of several hosts (a recording made with --ssh or by "merge", or
several files read as one) are written as pcapng instead, with one interface
per host and interface, named "host:iface" (the recording's own host by its
hostname), so Wireshark keeps r1's eth0 apart from r2's. A recording of one
host's packets is a classic pcap file, as always.`,
		Example: `  stakeout export web-3.stk --pcap web-3.pcap && wireshark web-3.pcap
  stakeout export r1.stk r2.stk r3.stk --pcap vrrp.pcapng`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pcapOut == "" {
				return usageErr("export needs --pcap OUT.pcap")
			}
			r, err := openRecordings(args)
			if err != nil {
				return err
			}
			defer r.Close()
			f, err := os.OpenFile(pcapOut, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("--pcap %s: %v", event.Sanitize(pcapOut), unwrapPath(err))
			}
			bw := bufio.NewWriterSize(f, 1<<16)
			n, ng, readErr, err := exportPackets(bw, r, strings.Join(args, " "))
			// Damage ends the reading, not the export: the packets before
			// it are written, and readDone says what was lost.
			if ferr := bw.Flush(); err == nil {
				err = ferr
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("--pcap %s: %v", event.Sanitize(pcapOut), err)
			}
			what := ""
			if ng {
				what = " (pcapng, an interface per host and interface)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d packets to %s%s\n", n, event.Sanitize(pcapOut), what)
			return readDone(args, r, readErr)
		},
	}
	cmd.Flags().StringVar(&pcapOut, "pcap", "", "pcap file to write (must not exist)")
	return cmd
}

// packetWriter is the pcap or the pcapng writer.
type packetWriter interface {
	Observe(event.Event) error
	Packets() int
}

// exportPackets writes r's packets to w: pcap, or pcapng when they are of
// several hosts (ng). readErr is the damage that ended the reading; err
// is any other failure.
func exportPackets(w io.Writer, r sessions.Recording, label string) (n int, ng bool, readErr, err error) {
	// A first pass finds the link types (the file has the one they share,
	// else Ethernet) and whether the packets are of several hosts.
	links, hosts, err := exportLinkTypes(r)
	if err != nil {
		return 0, false, nil, err
	}
	ng = hosts || len(r.Files()) > 1
	var pw packetWriter
	if ng {
		pw, err = packet.NewPcapNgWriter(w, r.Header().Hostname, links...)
	} else {
		pw, err = packet.NewPcapWriter(w, links...)
	}
	if err != nil {
		return 0, ng, nil, err
	}
	it, done := withProgress(r.Events(time.Time{}), r, label, false)
	for ev, ok := it.Next(); ok && err == nil; ev, ok = it.Next() {
		if ev.Probe == "packets" || ev.Kind == packet.KindPackets {
			err = pw.Observe(ev)
		}
	}
	done()
	if err == nil {
		err = it.Err()
	}
	if isDamage(err) {
		readErr, err = err, nil
	}
	return pw.Packets(), ng, readErr, err
}

// exportLinkTypes lists the link types the recording's packets are written
// with, and says whether any of them name a host (another host's packets).
func exportLinkTypes(r sessions.Recording) ([]uint16, bool, error) {
	seen := map[uint16]bool{}
	var links []uint16
	hosts := false
	it := r.Events(time.Time{})
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		if b, ok := event.As[packet.PacketBatch](ev); ok && b.N() > 0 {
			hosts = hosts || ev.Host != ""
			if l := packet.ExportLinkType(b); !seen[l] {
				seen[l] = true
				links = append(links, l)
			}
		}
	}
	if err := it.Err(); err != nil && !isDamage(err) {
		return nil, false, err
	}
	return links, hosts, nil
}
