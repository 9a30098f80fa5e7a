package findings

import (
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// recordAndRead writes evs into a real recording and reads them back.
func recordAndRead(t *testing.T, evs []event.Event) []event.Event {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fdata.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "h", Started: t0}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := sessions.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []event.Event
	it := r.Iter(time.Time{})
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		out = append(out, ev)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func findingsOf(evs []event.Event) []event.Event {
	var out []event.Event
	for _, ev := range evs {
		if _, ok := event.As[event.Finding](ev); ok {
			out = append(out, ev)
		}
	}
	return out
}

// Findings made by real detectors (a signal burst; a filling disk, whose
// data nests writers and their files) read back from a recording with
// their data of the same Go type and equal value, and write out again
// byte for byte.
func TestDetectorFindingDataReadsBackTyped(t *testing.T) {
	sigs := []event.Event{sigAt(0, 812, "SIGHUP", 4410), sigAt(3, 812, "SIGHUP", 4410), sigAt(5000, 812, "SIGUSR1", 1)}
	disk := diskScript(90, func(i int) schema.Filesystem {
		return binlog(20<<10, schema.Trend{RatePerS: 50e6, EtaS: eta(429.5), WindowS: 60})
	})
	live := append(findingsOf(Run([]Detector{NewSignals(SignalThresholds{})}, sigs)), findingsOf(Run([]Detector{NewDiskFill()}, disk))...)
	names := map[string]bool{}
	for _, ev := range live {
		f, _ := event.As[event.Finding](ev)
		names[f.Finding] = true
	}
	if !names[FindingSignalBurst] || !names[FindingDiskFilling] {
		t.Fatalf("the detectors made %v", names)
	}
	got := recordAndRead(t, live)
	if len(got) != len(live) {
		t.Fatalf("read back %d events, wrote %d", len(got), len(live))
	}
	for i, ev := range got {
		f, _ := event.As[event.Finding](ev)
		want, _ := event.As[event.Finding](live[i])
		if reflect.TypeOf(f.Data) != reflect.TypeOf(want.Data) {
			t.Errorf("%s: data read back as %T, made as %T", f.Finding, f.Data, want.Data)
		} else if !reflect.DeepEqual(f.Data, want.Data) {
			t.Errorf("%s: data read back as %+v, made as %+v", f.Finding, f.Data, want.Data)
		}
		a, _ := ev.MarshalJSON()
		b, _ := live[i].MarshalJSON()
		if string(a) != string(b) {
			t.Errorf("written again as\n%s\nmade as\n%s", a, b)
		}
	}
}

// Every finding a detector makes has its data type and evidence rule
// registered, and a value of that type with every field set reads back
// from a recording as the same type and value (a type whose JSON form does
// not say all of it would read back generic).
func TestEveryFindingDataTypeReadsBack(t *testing.T) {
	samples := map[string]any{
		FindingConntrackPressure: ConntrackPressureData{},
		FindingConntrackDropping: ConntrackDroppingData{},
		FindingCoreDumpsLost:     CoreDumpsLostData{},
		FindingDiskFilling:       DiskFillingData{},
		FindingDiskInodesFilling: DiskInodesFillingData{},
		FindingDiskDeletedOpen:   DiskDeletedOpenData{},
		FindingIOSaturated:       IOSaturatedData{},
		FindingSegfault:          SegfaultData{},
		FindingOOMKill:           OOMKillData{},
		FindingHungTask:          schema.HungTaskLine{},
		FindingIOError:           IOErrorData{},
		FindingModuleLoaded:      ModuleLoadedData{},
		FindingPacketGap:         PacketGapData{},
		FindingPacketStallReset:  PacketStallResetData{},
		FindingPacketRSTStorm:    PacketRSTStormData{},
		FindingPacketDrops:       PacketDropsData{},
		FindingSignalBurst:       SignalBurstData{},
		FindingExecRace:          ExecRaceData{},
		FindingSignalStorm:       SignalStormData{},
		FindingProcessKilled:     ProcessKilledData{},
		FindingHostPressure:      HostPressureData{},
		FindingHostCPUSteal:      HostStealData{},
		FindingHostSwapStorm:     HostSwapData{},
		FindingHostForkStorm:     HostForkData{},
		FindingPacketFlowStorm:   PacketFlowStormData{Iface: "eth0", NewFlowsPerS: 1500, SynOnlyRatio: 0.9},
		FindingPacketSynFlood:    PacketSynFloodData{Iface: "eth0", SynPerS: 900, Dst: "10.0.0.2:80"},
	}
	var produced []string
	for _, d := range All(Config{}) {
		produced = append(produced, d.Produces()...)
	}
	for _, name := range produced {
		if !event.FindingDataKnown(name) || rules[name] == nil {
			t.Errorf("%s: no data type or evidence rule registered", name)
		}
		if _, ok := samples[name]; !ok {
			t.Errorf("%s: no sample in this test", name)
		}
	}
	var live []event.Event
	var order []string
	for name, zero := range samples {
		v := reflect.New(reflect.TypeOf(zero)).Elem()
		n := 0
		fill(v, &n)
		live = append(live, event.New(t0, "p", &event.Finding{Finding: name, Severity: event.Warn, Summary: name, Data: v.Interface()}))
		order = append(order, name)
	}
	got := recordAndRead(t, live)
	if len(got) != len(live) {
		t.Fatalf("read back %d events, wrote %d", len(got), len(live))
	}
	for i, ev := range got {
		f, _ := event.As[event.Finding](ev)
		want, _ := event.As[event.Finding](live[i])
		if f.Finding != order[i] || !reflect.DeepEqual(f.Data, want.Data) {
			t.Errorf("%s: data read back as %T %+v, made as %T %+v", order[i], f.Data, f.Data, want.Data, want.Data)
		}
		if _, ok := rules[f.Finding](f.Data); !ok {
			t.Errorf("%s: its rule does not take its own data", f.Finding)
		}
	}
}

// fill sets every exported field of v, however deep, to a value of its
// own (numbers count up from 1, slices hold two elements, pointers point
// at a value), so a field the JSON form drops or confuses shows.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), n)
		}
	case reflect.String:
		v.SetString("s" + string(rune('a'+*n%26)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(*n))
	case reflect.Uint, reflect.Uint64, reflect.Uint32, reflect.Uint16, reflect.Uint8:
		v.SetUint(uint64(*n))
	case reflect.Float64, reflect.Float32:
		v.SetFloat(float64(*n) + 0.25)
	default:
		panic("fill: add " + v.Kind().String())
	}
}

// A finding whose name is registered but whose recorded data does not fit
// the type (a pid as a string) and one whose name no build knows both
// read back, their data generic.
func TestRecordedFindingDataThatDoesNotFitReadsGeneric(t *testing.T) {
	live := []event.Event{
		event.New(t0, "signals", &event.Finding{Finding: FindingSignalBurst, Severity: event.Warn, Summary: "odd",
			Data: map[string]any{"pid": "812", "signal": "SIGHUP"}}),
		event.New(t0, "future", &event.Finding{Finding: "future.finding", Severity: event.Info, Summary: "new",
			Data: SignalStormData{PID: 1, Comm: "c", Signal: "SIGHUP", Count: 2, RatePerS: 3}}),
	}
	got := recordAndRead(t, live)
	if len(got) != 2 {
		t.Fatalf("read back %d events", len(got))
	}
	odd, _ := event.As[event.Finding](got[0])
	if m, ok := odd.Data.(map[string]any); !ok || m["pid"] != "812" {
		t.Errorf("wrong-shaped data read back as %T %+v", odd.Data, odd.Data)
	}
	unknown, _ := event.As[event.Finding](got[1])
	if m, ok := unknown.Data.(map[string]any); !ok || m["rate_per_s"] != 3.0 {
		t.Errorf("unknown finding's data read back as %T %+v", unknown.Data, unknown.Data)
	}
	// Its rule is the nearest events, about what the data names.
	if e := EvidenceOf(odd); e.Of != EvidenceNearest || e.About != (About{}) {
		t.Errorf("rule of wrong-shaped data: %+v", e)
	}
	if e := EvidenceOf(unknown); e.Of != EvidenceNearest || e.About != (About{PID: 1, Comm: "c"}) {
		t.Errorf("rule of an unknown finding: %+v", e)
	}
}

// The rules say what handoff/evidence.go decided by name: each finding's
// source, what it is about and its window.
func TestEvidenceRules(t *testing.T) {
	for _, tc := range []struct {
		f             event.Finding
		of            EvidenceSource
		about         About
		signal        string
		before, after time.Duration
		keep          [3]int // before, after, spread
	}{
		{event.Finding{Finding: FindingSignalBurst, Data: SignalBurstData{PID: 812, Comm: "gimli", Signal: "SIGHUP", SpanMs: 3}},
			EvidenceSignals, About{PID: 812, Comm: "gimli"}, "SIGHUP", 2003 * time.Millisecond, time.Second, [3]int{6, 2, 0}},
		{event.Finding{Finding: FindingSignalStorm, Data: SignalStormData{PID: 9, Signal: "SIGUSR1"}},
			EvidenceSignals, About{PID: 9}, "SIGUSR1", 2 * time.Second, time.Second, [3]int{6, 2, 0}},
		{event.Finding{Finding: FindingExecRace, Data: ExecRaceData{PID: 9, Signal: "SIGTERM"}},
			EvidenceSignals, About{PID: 9}, "SIGTERM", 2 * time.Second, time.Second, [3]int{6, 2, 0}},
		// The fatal signal may be a SIGKILL, never seen delivered: every signal.
		{event.Finding{Finding: FindingProcessKilled, Data: ProcessKilledData{PID: 9, Comm: "x", Signal: "SIGKILL"}},
			EvidenceSignals, About{PID: 9, Comm: "x"}, "", 2 * time.Second, time.Second, [3]int{6, 2, 0}},
		{event.Finding{Finding: FindingSignalBurst, Data: SignalBurstData{Comm: "nopid", Signal: "SIGHUP"}},
			EvidenceNearest, About{Comm: "nopid"}, "", 30 * time.Second, 30 * time.Second, [3]int{3, 2, 0}},
		{event.Finding{Finding: FindingPacketGap, Data: PacketGapData{Iface: "eth0", Flow: "a > b", GapMs: 3000, UsualMs: 1000}},
			EvidencePackets, About{Iface: "eth0", Flow: "a > b"}, "", 7 * time.Second, 3 * time.Second, [3]int{4, 2, 0}},
		{event.Finding{Finding: FindingPacketStallReset, Data: PacketStallResetData{Iface: "eth0", Flow: "a > b", StallMs: 2300}},
			EvidencePackets, About{Iface: "eth0", Flow: "a > b"}, "", 3300 * time.Millisecond, time.Second, [3]int{4, 2, 0}},
		{event.Finding{Finding: FindingIOSaturated, Data: IOSaturatedData{Device: "sdb", Seconds: 12}},
			EvidenceIO, About{Device: "sdb"}, "", 15 * time.Second, time.Second, [3]int{6, 1, 0}},
		{event.Finding{Finding: FindingIOSaturated, Data: IOSaturatedData{Seconds: 12}},
			EvidenceNearest, About{}, "", 30 * time.Second, 30 * time.Second, [3]int{3, 2, 0}},
		{event.Finding{Finding: FindingDiskFilling, Data: DiskFillingData{Mount: "/srv", Device: "/dev/sdb1"}},
			EvidenceDisk, About{Mount: "/srv", Device: "/dev/sdb1"}, "", 2 * time.Minute, time.Second, [3]int{240, 0, 6}},
		{event.Finding{Finding: FindingDiskInodesFilling, Data: DiskInodesFillingData{Mount: "/srv"}},
			EvidenceInodes, About{Mount: "/srv"}, "", 2 * time.Minute, time.Second, [3]int{240, 0, 6}},
		{event.Finding{Finding: FindingDiskDeletedOpen, Data: DiskDeletedOpenData{Mount: "/srv", PID: 4, Comm: "c"}},
			EvidenceDisk, About{Mount: "/srv", PID: 4, Comm: "c"}, "", 2 * time.Minute, time.Second, [3]int{240, 0, 6}},
		{event.Finding{Finding: FindingPacketRSTStorm, Data: PacketRSTStormData{Iface: "eth0", Host: "10.0.0.5"}},
			EvidenceNearest, About{Iface: "eth0", Host: "10.0.0.5"}, "", 30 * time.Second, 30 * time.Second, [3]int{3, 2, 0}},
		{event.Finding{Finding: FindingHungTask, Data: schema.HungTaskLine{PID: 5, Comm: "jbd2", Seconds: 120}},
			EvidenceNearest, About{PID: 5, Comm: "jbd2"}, "", 30 * time.Second, 30 * time.Second, [3]int{3, 2, 0}},
		{event.Finding{Finding: FindingModuleLoaded, Data: ModuleLoadedData{Module: "nf_nat"}},
			EvidenceNearest, About{Module: "nf_nat"}, "", 30 * time.Second, 30 * time.Second, [3]int{3, 2, 0}},
		// The recorder's findings are no detector's: their data is generic.
		{event.Finding{Finding: "record.paused", Data: map[string]any{"file": "/x.stk", "bytes": 1.0}},
			EvidenceNearest, About{File: "/x.stk"}, "", 30 * time.Second, 30 * time.Second, [3]int{3, 2, 0}},
	} {
		e := EvidenceOf(&tc.f)
		if e.Of != tc.of || e.About != tc.about || e.Signal != tc.signal || e.Before != tc.before || e.After != tc.after ||
			[3]int{e.KeepBefore, e.KeepAfter, e.Spread} != tc.keep {
			t.Errorf("%s %+v: rule %+v", tc.f.Finding, tc.f.Data, e)
		}
	}
}

// Moved from handoff: generic data whose figures are a NaN keeps the rest
// (the pid and device it is about), and a window span from any data is
// bounded, so the evidence window's arithmetic cannot wrap.
func TestEvidenceOfDataWithANaN(t *testing.T) {
	f := &event.Finding{Finding: "x", Data: map[string]any{"pid": 610, "device": "sdb", "span_ms": math.NaN(), "seconds": math.Inf(1)}}
	if a := EvidenceOf(f).About; a.PID != 610 || a.Device != "sdb" {
		t.Errorf("about %+v", a)
	}
	for ms, want := range map[float64]time.Duration{1e300: 24 * time.Hour, -5: 0, math.NaN(): 0, 1500: 1500 * time.Millisecond} {
		if got := MsWindow(ms); got != want {
			t.Errorf("MsWindow(%g) = %v, want %v", ms, got, want)
		}
	}
	burst := EvidenceOf(&event.Finding{Finding: FindingSignalBurst, Data: SignalBurstData{PID: 1, SpanMs: math.NaN()}})
	io := EvidenceOf(&event.Finding{Finding: FindingIOSaturated, Data: IOSaturatedData{Device: "sdb", Seconds: math.Inf(1)}})
	if burst.Before != 2*time.Second || io.Before != 24*time.Hour+3*time.Second {
		t.Errorf("windows %v and %v", burst.Before, io.Before)
	}
	for _, pid := range []any{610.5, 1e300, "610", math.NaN()} {
		if a := aboutMap(map[string]any{"pid": pid}); a.PID != 0 {
			t.Errorf("pid %v read as %d", pid, a.PID)
		}
	}
	if !slices.Equal([]int{aboutMap(map[string]any{"pid": 610.0}).PID, aboutMap(map[string]any{"pid": int64(7)}).PID}, []int{610, 7}) {
		t.Error("whole pids not read")
	}
}

// A gap the end of the capture cleared is still silent, typed or generic.
func TestGapStillSilent(t *testing.T) {
	for _, tc := range []struct {
		data any
		want bool
	}{
		{PacketGapData{Resumed: false}, true},
		{PacketGapData{Resumed: true}, false},
		{map[string]any{"resumed": false}, true},
		{map[string]any{"resumed": true}, false},
		{map[string]any{}, false},
		{nil, false},
	} {
		if got := GapStillSilent(tc.data); got != tc.want {
			t.Errorf("%#v: %v", tc.data, got)
		}
	}
}
