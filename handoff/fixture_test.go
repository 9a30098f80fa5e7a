package handoff

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

var t0 = time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func eta(s float64) *float64 { return &s }

// fixture is what a recording of the incident holds; hostile strings go in
// the fields a foreign host controls.
type fixture struct {
	host       string
	senderComm string
	noteText   string
	mount      string
}

var plain = fixture{host: "db-7.prod", senderComm: "logrotate",
	noteText: "SIGHUP twice from logrotate; ruled out the load balancer", mount: "/srv/binlog"}

// hostile holds an OSC title sequence, a bell, a screen clear, raw HTML,
// Markdown table and emphasis characters and a bidi override.
const hostileText = "\x1b]0;pwned\x07<script>alert(1)</script> | **x** [l](http://evil) \x1b[2J\u202eevil"

var hostile = fixture{host: "db-7\x1b[31m<b>", senderComm: "\x1b]0;owned\x07|<img src=x>",
	noteText: hostileText, mount: "/srv/bin|log<i>"}

// writeFixture records 60 s of an incident through the real session writer:
// sdb saturated from 04:00:10 to 04:00:22, two SIGHUPs 3 ms apart to gimli
// (pid 812) at 04:00:20, a VRRP flow advertising every second that goes
// silent for 3.5 s after 04:00:30 beside a steady TCP flow (both in 250 ms
// packet batches, as the probe records them), /srv/binlog filling at 50 MB/s,
// and two notes. It holds no findings: they are recomputed.
func writeFixture(t testing.TB, fx fixture) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db-7-20261123T040000Z.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: fx.host, Kernel: "6.18.0", CPUs: 8, MemoryBytes: 16 << 30,
		BootTime: t0.Add(-72 * time.Hour), StakeoutVersion: "test", Command: []string{"stakeout", "--proc", "gimli"},
		Started: t0, Interval: time.Second}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	add := func(t time.Time, probe string, b event.Body) { evs = append(evs, event.New(t, probe, b)) }
	for _, p := range []string{"iostat", "signals", "packets", "diskfill"} {
		add(t0, p, &event.ProbeStatus{Status: event.StatusOK})
	}
	add(t0, "kmsg", &event.ProbeStatus{Status: event.StatusUnavailable, Reason: "no /dev/kmsg: not root"})
	vrrp := packet.FlowInfo{ID: 1, Iface: "veth1", Proto: "vrrp", Src: "10.9.0.1", Dst: "224.0.0.18"}
	tcp := packet.FlowInfo{ID: 2, Iface: "veth1", Proto: "tcp", Src: "10.9.0.1:5000", Dst: "10.9.0.2:80"}
	add(at(0), "packets", &vrrp)
	add(at(0), "packets", &tcp)
	for s := 1; s <= 60; s++ {
		sdb := schema.DeviceIO{Device: "sdb", WPerS: 40, WKBPerS: 320, WAwaitMs: 2, AquSz: 0.1, UtilPct: 8}
		if s >= 10 && s <= 22 {
			sdb = schema.DeviceIO{Device: "sdb", WPerS: 850, WKBPerS: 110800, WAwaitMs: 250, AquSz: 42, UtilPct: 99.8}
		}
		add(at(s*1000), "iostat", &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{sdb}})
		avail := uint64(20<<30) - uint64(s)*50e6
		add(at(s*1000), "diskfill", &schema.DiskUsage{IntervalS: 1, Filesystems: []schema.Filesystem{{
			Mount: fx.mount, Device: "/dev/sdb1", FSType: "xfs", SizeBytes: 100 << 30, UsedBytes: 100<<30 - avail,
			AvailBytes: avail, InodesTotal: 1000, InodesFree: 900,
			Bytes: schema.Trend{RatePerS: 50e6, EtaS: eta(float64(avail) / 50e6), WindowS: 60},
			Writers: []schema.DiskWriter{{PID: 4242, Comm: "mysqld", WriteBytesPerS: 50e6,
				Files: []schema.GrowingFD{{Path: fx.mount + "/mysql-bin.000042", SizeBytes: 1 << 30, GrowthBytesPerS: 50e6}}}}}}})
	}
	// Packets: VRRP on each whole second except 31-33 (the next is at 33.5 s),
	// TCP every 100 ms; cut into 250 ms batches as the probe does.
	var pkts []packet.Packet
	for ms := 100; ms <= 59_900; ms += 100 {
		if ms%1000 == 0 && (ms <= 30_000 || ms >= 34_000) {
			pkts = append(pkts, packet.Packet{Time: at(ms), Flow: 1, Len: 54})
		}
		if ms == 33_500 {
			pkts = append(pkts, packet.Packet{Time: at(ms), Flow: 1, Len: 54})
		}
		pkts = append(pkts, packet.Packet{Time: at(ms + 7), Flow: 2, Flags: packet.FlagACK | packet.FlagPSH, Len: 1514})
	}
	for i := 0; i < len(pkts); {
		cut := pkts[i].Time.Truncate(250 * time.Millisecond).Add(250 * time.Millisecond)
		b := &packet.PacketBatch{Iface: "veth1", Start: pkts[i].Time}
		prev := pkts[i].Time
		for ; i < len(pkts) && pkts[i].Time.Before(cut); i++ {
			p := pkts[i]
			b.DtUs = append(b.DtUs, p.Time.Sub(prev).Microseconds())
			b.Flow = append(b.Flow, p.Flow)
			b.Flags = append(b.Flags, p.Flags)
			b.Len = append(b.Len, p.Len)
			prev = p.Time
		}
		add(prev, "packets", b)
	}
	uid := 0
	add(at(5000), "signals", &schema.Exec{PID: 812, OldComm: "sh", Comm: "gimli", Filename: "/usr/sbin/gimli"})
	for _, ms := range []int{20_000, 20_003} {
		add(at(ms), "signals", &schema.Signal{PID: 812, TID: 812, Comm: "gimli", Signal: "SIGHUP", Signo: 1, Code: "SI_USER",
			SenderPID: 4410, SenderUID: &uid, SenderComm: fx.senderComm})
	}
	add(at(25_000), event.ProbeNote, &event.Note{Author: "alice", Text: fx.noteText})
	add(at(12_500), event.ProbeNote, &event.Note{Author: "bob", Text: "sdb latency is the binlog flush"})
	sortEvents(evs)
	for _, ev := range evs {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// sortEvents puts events in time order, as a recorder receives them;
// events at the same time keep their order.
func sortEvents(evs []event.Event) {
	slices.SortStableFunc(evs, func(a, b event.Event) int { return a.Time.Compare(b.Time) })
}

func build(t testing.TB, path string, opt Options) *Report {
	t.Helper()
	r, err := sessions.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if opt.File == "" {
		opt.File = "/var/tmp/stakeout/db-7-20261123T040000Z.stk"
	}
	rep, err := Build(r, opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
