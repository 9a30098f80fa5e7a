package sessions

import (
	"encoding/json"
	"errors"
	"iter"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
)

// xt is the synthetic recording's clock: 04:00:00 plus s seconds.
func xt(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func jsonLine(t *testing.T, ev event.Event) string {
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeEvents records evs through the real writer, a chunk per event.
func writeEvents(t *testing.T, path string, evs ...event.Event) {
	t.Helper()
	w, err := Create(path, Header{Hostname: "db-7", Started: xt(0)}, WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
		w.Flush()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// The state kept from before the history: the last event per probe and
// kind, per process for trace, per interface for capture stats, only the
// flows the window's packets name; nothing that merely happened (kmsg
// lines, signals, findings, notes). A kind this build does not know is
// state too, restamped in its raw JSON as well.
func TestExtractStateBeforeTheHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.stk")
	future := func(s float64, v int) event.Event {
		raw := `{"time":"` + xt(s).Format(time.RFC3339Nano) + `","probe":"cpu","kind":"cpu_future","v":` + strconv.Itoa(v) + `}`
		return event.Event{Time: xt(s), Probe: "cpu", Kind: "cpu_future", Raw: json.RawMessage(raw)}
	}
	writeEvents(t, path,
		event.New(xt(1), "signals", &schema.Trace{PID: 10, State: "attached"}),
		event.New(xt(2), "signals", &schema.Trace{PID: 11, State: "attached"}),
		event.New(xt(3), "signals", &schema.Trace{PID: 10, State: "detached"}),
		event.New(xt(4), "signals", &schema.Signal{PID: 11, Signal: "SIGHUP"}),
		event.New(xt(5), "kmsg", &schema.Kmsg{Text: "segfault"}),
		event.New(xt(6), "packets", &packet.CaptureStats{Iface: "eth0", Packets: 1}),
		event.New(xt(7), "packets", &packet.CaptureStats{Iface: "eth1", Packets: 2}),
		event.New(xt(8), "packets", &packet.CaptureStats{Iface: "eth0", Packets: 3}),
		event.New(xt(9), "packets", &packet.FlowInfo{ID: 1, Iface: "eth0"}),
		event.New(xt(9), "packets", &packet.FlowInfo{ID: 2, Iface: "eth0"}),
		event.New(xt(10), event.ProbeNote, event.NewNote("a", "old")),
		future(11, 1), future(12, 2),
		event.New(xt(100), "packets", &packet.PacketBatch{Iface: "eth0", Start: xt(100), DtUs: []int64{0}, Flow: []uint32{2}, Flags: packet.ByteNums{0}, Len: []uint32{60}}),
	)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	refs, err := referenced(r, xt(50), xt(200), nil)
	if err != nil || !reflect.DeepEqual(refs, map[hostRef]bool{{ref: event.Ref{Scope: "eth0", ID: 2}}: true}) {
		t.Fatalf("referenced flows %v (%v)", refs, err)
	}
	state, err := stateBefore(r, xt(50), refs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range state {
		got = append(got, strings.TrimPrefix(jsonLine(t, ev), `{"time":"`))
	}
	want := []string{
		`2026-11-23T04:00:02Z","probe":"signals","kind":"trace","pid":11,"state":"attached"}`,
		`2026-11-23T04:00:03Z","probe":"signals","kind":"trace","pid":10,"state":"detached"}`,
		`2026-11-23T04:00:07Z","probe":"packets","kind":"capture_stats","iface":"eth1","interval_s":0,"packets":2,"drops":0,"freezes":0,"seen":0,"bytes":0,"total_packets":0,"total_drops":0}`,
		`2026-11-23T04:00:08Z","probe":"packets","kind":"capture_stats","iface":"eth0","interval_s":0,"packets":3,"drops":0,"freezes":0,"seen":0,"bytes":0,"total_packets":0,"total_drops":0}`,
		`2026-11-23T04:00:09Z","probe":"packets","kind":"flow","id":2,"iface":"eth0","proto":"","src":"","dst":""}`,
		`2026-11-23T04:00:12Z","probe":"cpu","kind":"cpu_future","v":2}`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("state:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	moved := restamp(state[len(state)-1], xt(50))
	if b := jsonLine(t, moved); !strings.Contains(b, `"time":"2026-11-23T04:00:50Z"`) || !moved.Time.Equal(xt(50)) {
		t.Errorf("restamped unknown kind: %s", b)
	}
}

// nanState is a state body with a process id and a number that is NaN,
// as an event made in memory (no Raw) can hold.
type nanState struct {
	PID  int     `json:"pid"`
	Load float64 `json:"load"`
}

func (nanState) EventKind() string { return "nan_state" }

// TestStateKeyWithNaN: the state of two processes keeps two keys when a
// body holds a NaN: json.Marshal refused the body, its error was ignored,
// and both fell under one key, so an extract kept one process's state.
func TestStateKeyWithNaN(t *testing.T) {
	nan := math.NaN()
	a, _ := stateKey(event.New(xt(0), "x", &nanState{PID: 1, Load: nan}), nil)
	b, _ := stateKey(event.New(xt(0), "x", &nanState{PID: 2, Load: nan}), nil)
	if a == b || !strings.HasSuffix(a, "\x001") || !strings.HasSuffix(b, "\x002") {
		t.Fatalf("keys %q and %q", a, b)
	}
}

// room and visit are a made-up announcement and the occurrence that names
// it, so the extract's entity rule is pinned without any probe's kinds.
type room struct {
	Wing string `json:"wing"`
	No   uint64 `json:"no"`
	Name string `json:"name"`
}

func (room) EventKind() string      { return "sessions_test_room" }
func (r room) Announces() event.Ref { return event.Ref{Scope: r.Wing, ID: r.No} }

type visit struct {
	Wing  string   `json:"wing"`
	Rooms []uint64 `json:"rooms"`
}

func (visit) EventKind() string { return "sessions_test_visit" }
func (v *visit) Refs() iter.Seq[event.Ref] {
	return func(yield func(event.Ref) bool) {
		for _, no := range v.Rooms {
			if !yield(event.Ref{Scope: v.Wing, ID: no}) {
				return
			}
		}
	}
}

func init() {
	event.Register("sessions_test_room", func() event.Body { return &room{} })
	event.Register("sessions_test_visit", func() event.Body { return &visit{} }, event.Traits{Occurrence: true})
}

// TestExtractCarriesReferencedAnnouncements: an extract carries, from
// before its history, the announcements of exactly the entities its
// events name (event.Referrer, event.Announcer), whatever kinds they are,
// each by its scope and id, its last announcement restamped to the start
// of the history; and it refuses an output that exists, leaving it be.
func TestExtractCarriesReferencedAnnouncements(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.stk")
	writeEvents(t, src,
		event.New(xt(1), "hotel", &room{Wing: "east", No: 1, Name: "old name"}),
		event.New(xt(2), "hotel", &room{Wing: "east", No: 2, Name: "never named"}),
		event.New(xt(3), "hotel", &room{Wing: "west", No: 1, Name: "west one"}),
		event.New(xt(4), "hotel", &room{Wing: "east", No: 1, Name: "east one"}),
		event.New(xt(5), "hotel", &visit{Wing: "east", Rooms: []uint64{2}}), // an occurrence, before the window
		event.New(xt(250), "hotel", &visit{Wing: "east", Rooms: []uint64{1, 1}}),
		event.New(xt(260), "hotel", &visit{Wing: "west", Rooms: []uint64{1}}),
		event.New(xt(400), "hotel", &visit{Wing: "east", Rooms: []uint64{2}}), // after the window
	)
	r, err := Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := filepath.Join(dir, "out.stk")
	st, err := Extract(r, src, out, xt(200), xt(300), ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Window != 2 || st.History != 2 || st.Bytes == 0 {
		t.Errorf("stats %+v, want 2 in the window and 2 before it", st)
	}
	x, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var got []string
	it := x.Iter(time.Time{})
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		got = append(got, jsonLine(t, ev))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"time":"2026-11-23T04:02:20Z","probe":"hotel","kind":"sessions_test_room","wing":"west","no":1,"name":"west one"}`,
		`{"time":"2026-11-23T04:02:20Z","probe":"hotel","kind":"sessions_test_room","wing":"east","no":1,"name":"east one"}`,
		`{"time":"2026-11-23T04:04:10Z","probe":"hotel","kind":"sessions_test_visit","wing":"east","rooms":[1,1]}`,
		`{"time":"2026-11-23T04:04:20Z","probe":"hotel","kind":"sessions_test_visit","wing":"west","rooms":[1]}`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("extract:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if h := x.Header(); h.Extract == nil || h.Extract.Source != "src.stk" || !h.Started.Equal(xt(140)) || !h.Extract.From.Equal(xt(140)) {
		t.Errorf("header %+v, extract %+v", h, h.Extract)
	}

	before, _ := os.ReadFile(out)
	_, err = Extract(r, src, out, xt(200), xt(300), ExtractOptions{})
	var oe *OutputError
	if !errors.As(err, &oe) || oe.Path != out || !errors.Is(err, os.ErrExist) {
		t.Fatalf("extract over an existing file: %v, want an *OutputError that is os.ErrExist", err)
	}
	if after, _ := os.ReadFile(out); string(after) != string(before) {
		t.Fatal("a refused extract changed the existing file")
	}
}

// lamp is a made-up state kind with one state per lamp, declared through
// its Entity trait; its JSON has a "pid" the trait must win over.
type lamp struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	On   bool   `json:"on"`
}

func (lamp) EventKind() string { return "sessions_test_lamp" }

func init() {
	event.Register("sessions_test_lamp", func() event.Body { return &lamp{} }, event.Traits{Entity: func(b event.Body) string {
		if l, ok := event.As[lamp](event.Event{Body: b}); ok {
			return l.Name
		}
		return ""
	}})
}

// TestStateKeyFromTheEntityTrait: a known kind's entity comes from its
// Traits.Entity, declared once where the kind is registered, not from
// field names in its JSON.
func TestStateKeyFromTheEntityTrait(t *testing.T) {
	a, _ := stateKey(event.New(xt(0), "x", &lamp{Name: "hall", PID: 1}), nil)
	b, _ := stateKey(event.New(xt(0), "x", &lamp{Name: "hall", PID: 2, On: true}), nil)
	c, _ := stateKey(event.New(xt(0), "x", lamp{Name: "porch", PID: 1}), nil)
	if a != b || a == c || !strings.HasSuffix(a, "\x00hall") || !strings.HasSuffix(c, "\x00porch") {
		t.Fatalf("keys %q, %q, %q: want one per lamp name", a, b, c)
	}
}
