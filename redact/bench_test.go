package redact

import (
	"testing"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
)

// BenchmarkPacketBatch is the hot path of a redacted live recording: one
// 250 ms batch of 2,500 packets (10,000 packets a second).
func BenchmarkPacketBatch(b *testing.B) {
	const n = 2500
	pb := &packet.PacketBatch{Iface: "eth0", Start: t0, DtUs: make([]int64, n), Flow: make([]uint32, n), Flags: make(packet.ByteNums, n), Len: make([]uint32, n)}
	for i := range n {
		pb.DtUs[i], pb.Flow[i], pb.Flags[i], pb.Len[i] = int64(i%400), uint32(i%37), uint8(i%32), uint32(60+i%1400)
	}
	ev := event.New(t0, "packets", pb)
	r := New()
	b.ReportAllocs()
	for b.Loop() {
		r.Event(ev)
	}
}

func BenchmarkKmsgLine(b *testing.B) {
	r := New()
	r.LearnHost("db-7.prod.example.com")
	r.LearnUser("alice")
	ev := event.New(t0, "kmsg", &schema.Kmsg{Level: "warn", Facility: "kern", Text: "IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:ab:cd:ef:08:00 SRC=192.168.1.9 DST=10.0.0.1 LEN=60 PROTO=TCP SPT=5000 DPT=22"})
	b.ReportAllocs()
	for b.Loop() {
		r.Event(ev)
	}
}
