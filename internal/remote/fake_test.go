package remote

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// This test binary doubles as the remote stakeout: run as `version` or
// `stream` (as the boot script runs the copy or the installed one), it
// plays the far end of the stream protocol. The end-to-end tests in
// cmd/stakeout run the real one over real ssh; these test the local side
// against a far end whose behaviour the test knows exactly.
func fakeRemote(args []string) (int, bool) {
	if len(args) == 0 {
		return 0, false
	}
	switch args[0] {
	case "version":
		v := fakeVersion
		if e := os.Getenv("FAKE_REMOTE_VERSION"); e != "" {
			v = e
		}
		fmt.Println("stakeout " + v)
		return 0, true
	case "stream":
		return fakeStream(args[1:]), true
	}
	return 0, false
}

const fakeVersion = "test-remote-7"

// fakeStream writes a stream to stdout: a note each 50 ms ("tick N"), a
// first note holding its arguments, a pong for each `ping ID` line, and a
// last note "bye" when stdin ends, then exits 0. --clock-skew D moves every
// time it writes by D; --unlink-self removes its executable and that
// executable's directory.
func fakeStream(args []string) int {
	var skew time.Duration
	for i, a := range args {
		switch a {
		case "--clock-skew":
			skew, _ = time.ParseDuration(args[i+1])
		case "--unlink-self":
			exe, _ := os.Executable()
			os.Remove(exe)
			os.Remove(filepath.Dir(exe))
		}
	}
	now := func() time.Time { return time.Now().Add(skew) }
	w, err := sessions.NewStreamWriter(os.Stdout, sessions.Header{Hostname: "fake-remote", Kernel: "6.18-fake",
		StakeoutVersion: fakeVersion, CPUs: 3}, sessions.StreamOptions{FlushEvery: 20 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "stakeout:", err)
		return 1
	}
	var mu sync.Mutex
	write := func(ev event.Event, flush bool) {
		mu.Lock()
		defer mu.Unlock()
		_ = w.Write(ev)
		if flush {
			_ = w.Flush()
		}
	}
	note := func(text string) event.Event {
		n := event.NewNote("fake", text)
		return event.New(now(), event.ProbeNote, &n)
	}
	write(note("args "+strings.Join(args, " ")), true)
	stop := make(chan struct{})
	go func() {
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				write(note("tick "+strconv.Itoa(i)), false)
			}
		}
	}()
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "ping "); ok {
			n, _ := strconv.ParseUint(id, 10, 64)
			write(event.New(now(), schema.ProbeRemote, &schema.StreamPong{ID: n}), true)
		}
	}
	close(stop)
	write(note("bye"), true)
	if err := w.Close(); err != nil {
		return 1
	}
	return 0
}

// fakeSSH is an ssh that runs the remote command here, as sshd would, in
// a shell: it skips the options up to "--" and the destination. Before
// that it prints what a chatty .bashrc would, and records its pid and
// arguments in files beside it.
const fakeSSH = `#!/bin/sh
d=$(dirname "$0")
echo $$ >> "$d/pids"
printf "%s\n" "$*" >> "$d/args"
case "$FAKE_SSH_FAIL" in
  ?*) echo "$FAKE_SSH_FAIL" >&2; exit 255;;
esac
while [ $# -gt 0 ] && [ "$1" != "--" ]; do shift; done
shift 2
echo "Welcome to the fake host"
exec sh -c "$1"
`
