package handoff

import (
	"strings"
	"testing"

	"github.com/stakeout/stakeout/sessions"
)

// TestSeveralHosts: the incident recorded on two hosts, whose SIGHUPs to
// their own pid 812 came from different senders, read as one: each host's
// findings name it, each finding's evidence is its own host's events
// only, the summaries and charts are per host, and both formats have the
// host table.
func TestSeveralHosts(t *testing.T) {
	fa, fb := plain, plain
	fa.host, fb.host, fb.senderComm = "a", "b", "puppet"
	var files []sessions.SetFile
	for _, fx := range []fixture{fa, fb} {
		path := writeFixture(t, fx)
		r, err := sessions.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, sessions.SetFile{Reader: r, Path: path})
	}
	set := sessions.NewSet(files)
	defer set.Close()
	rep, err := Build(set, Options{File: "a.stk b.stk"})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.MultiHost || len(rep.Hosts) != 2 || rep.Hosts[0].Host != "a" || rep.Hosts[1].Kernel != "6.18.0" {
		t.Fatalf("hosts %+v", rep.Hosts)
	}
	bursts := map[string]Finding{}
	for _, f := range rep.Findings {
		if f.Name == "signal.burst" {
			bursts[f.Host] = f
		}
	}
	if len(bursts) != 2 {
		t.Fatalf("signal.burst on %d hosts: %+v", len(bursts), rep.Findings)
	}
	for host, sender := range map[string]string{"a": "logrotate", "b": "puppet"} {
		rows := bursts[host].Evidence.Rows
		if len(rows) == 0 {
			t.Fatalf("%s: no evidence", host)
		}
		for _, r := range rows {
			if r.Cells[0] == "signal" && !strings.Contains(r.Cells[3], sender) {
				t.Errorf("%s's burst shows %v, another host's signal", host, r.Cells)
			}
		}
	}
	perHost := map[string]int{}
	for _, s := range rep.Summaries {
		perHost[s.Host]++
		if s.Name == "iostat" && len(s.Charts) == 0 {
			t.Errorf("%s iostat: no chart", s.Host)
		}
	}
	if perHost["a"] == 0 || perHost["a"] != perHost["b"] || perHost[""] != 0 {
		t.Errorf("summaries per host %v", perHost)
	}
	md := markdown(t, rep)
	for _, want := range []string{"# Handoff: 2 hosts (a, b)", "| host | hostname | kernel |", "| a | a | Linux 6.18.0 | 8 |",
		"WARN · a · signal.burst ·", "WARN · b · signal.burst ·", "### b · iostat · ok"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	page := html(t, rep)
	for _, want := range []string{"<th>hostname</th>", "a · signal.burst", "b · iostat"} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}
