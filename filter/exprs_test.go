package filter

import (
	"fmt"
	"strings"
)

// equivalenceExprs are checked against libpcap over the whole corpus: every
// supported form, alone and combined.
var equivalenceExprs = []string{
	"", "ip", "ip6", "arp", "rarp", "tcp", "udp", "sctp", "icmp", "icmp6", "igmp", "vrrp",
	"ip proto 112", "ip proto 6", "ip6 proto 17", "proto 17", `ip proto \tcp`, `ip proto \vrrp`,
	"ip6 proto 58", "ip proto 0x70", "proto 44", "ip6 proto 0", `ip proto \icmp`, `ip6 proto \udp`,
	`proto \sctp`, "ip proto ospf", `ip proto \gre`, `ip6 proto \ipv6-icmp`,

	"host 10.0.0.1", "src host 10.0.0.1", "dst host 1.2.3.4", "src or dst host 1.2.3.4",
	"src and dst host ::1", "ip host 1.2.3.4", "arp host 10.0.0.1", "rarp src host 10.0.0.1",
	"arp dst host 192.168.1.10", "host 2001:db8::1", "ip6 dst host ff02::12", "host 224.0.0.18",
	"dst and src host 10.0.0.1", "dst or src host 8.8.8.8", "src 10.0.0.1", "dst 2001:db8::2",

	"net 10.0.0.0/8", "src net 10.0.0.0/8", "dst net 192.168.0.0 mask 255.255.0.0", "net 10",
	"net 192.168.1", "net 0.0.0.0/0", "net 10.0.0.0/31", "ip6 net 2001:db8::/32", "net fe80::/10",
	"src net 2001:db8:1::/48", "dst net ff00::/8", "arp net 10.0.0.0/8", "net ::/0", "net 10.255.0.0/16",

	"port 53", "src port 53", "dst port 53", "tcp port 80", "udp dst port 53", "sctp port 53",
	"tcp src or dst port 22", "src and dst port 5", "port 0", "port 65535", "port 010", "port 0x50",
	"udp port 547", "tcp dst port 443",
	"portrange 10-20", "tcp portrange 1000-1024", "udp src portrange 40000-65535", "dst portrange 20-10",
	"portrange 80-80", "sctp portrange 50-60", "src and dst portrange 1-30",

	"multicast", "ether multicast", "broadcast", "ether broadcast", "ip multicast", "ip6 multicast",

	"tcp[tcpflags] & (tcp-syn|tcp-rst|tcp-fin) != 0", "tcp[tcpflags] & tcp-rst != 0", "tcp[13] & 4 != 0",
	"tcp[tcpflags] == tcp-syn", "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn|tcp-ack", "tcp[13] = 0x12",
	"tcp[tcpflags] & tcp-push != 0 and tcp[tcpflags] & tcp-ack != 0", "tcp[tcpflags] & (tcp-ece|tcp-cwr) != 0",
	"tcp[13] & tcp-urg = 0", "tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack = 0",

	"ip[9] = 112", "ip[2:2] > 40", "ip[6:2] & 0x1fff != 0", "ether[0] & 1 != 0", "udp[0:2] = 53",
	"tcp[2:2] >= 1024", "icmp[icmptype] = icmp-echo", "icmp[0] != 8", "ip[0] & 0xf > 5", "len > 60",
	"len <= 54", "ip6[6] = 17", "tcp[12] >> 4 > 5", "tcp[(tcp[12] >> 4) * 4 - 20] = 0",
	"ip[2:2] - ((ip[0]&0xf)<<2) > 20", "ether[12:2] = 0x8100", "ip[0] ^ 1 & 2 = 0", "-ip[8] < 5",
	"1 + 2 * 3 = 7", "ip[9] % 5 = 2", "tcp[0:4] / 65536 = 53", "ip[16:4] | 0xff = 0xffffffff",
	"udp[2:2] - 1 < 100", "ip[ip[0] & 3] > 0", "ether[ether[0] & 7 : 2] < 0x8000", "udp[1] = udp[0] + 1",
	"ip[9] != 6 or ip6[6] != 6", "len - 14 >= ip[2:2]", "(ip[9]) = 6", "(ip[9] = 6)", "tcp[13] & 7 < 2",
	"ip[1] * 4 <= 0", "icmp[icmpcode] = 0 and icmp[icmptype] = icmp-echoreply",

	"tcp or udp", "not tcp", "! tcp", "tcp and not port 22", "not arp and net 10.0.0.0/8",
	"host 10.0.0.1 and (port 53 or port 80)", "ip and tcp or udp and port 80", "not tcp and udp",
	"port 53 or 80", "port 80 and not 443", "host 10.0.0.1 or 1.2.3.4", "tcp && port 80 || icmp",
	"!(tcp or udp)", "not not ip", "vrrp or (ip6 and udp port 547)",
	"(tcp[tcpflags] & tcp-syn != 0) and not (tcp[tcpflags] & tcp-ack != 0)", "(ip[9] = 6) and port 80",
	"ip and (tcp[13] & 2 != 0 or icmp)", "tcp port 80 and (src host 10.0.0.1 or dst net 192.168.0.0/16)",
	"udp and port 53", "not vrrp", "tcp dst port 80 or 443 or 8080", "src net 10.0.0.0/8 and not dst 10.0.0.2",
	"((tcp))", "icmp or icmp6 or arp", "ip6 and not ip6 multicast", "multicast and not broadcast",
	"tcp[13] & 4 != 0 or vrrp", "not (port 53 or port 22) and ip",
	"less 100", "greater 100", "not less 54", "greater 60 and tcp", "ip proto 6 or 17",
	"net 10.0.0.0/8 or 192.168.0.0/16", "src 10.0.0.1 or 10.0.0.2", "tcp[13] & 0x3f = 0x12 and port 80 or 443",
	"udp and (port 53 or 5353 or 67)", "ip6 net 2001:db8::/32 or fe80::/10", "host ::1 or 2001:db8::2",
	longExpr(),
}

// rejectsAll are expressions libpcap refuses with "expression rejects all
// packets" (its optimizer proves them false). We have no optimizer, so we
// compile them; the test checks that our program also rejects every packet.
var rejectsAll = []string{"udp[1] = tcp[1]", "ip[9] != ip6[6]", "tcp and udp", "ip and ip6", "vrrp and ip6", "arp and port 53",
	"udp[1] = tcp[0]", "ip[9] != 6 and ip6[6] != 6"}

// longExpr is big enough that jumps must go through JA trampolines.
func longExpr() string {
	var hosts, ports []string
	for i := 0; i < 12; i++ {
		hosts = append(hosts, fmt.Sprintf("host 10.0.%d.1", i))
		ports = append(ports, fmt.Sprintf("port %d", 1000+i))
	}
	return "(" + strings.Join(hosts, " or ") + " or host 10.0.0.1) and not (" + strings.Join(ports, " or ") + ") or vrrp"
}
