// Package filter compiles a subset of tcpdump's filter language to classic
// BPF, in pure Go, for attaching to an AF_PACKET socket.
//
// It exists because the only other pure-Go compiler silently mis-compiles
// "vrrp" and "tcp[tcpflags]". Here every supported form is checked against
// libpcap (tcpdump -dd) by running both programs over a packet corpus, and
// anything outside the subset is an *UnsupportedError naming the part,
// never a program that means something else. For the rest, ParseTcpdumpDDD
// loads `tcpdump -ddd` output.
//
// # Grammar
//
//	expr      := term { ("and" | "&&" | "or" | "||") term }   and/or: equal precedence, left to right
//	term      := ("not" | "!") term | "(" expr ")" | relation | primitive | value
//	primitive := [proto] [dir] [type] value    at least one qualifier
//	           | proto                         ip ip6 arp rarp tcp udp sctp icmp icmp6 igmp vrrp
//	           | ["ether" | "ip" | "ip6"] "multicast" | ["ether"] "broadcast"
//	           | "less" number | "greater" number           packet length <= or >=
//	proto     := ip | ip6 | arp | rarp | tcp | udp | sctp   (as a qualifier)
//	dir       := src | dst | src or dst | src and dst       (default: src or dst)
//	type      := host | net | port | portrange | proto      (default: host)
//	value     := 10.0.0.1 | 2001:db8::1                     host
//	           | 10.0.0.0/8 | 10.0.0.0 mask 255.0.0.0 | 10 | 10.1 | 10.1.2   net (IPv4)
//	           | 2001:db8::/32                               net (IPv6)
//	           | 53 | 0x35 | 065                             port, proto (decimal, hex, octal)
//	           | 1000-2000                                   portrange
//	           | \tcp \udp \icmp \vrrp \ospf \gre \ipv6-icmp ...  proto names (Debian /etc/protocols)
//	relation  := arith (">" | ">=" | "<" | "<=" | "=" | "==" | "!=") arith
//	arith     := number | len | constant | -arith | (arith) | arith op arith
//	           | P "[" arith [":" 1|2|4] "]"   P: ether ip ip6 tcp udp icmp
//	op        := | ^ & << >> + - * / %   (loosest to tightest, as in C)
//	constant  := tcpflags tcp-fin tcp-syn tcp-rst tcp-push tcp-ack tcp-urg tcp-ece tcp-cwr
//	             icmptype icmpcode icmp-echoreply icmp-unreach icmp-echo ... (libpcap's names)
//
// A bare value after and/or/not reuses the previous primitive's qualifiers,
// as in libpcap: "port 53 or 123", "host a and not b". An empty expression
// accepts every packet.
//
// # Semantics (libpcap's, including the surprises)
//
//   - "host A" and "net N" without a protocol also match ARP and RARP
//     sender/target addresses; "ip host A" does not.
//   - "port N" means TCP, UDP or SCTP, over IPv4 or IPv6. IPv4 ports and
//     tcp[]/udp[]/icmp[] bytes are read only from unfragmented packets or
//     first fragments, after the real IP header length (options included).
//     IPv6 ports are read only when the next header is directly TCP/UDP/SCTP.
//   - "tcp", "udp", "sctp", "icmp6", "ip6 proto N" and "proto N" also look
//     through one IPv6 fragment header; "ip proto N", "icmp", "igmp" and
//     "vrrp" (IP protocol 112) are IPv4 only.
//   - tcp[], udp[] and icmp[] are IPv4 only.
//   - "multicast" is the Ethernet group bit; "broadcast" is ff:ff:ff:ff:ff:ff;
//     "ip multicast" is 224.0.0.0/4; "ip6 multicast" is ff00::/8.
//   - Without the (unsupported) "vlan" keyword nothing looks inside an
//     802.1Q tag, so "tcp" does not match a tagged TCP frame.
//   - A load past the end of a short packet rejects it. Where libpcap's
//     optimizer skips such a load, its own -O and default programs differ
//     on truncated packets; this package then agrees with one of the two
//     (complete packets always get libpcap's verdict).
//
// Not supported (each is an *UnsupportedError): ether host/src/dst/proto,
// vlan, mpls, pppoe, geneve, gateway, host names and service
// names (no DNS or /etc/services), "ip broadcast" (depends on the
// interface's netmask), partial addresses with host ("host 10.1"),
// arp[]/sctp[]/icmp6[] and other protocol indexes, inbound/outbound, and
// every other libpcap keyword. "tcp and udp" and other contradictions that
// libpcap's optimizer refuses ("expression rejects all packets") compile to
// a program that accepts nothing; only constant cases such as "arp" on a
// raw IP link return ErrRejectsAll.
//
// # Program size
//
// There is no optimizer beyond skipping a load whose value register A
// already holds, so programs are 1-3 times the size of libpcap's optimized
// ones (host 10.0.0.1: 20 instructions against 14; many ORed hosts: 5
// times). Branches further than 255 instructions go through JA. Besides
// the 4096-instruction limit checked here, the kernel charges a socket
// filter against net.core.optmem_max (131072 bytes here), and
// SO_ATTACH_FILTER fails with ENOMEM from about 2,600 instructions, about
// 110 ORed "host" terms.
//
// # Link types
//
// LinkEthernet (also what Linux uses for loopback), LinkRaw (LINKTYPE_RAW
// 101 or DLT_RAW 12: the IP version nibble decides ip/ip6; arp never
// matches) and LinkLinuxSLL (cooked captures on the "any" device;
// multicast/broadcast are rejected there, as libpcap does).
package filter
