package remote

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Target is one --ssh value: [user@]host[:port], with an IPv6 address in
// brackets when a port follows ([::1]:22).
type Target struct {
	User string
	Host string // no brackets; the label the host's events carry
	Port int    // 0: ssh's default (or ~/.ssh/config's)
	raw  string
}

// String is the target as the user typed it.
func (t Target) String() string { return t.raw }

// ParseTarget reads [user@]host[:port]. The error names the value and is
// one line.
func ParseTarget(s string) (Target, error) {
	t := Target{raw: s}
	bad := func(why string) (Target, error) {
		return Target{}, fmt.Errorf("--ssh %q: %s (want [user@]host[:port], e.g. root@r1:2222 or [::1]:22)", s, why)
	}
	rest := s
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		t.User, rest = rest[:i], rest[i+1:]
		if t.User == "" {
			return bad("empty user")
		}
	}
	switch {
	case strings.HasPrefix(rest, "["):
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return bad("no closing ]")
		}
		t.Host = rest[1:end]
		if net.ParseIP(t.Host) == nil || !strings.Contains(t.Host, ":") {
			return bad("brackets hold an IPv6 address only")
		}
		tail := rest[end+1:]
		if tail != "" {
			if !strings.HasPrefix(tail, ":") {
				return bad("unexpected text after ]")
			}
			p, err := parsePort(tail[1:])
			if err != nil {
				return bad(err.Error())
			}
			t.Port = p
		}
	case strings.Count(rest, ":") > 1:
		// A bare IPv6 address: no port can follow it without brackets.
		if net.ParseIP(rest) == nil {
			return bad("not an IPv6 address; put one in brackets to give a port")
		}
		t.Host = rest
	default:
		t.Host = rest
		if i := strings.IndexByte(rest, ':'); i >= 0 {
			t.Host = rest[:i]
			p, err := parsePort(rest[i+1:])
			if err != nil {
				return bad(err.Error())
			}
			t.Port = p
		}
	}
	if t.Host == "" {
		return bad("empty host")
	}
	// ssh would take a leading '-' as an option (-oProxyCommand=…), and
	// whitespace or a control character is no host name.
	if strings.HasPrefix(t.Host, "-") || strings.HasPrefix(t.User, "-") {
		return bad("a host or user may not start with '-'")
	}
	for _, r := range t.User + t.Host {
		if r <= ' ' || r == 0x7f || r == '\'' || r == '"' || r == '\\' || r == '/' {
			return bad(fmt.Sprintf("%q is not allowed in a user or host", r))
		}
	}
	return t, nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return p, nil
}

// destination is ssh's destination argument: user@host, a bare IPv6
// address without brackets (ssh takes the port from -p).
func (t Target) destination() string {
	if t.User != "" {
		return t.User + "@" + t.Host
	}
	return t.Host
}
