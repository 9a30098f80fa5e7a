package probes

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/schema"
)

// --proc NAME with many short-lived processes named NAME (a 10 ms sleep
// under that name, three at a time), each sent SIGWINCH 3 ms after it
// started: most are
// traced and most of their signals recorded, where a poll of /proc once a
// second (as before the proc connector) caught about 1 in 100. SIGWINCH is
// ignored by default, so an untraced process is not harmed by it.
func TestSignalsProcCatchesShortLivedProcesses(t *testing.T) {
	testenv.NeedRoot(t, "ptrace and the proc connector")
	sleepBin, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep(1)")
	}
	name := fmt.Sprintf("sgshort%d", os.Getpid()%100000)
	link := filepath.Join(t.TempDir(), name)
	if err := os.Symlink(sleepBin, link); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.Interval = time.Second
	c.Signals = schema.SignalsConfig{Procs: []string{name}}
	r := traceWith(t, c)
	time.Sleep(200 * time.Millisecond) // subscribed

	const n, workers = 300, 3
	var mu sync.Mutex
	started := map[int]time.Time{}
	signalled := 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d", spawnEnv, link, n/workers))
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("spawner: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				var pid int
				var ns int64
				var sent bool
				if _, err := fmt.Sscan(l, &pid, &ns, &sent); err == nil {
					started[pid] = time.Unix(0, ns)
					if sent {
						signalled++
					}
				}
			}
		}()
	}
	wg.Wait()
	time.Sleep(300 * time.Millisecond)
	r.stop(t)

	traced, recorded := 0, 0
	var lat []time.Duration
	for _, ev := range r.events() {
		if tr, ok := event.As[schema.Trace](ev); ok && tr.State == schema.TraceAttached {
			if at, ok := started[tr.PID]; ok {
				traced++
				lat = append(lat, ev.Time.Sub(at))
			}
		}
		if s, ok := event.As[schema.Signal](ev); ok && s.Signal == "SIGWINCH" {
			if _, ok := started[s.PID]; ok {
				recorded++
			}
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	med := time.Duration(0)
	if len(lat) > 0 {
		med = lat[len(lat)/2]
	}
	t.Logf("%d processes named %s living ~10 ms, %d sent SIGWINCH 3 ms after start: %d traced (attached a median %v after start), %d signals recorded",
		len(started), name, signalled, traced, med.Round(10*time.Microsecond), recorded)
	if traced < len(started)*6/10 {
		t.Errorf("only %d of %d short-lived processes were traced", traced, len(started))
	}
	if recorded < signalled/2 {
		t.Errorf("only %d of %d signals to short-lived processes were recorded", recorded, signalled)
	}
}

func TestParseProcEvents(t *testing.T) {
	le := binary.LittleEndian
	msg := func(what uint32, data []byte) []byte {
		body := le.AppendUint32(nil, cnIdxProc)
		body = le.AppendUint32(body, cnValProc)
		body = append(body, make([]byte, 8)...) // seq, ack
		ev := le.AppendUint32(nil, what)
		ev = append(ev, make([]byte, 12)...) // cpu, timestamp
		ev = append(ev, data...)
		body = le.AppendUint16(body, uint16(len(ev)))
		body = append(body, 0, 0)
		body = append(body, ev...)
		b := le.AppendUint32(nil, uint32(16+len(body)))
		b = append(b, make([]byte, 12)...)
		b = append(b, body...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	exec := le.AppendUint32(le.AppendUint32(nil, 4242), 4242)
	comm := append(le.AppendUint32(le.AppendUint32(nil, 4250), 4243), []byte("worker\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")...)
	fork := le.AppendUint32(le.AppendUint32(le.AppendUint32(le.AppendUint32(nil, 1), 1), 4244), 4244)
	var b []byte
	b = append(b, msg(procEventExec, exec)...)
	b = append(b, msg(1, fork)...) // a fork, from a kernel that does not filter
	b = append(b, msg(procEventComm, comm)...)
	got := parseProcEvents(b, nil)
	want := []procEvent{{tgid: 4242}, {tgid: 4243, comm: "worker"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := parseProcEvents(b[:30], nil); len(got) != 0 {
		t.Errorf("a cut datagram: %+v", got)
	}
	for rel, want := range map[string][2]int{"6.18.44-fc-v1272": {6, 18}, "5.14.0-427.el9.x86_64": {5, 14}, "6.6": {6, 6}} {
		if ma, mi, ok := kernelVersion(rel); !ok || ma != want[0] || mi != want[1] {
			t.Errorf("kernelVersion(%q) = %d.%d %v", rel, ma, mi, ok)
		}
	}
	if s := subscribeMsg(true); len(s) != 16+20+8 || le.Uint32(s) != uint32(len(s)) || le.Uint32(s[36:]) != procCnMcastListen || le.Uint32(s[40:]) != procEventExec|procEventComm {
		t.Errorf("subscription %x", s)
	}
}
