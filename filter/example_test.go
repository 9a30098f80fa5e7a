package filter_test

import (
	"errors"
	"fmt"

	"github.com/stakeout/stakeout/filter"
)

func ExampleCompile() {
	prog, err := filter.Compile("vrrp or tcp[tcpflags] & tcp-rst != 0", filter.LinkEthernet, 128)
	fmt.Println(len(prog) > 0, err)

	_, err = filter.Compile("vlan 10 and vrrp", filter.LinkEthernet, 128)
	var ue *filter.UnsupportedError
	if errors.As(err, &ue) {
		fmt.Println("unsupported:", ue.Part) // tell the user about --bpf
	}
	// Output:
	// true <nil>
	// unsupported: vlan
}

func ExampleParseTcpdumpDDD() {
	// Output of `tcpdump -y EN10MB -ddd vrrp`.
	prog, err := filter.ParseTcpdumpDDD("6\n40 0 0 12\n21 0 3 2048\n48 0 0 23\n21 0 1 112\n6 0 0 262144\n6 0 0 0\n")
	fmt.Println(len(prog), err)
	// Output: 6 <nil>
}
