package findings

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

var kt0 = time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)

func kmsgAt(s float64, text string) event.Event {
	return event.New(kt0.Add(time.Duration(s*float64(time.Second))), "kmsg", &schema.Kmsg{Level: "info", Priority: 6, Facility: "kern", Text: text})
}

func onlyFinding(t *testing.T, evs []event.Event, name string) *event.Finding {
	t.Helper()
	if len(evs) != 1 {
		t.Fatalf("%d findings, want 1 %s: %+v", len(evs), name, evs)
	}
	f, ok := event.As[event.Finding](evs[0])
	if !ok || f.Finding != name {
		t.Fatalf("got %+v, want %s", evs[0], name)
	}
	return f
}

func TestKernelSegfaultFromTheHAProxyStory(t *testing.T) {
	d := NewKernelLog()
	line := "haproxy[610]: segfault at 7fdb0426e000 ip 00007fdb0403305b sp 00007ffee5ff8988 error 4 in ld-musl-x86_64.so.1[7fdb03fe2000+87000]"
	f := onlyFinding(t, d.Observe(kmsgAt(0, line)), FindingSegfault)
	if f.Summary != "haproxy (pid 610) segfaulted at 7fdb0426e000 in ld-musl-x86_64.so.1 (error 4: user-mode read from an unmapped page); "+
		"whether it left a core dump is unknown: its core size limit was not recorded, and core_pattern was not read (the coredump probe was not running)" ||
		f.Severity != event.Warn {
		t.Errorf("summary %q %v", f.Summary, f.Severity)
	}
	b, _ := json.Marshal(f.Data)
	for _, want := range []string{`"pid":610`, `"comm":"haproxy"`, `"object":"ld-musl-x86_64.so.1"`, `"ip":"00007fdb0403305b"`, `"error":"4"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("data %s lacks %s", b, want)
		}
	}
	// A crash loop is one condition: its repeats only count (an update at
	// most once a minute); 10 s without one clears it with the final count;
	// the next segfault is a new finding.
	for i := 1; i <= 5; i++ {
		if got := d.Observe(kmsgAt(float64(i), line)); len(got) != 0 {
			t.Fatalf("repeat %d fired: %+v", i, got)
		}
	}
	got := d.Observe(kmsgAt(300, line))
	if len(got) != 2 {
		t.Fatalf("after the loop: %+v", got)
	}
	c, _ := event.As[event.Finding](got[0])
	f, _ = event.As[event.Finding](got[1])
	if c.State != event.FindingCleared || c.Count != 6 || c.Key != "kernel.segfault haproxy" || c.Data.(SegfaultData).Repeats != 5 {
		t.Errorf("clear %+v", c)
	}
	if f.State != "" || f.Data.(SegfaultData).Repeats != 0 || f.Key != c.Key {
		t.Errorf("new loop %+v", f)
	}
}

// A loop that never pauses for 10 s stays one condition for ten minutes:
// one raise and a refresh a minute, each with the count so far.
func TestKernelSegfaultLoopIsOneCondition(t *testing.T) {
	d := NewKernelLog()
	line := "worker[%d]: segfault at 0 ip 0000000000401000 sp 00007ffe00000000 error 6 in worker[400000+2000]"
	var got []*event.Finding
	for i := range 600 {
		for _, ev := range d.Observe(kmsgAt(float64(i), fmt.Sprintf(line, 1000+i))) {
			f, _ := event.As[event.Finding](ev)
			got = append(got, f)
		}
	}
	if len(got) != 10 || got[0].State != "" || got[9].State != event.FindingUpdate || got[9].Count != 541 ||
		got[9].Data.(SegfaultData).PID != 1540 {
		t.Fatalf("%d findings: %v, last %+v", len(got), states(got...), got[len(got)-1])
	}
}

func TestKernelOOMHungAndIOErrors(t *testing.T) {
	d := NewKernelLog()
	d.Observe(kmsgAt(0, "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=docker-3f2a,mems_allowed=0,oom_memcg=/docker/3f2a,task_memcg=/docker/3f2a,task=java,pid=27015,uid=1000"))
	f := onlyFinding(t, d.Observe(kmsgAt(0.1, "Memory cgroup out of memory: Killed process 27015 (java) total-vm:3959636kB, anon-rss:1048192kB, file-rss:17056kB, shmem-rss:0kB, UID:1000 pgtables:2488kB oom_score_adj:936")), FindingOOMKill)
	if data := f.Data.(OOMKillData); data != (OOMKillData{PID: 27015, Comm: "java", RSSKB: 1065248, Constraint: "CONSTRAINT_MEMCG"}) || f.Severity != event.Warn {
		t.Errorf("oom: %+v %v", data, f.Severity)
	}
	f = onlyFinding(t, d.Observe(kmsgAt(1, "Out of memory: Killed process 1234 (mysqld) total-vm:2479464kB, anon-rss:1207460kB, file-rss:1024kB, shmem-rss:4kB, UID:27 pgtables:2692kB oom_score_adj:0")), FindingOOMKill)
	if f.Severity != event.Critical || !strings.Contains(f.Summary, "mysqld (pid 1234") {
		t.Errorf("global oom: %+v", f)
	}

	hung := "INFO: task jbd2/sda1-8:245 blocked for more than 120 seconds."
	f = onlyFinding(t, d.Observe(kmsgAt(2, hung)), FindingHungTask)
	if f.Data.(schema.HungTaskLine) != (schema.HungTaskLine{PID: 245, Comm: "jbd2/sda1-8", Seconds: 120}) {
		t.Errorf("hung: %+v", f.Data)
	}
	// khungtaskd's report two minutes later is the same condition: an update.
	if f := onlyFinding(t, d.Observe(kmsgAt(122, hung)), FindingHungTask); f.State != event.FindingUpdate || f.Count != 2 {
		t.Errorf("khungtaskd's repeat: %+v", f)
	}

	io := "blk_update_request: I/O error, dev sda, sector 123456789 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0"
	f = onlyFinding(t, d.Observe(kmsgAt(3, io)), FindingIOError)
	if f.Summary != "I/O error on sda at sector 123456789 (READ)" || f.Severity != event.Critical {
		t.Errorf("io: %q", f.Summary)
	}
	for i := 0; i < 10; i++ {
		if got := d.Observe(kmsgAt(4+float64(i), io)); len(got) != 0 {
			t.Fatalf("io repeat fired")
		}
	}
	// Errors keep coming (the last at 13 s, within a minute): at 70 s the
	// condition's minute refresh carries the count.
	f = onlyFinding(t, d.Observe(kmsgAt(70, io)), FindingIOError)
	if f.Data.(IOErrorData).Errors != 12 || f.Count != 12 || f.State != event.FindingUpdate {
		t.Errorf("errors in the condition: %+v %+v", f, f.Data)
	}
	if got := d.Observe(kmsgAt(71, "EXT4-fs (sda1): mounted filesystem")); len(got) != 0 {
		t.Errorf("plain line fired: %+v", got)
	}
}

func TestKernelFindingFromTheBacklogSaysSo(t *testing.T) {
	ev := event.New(kt0, "kmsg", &schema.Kmsg{Priority: 6, Backlog: true,
		Text: "crashy[16202]: segfault at 0 ip 000055d456524040 sp 00007ffe927980e8 error 4 in crashy[1040,55d456524000+1000] likely on CPU 0 (core 0, socket 0)"})
	f := onlyFinding(t, NewKernelLog().Observe(ev), FindingSegfault)
	if f.Summary != "crashy (pid 16202) segfaulted at 0 in crashy (error 4: user-mode read from an unmapped page); "+
		"whether it left a core dump is unknown: the settings in force then were not seen (logged before the session began)" {
		t.Errorf("summary %q", f.Summary)
	}
}
