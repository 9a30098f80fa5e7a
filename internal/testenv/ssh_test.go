package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Each alias reaches its own namespace's sshd, as root, by key, with the
// session environment asked for; and cleanup leaves nothing behind.
func TestSSHHosts(t *testing.T) {
	var made SSHNet
	t.Run("hosts", func(t *testing.T) {
		bin := t.TempDir()
		if err := os.WriteFile(filepath.Join(bin, "stakeout-marker"), []byte("#!/bin/sh\necho marker\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		made = SSHHostsWith(t, 2, SSHOptions{Env: map[string]string{"PATH": bin + ":/usr/bin:/bin"}})
		ssh := strings.Fields(made.SSH)
		for _, h := range made.Hosts {
			args := append(append([]string{}, ssh[1:]...), h.Alias,
				`echo "$(id -u) $TMPDIR $(stakeout-marker)"; readlink /proc/self/ns/net; ip -4 -o addr show`)
			out, err := exec.Command(ssh[0], args...).CombinedOutput()
			if err != nil {
				t.Fatalf("ssh %s: %v: %s", h.Alias, err, out)
			}
			lines := strings.SplitN(string(out), "\n", 3)
			if want := "0 " + h.Tmp + " marker"; len(lines) < 3 || lines[0] != want {
				t.Fatalf("ssh %s said %q, want first line %q", h.Alias, out, want)
			}
			nsLink, err := exec.Command("ip", "netns", "exec", h.NS, "readlink", "/proc/self/ns/net").Output()
			if err != nil || strings.TrimSpace(string(nsLink)) != lines[1] {
				t.Errorf("%s: the session ran in %s, namespace %s is %s (%v)", h.Alias, lines[1], h.NS, nsLink, err)
			}
			if !strings.Contains(lines[2], " "+h.Addr+"/24 ") {
				t.Errorf("%s: addresses %q lack %s", h.Alias, lines[2], h.Addr)
			}
			if len(NetnsPids(h.NS)) == 0 {
				t.Errorf("%s: NetnsPids found no sshd", h.NS)
			}
		}
	})
	if len(made.Hosts) == 0 {
		return // skipped
	}
	list, _ := exec.Command("ip", "netns", "list").Output()
	links, _ := exec.Command("ip", "-o", "link", "show").Output()
	for _, h := range made.Hosts {
		if strings.Contains(string(list), h.NS) {
			t.Errorf("namespace %s left behind", h.NS)
		}
		if _, err := os.Stat(h.Tmp); err == nil {
			t.Errorf("%s left behind", h.Tmp)
		}
	}
	if tag := strings.Split(made.Hosts[0].NS, "-")[2]; strings.Contains(string(links), "sb"+tag) {
		t.Errorf("bridge sb%s left behind", tag)
	}
}
