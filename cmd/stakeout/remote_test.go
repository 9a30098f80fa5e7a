package main

import (
	"reflect"
	"testing"

	"github.com/spf13/pflag"
)

// Only the probe flags the user set reach a remote stream, each value of
// a repeatable one as its own --name=value; recording, output, UI and the
// local fixture roots stay here.
func TestRemoteStreamArgsAreTheProbeFlagsSet(t *testing.T) {
	lf := defaultLiveFlags()
	fs := pflag.NewFlagSet("snapshot", pflag.ContinueOnError)
	lf.bind(fs, true)
	err := fs.Parse([]string{"--ssh", "h1", "--ssh", "root@h2:2222", "--no-local", "--probes", "packets,signals",
		"--iface", "eth0", "--iface", "eth1", "--pid", "4,5", "--filter", "vrrp or port 53", "--payload",
		"--interval", "2s", "--no-record", "--record", "/tmp/x.stk", "--record-max", "1G", "--redact", "--theme", "mono",
		"--procfs", "/tmp", "--sysfs", "/tmp", "--proc", "a b", "--proc", "c,d", "--burst-window", "50ms"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--probes=packets", "--probes=signals", "--interval=2s", "--burst-window=50ms",
		"--filter=vrrp or port 53", "--iface=eth0", "--iface=eth1", "--payload=true", "--pid=4", "--pid=5",
		"--proc=a b", "--proc=c,d"}
	if got := lf.streamArgs(); !reflect.DeepEqual(got, want) {
		t.Errorf("stream args\n got %q\nwant %q", got, want)
	}
	if !lf.noLocal || !reflect.DeepEqual(lf.ssh, []string{"h1", "root@h2:2222"}) {
		t.Errorf("ssh %q no-local %v", lf.ssh, lf.noLocal)
	}
	lf = defaultLiveFlags()
	fs = pflag.NewFlagSet("snapshot", pflag.ContinueOnError)
	lf.bind(fs, false)
	if got := lf.streamArgs(); len(got) != 0 {
		t.Errorf("no flag set, stream args %q", got)
	}
}
