package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/sessions"
)

// pcapSession lets events, report and replay read a capture from tcpdump
// (pcap or pcapng, from any box): the packets are turned into the events the
// packets probe would have recorded, written to a session file in the temp
// directory, which is opened and unlinked at once (the open file lives on).
// ok is false when path is not a capture, so the caller opens it as a
// session file.
func pcapSession(path string) (r *sessions.Reader, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, nil // openSession reports it
	}
	defer f.Close()
	head := make([]byte, 4)
	if _, err := io.ReadFull(f, head); err != nil || !packet.IsPcap(head) {
		return nil, false, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, true, err
	}
	tmp := filepath.Join(os.TempDir(), fmt.Sprintf("stakeout-pcap-%d-%d.stk", os.Getpid(), time.Now().UnixNano()))
	h := sessions.Header{Hostname: "pcap:" + filepath.Base(path),
		StakeoutVersion: version, Command: os.Args}
	var w *sessions.Writer
	var werr error
	skipped, err := packet.PcapEventsSkipping(f, false, func(ev event.Event) {
		if w == nil && werr == nil {
			h.Started = ev.Time
			w, werr = sessions.Create(tmp, h, sessions.WriterOptions{MaxBytes: 1 << 40, FlushEvery: -1})
		}
		if werr == nil {
			werr = w.Write(ev)
		}
	})
	if w != nil {
		defer os.Remove(tmp)
		if cerr := w.Close(); werr == nil {
			werr = cerr
		}
	}
	switch {
	case err != nil:
		return nil, true, fmt.Errorf("%s: %v", path, err)
	case werr != nil:
		return nil, true, fmt.Errorf("%s: converting the capture: %v", path, werr)
	case w == nil:
		return nil, true, fmt.Errorf("%s: the capture holds no packets", path)
	}
	r, err = sessions.Open(tmp)
	if err != nil {
		return nil, true, fmt.Errorf("%s: %v", path, err)
	}
	if skipped.Packets > 0 {
		fmt.Fprintf(os.Stderr, "stakeout: warning: %s: skipped %d packets of %d interfaces: a pcapng section used more than %d interfaces at once\n",
			event.Sanitize(path), skipped.Packets, skipped.Ifaces, packet.MaxPcapIfaces)
	}
	return r, true, nil
}
