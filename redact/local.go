package redact

import (
	"bufio"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// LearnLocal learns the names of this host and its people, for a recording
// made here: the hostname (and the kernel's NIS domain, if set), the
// invoking user (the current user, $USER, $LOGNAME, $SUDO_USER, $STAKEOUT_AUTHOR) and the
// login accounts in passwd (uid 1000 to 59999, Debian's range for people;
// system accounts such as "daemon" or "mail" are ordinary words in logs).
func (r *Redactor) LearnLocal(procfs, passwd string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if h, err := os.Hostname(); err == nil {
		r.learnHostLocked(h)
	}
	for _, f := range []string{"sys/kernel/hostname", "sys/kernel/domainname"} {
		if b, err := os.ReadFile(procfs + "/" + f); err == nil {
			if s := strings.TrimSpace(string(b)); s != "(none)" {
				r.learnHostLocked(s)
			}
		}
	}
	for _, v := range []string{"USER", "LOGNAME", "SUDO_USER", "STAKEOUT_AUTHOR"} {
		r.learnUserLocked(os.Getenv(v))
	}
	if u, err := user.Current(); err == nil {
		r.learnUserLocked(u.Username)
	}
	f, err := os.Open(passwd)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 0; sc.Scan() && n < maxNames; n++ {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 3 {
			continue
		}
		if uid, err := strconv.Atoi(fields[2]); err == nil && uid >= 1000 && uid < 60000 {
			r.learnUserLocked(fields[0])
		}
	}
}
