package filter

import "fmt"

// supportedSummary is appended to every UnsupportedError so the user sees at
// once what they can write instead.
const supportedSummary = "host, net, port, portrange with src/dst; ip, ip6, arp, rarp, tcp, udp, sctp, " +
	"icmp, icmp6, igmp, vrrp; ip/ip6/proto N; multicast, broadcast; less, greater; ether/ip/ip6/tcp/udp/icmp[off:size] " +
	"arithmetic comparisons; and, or, not, parentheses"

// UnsupportedError reports a part of a tcpdump expression that this compiler
// does not handle. It is returned instead of compiling something that might
// differ from libpcap, so callers can tell the user to use --bpf instead.
type UnsupportedError struct {
	Part string // the piece of the expression, e.g. "ether host" or "vlan"
	Why  string // optional detail
}

func (e *UnsupportedError) Error() string {
	s := fmt.Sprintf("filter: '%s' is not supported", e.Part)
	if e.Why != "" {
		s += ": " + e.Why
	}
	return s + " (supported: " + supportedSummary + ")"
}

// SyntaxError reports an expression that is not valid tcpdump syntax (or not
// valid in the way libpcap would also reject, such as "port 70000").
type SyntaxError struct {
	Pos int    // byte offset into the expression
	Msg string // what is wrong
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("filter: syntax error at offset %d: %s", e.Pos, e.Msg)
}

func unsupported(part, why string) error { return &UnsupportedError{Part: part, Why: why} }
