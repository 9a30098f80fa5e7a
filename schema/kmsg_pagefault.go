package schema

import (
	"strconv"
	"strings"
)

// PageFault is the x86 page-fault error code of a segfault line decoded
// ("error 6": a user-mode write to an unmapped page). The kernel prints
// the code in hex (show_signal_msg's "error %lx"); its bits are the
// hardware's (X86_PF_* in arch/x86/include/asm/trap_pf.h).
type PageFault struct {
	Mode   string // "user" or "kernel": where the access was made
	Access string // "read", "write" or "exec" (an instruction fetch)
	// Page is "unmapped" (no page there: a NULL or wild pointer, a freed
	// mapping) or "protection" (a page that forbids the access: a write
	// to read-only memory, running non-executable memory).
	Page string
	// Rarer causes, when their bits are set.
	Reserved    bool // a reserved bit set in a page-table entry: corrupt page tables, or bad hardware
	ProtKey     bool // a memory protection key forbade it
	ShadowStack bool // a shadow-stack access (CET)
	SGX         bool // an SGX enclave access check
}

// Page-fault error code bits.
const (
	pfProt   = 1 << 0 // 0: page not present, 1: protection violation
	pfWrite  = 1 << 1 // 0: read, 1: write
	pfUser   = 1 << 2 // 0: kernel mode, 1: user mode
	pfRsvd   = 1 << 3 // a reserved bit was set in a paging entry
	pfInstr  = 1 << 4 // an instruction fetch
	pfPK     = 1 << 5 // protection keys
	pfShStk  = 1 << 6 // shadow stack
	pfSGX    = 1 << 15
	pfKnown  = pfProt | pfWrite | pfUser | pfRsvd | pfInstr | pfPK | pfShStk | pfSGX
	pfMaxHex = 8 // digits: the code is a small number; longer is not one
)

// DecodePageFault reads a segfault line's error field (hex, as logged).
// It returns false for text that is not such a code.
func DecodePageFault(code string) (PageFault, bool) {
	if code == "" || len(code) > pfMaxHex {
		return PageFault{}, false
	}
	n, err := strconv.ParseUint(code, 16, 32)
	if err != nil || n&^pfKnown != 0 {
		return PageFault{}, false
	}
	pf := PageFault{Mode: "kernel", Access: "read", Page: "unmapped",
		Reserved: n&pfRsvd != 0, ProtKey: n&pfPK != 0, ShadowStack: n&pfShStk != 0, SGX: n&pfSGX != 0}
	if n&pfUser != 0 {
		pf.Mode = "user"
	}
	switch {
	case n&pfInstr != 0:
		pf.Access = "exec"
	case n&pfWrite != 0:
		pf.Access = "write"
	}
	if n&pfProt != 0 {
		pf.Page = "protection"
	}
	return pf, true
}

// String says it in words: "user-mode write to an unmapped page",
// "user-mode instruction fetch from a page that forbids it (protection
// violation)".
func (pf PageFault) String() string {
	var b strings.Builder
	b.WriteString(pf.Mode + "-mode ")
	switch pf.Access {
	case "exec":
		b.WriteString("instruction fetch from ")
	case "write":
		b.WriteString("write to ")
	default:
		b.WriteString("read from ")
	}
	if pf.Page == "protection" {
		b.WriteString("a page that forbids it (protection violation)")
	} else {
		b.WriteString("an unmapped page")
	}
	for _, extra := range []struct {
		on   bool
		text string
	}{
		{pf.Reserved, "a reserved bit set in a page-table entry"},
		{pf.ProtKey, "blocked by a memory protection key"},
		{pf.ShadowStack, "a shadow-stack access"},
		{pf.SGX, "an SGX enclave access"},
	} {
		if extra.on {
			b.WriteString("; " + extra.text)
		}
	}
	return b.String()
}
