package ptrace

import (
	"encoding/binary"
	"strconv"
	"unsafe"

	"github.com/stakeout/stakeout/schema"
	"golang.org/x/sys/unix"
)

// siginfoSize is the kernel's SI_MAX_SIZE; PTRACE_GETSIGINFO copies this much.
const siginfoSize = 128

// Siginfo is a siginfo_t as PTRACE_GETSIGINFO copies it out (GetSiginfo).
type Siginfo [siginfoSize]byte

// A compile-time check that x/sys agrees with SI_MAX_SIZE.
var _ [siginfoSize - unsafe.Sizeof(unix.Siginfo{})]byte
var _ [unsafe.Sizeof(unix.Siginfo{}) - siginfoSize]byte

// si_code values shared by all signals (include/uapi/asm-generic/siginfo.h).
const (
	siUser   = 0
	siKernel = 0x80
	siQueue  = -1
	siTimer  = -2
	siTkill  = -6
)

var genericCodes = map[int32]string{0: "SI_USER", 0x80: "SI_KERNEL", -1: "SI_QUEUE", -2: "SI_TIMER",
	-3: "SI_MESGQ", -4: "SI_ASYNCIO", -5: "SI_SIGIO", -6: "SI_TKILL", -7: "SI_DETHREAD", -60: "SI_ASYNCNL"}

// Per-signal si_code names, for codes > 0 that are not SI_KERNEL.
var signalCodes = map[int][]string{
	int(unix.SIGCHLD): {"", "CLD_EXITED", "CLD_KILLED", "CLD_DUMPED", "CLD_TRAPPED", "CLD_STOPPED", "CLD_CONTINUED"},
	int(unix.SIGSEGV): {"", "SEGV_MAPERR", "SEGV_ACCERR", "SEGV_BNDERR", "SEGV_PKUERR", "SEGV_ACCADI", "SEGV_ADIDERR", "SEGV_ADIPERR", "SEGV_MTEAERR", "SEGV_MTESERR", "SEGV_CPERR"},
	int(unix.SIGBUS):  {"", "BUS_ADRALN", "BUS_ADRERR", "BUS_OBJERR", "BUS_MCEERR_AR", "BUS_MCEERR_AO"},
	int(unix.SIGILL):  {"", "ILL_ILLOPC", "ILL_ILLOPN", "ILL_ILLADR", "ILL_ILLTRP", "ILL_PRVOPC", "ILL_PRVREG", "ILL_COPROC", "ILL_BADSTK", "ILL_BADIADDR"},
	int(unix.SIGFPE):  {"", "FPE_INTDIV", "FPE_INTOVF", "FPE_FLTDIV", "FPE_FLTOVF", "FPE_FLTUND", "FPE_FLTRES", "FPE_FLTINV", "FPE_FLTSUB"},
	int(unix.SIGTRAP): {"", "TRAP_BRKPT", "TRAP_TRACE", "TRAP_BRANCH", "TRAP_HWBKPT", "TRAP_UNK", "TRAP_PERF"},
	int(unix.SIGIO):   {"", "POLL_IN", "POLL_OUT", "POLL_MSG", "POLL_ERR", "POLL_PRI", "POLL_HUP"},
	int(unix.SIGSYS):  {"", "SYS_SECCOMP", "SYS_USER_DISPATCH"},
}

// CodeName names si_code for signal signo as the kernel's headers do
// (SI_USER, SEGV_MAPERR, …), or gives the number.
func CodeName(signo int, code int32) string {
	if code <= 0 || code == siKernel {
		if n, ok := genericCodes[code]; ok {
			return n
		}
	} else if names := signalCodes[signo]; int(code) < len(names) {
		return names[code]
	}
	return strconv.Itoa(int(code))
}

// SentByProcess says whether si_code code means a process sent the signal
// (kill, sigqueue, tgkill), so that the siginfo's pid and uid are the
// sender's.
func SentByProcess(code int32) bool { return code == siUser || code == siQueue || code == siTkill }

func isFault(signo int) bool {
	switch unix.Signal(signo) {
	case unix.SIGSEGV, unix.SIGBUS, unix.SIGILL, unix.SIGFPE:
		return true
	}
	return false
}

// Decode fills the signal-specific fields of s from the siginfo the kernel
// copied out. Which union member is valid depends on si_code
// first and the signal second, exactly as the kernel's copy_siginfo_to_user
// decides (siginfo_layout in kernel/signal.c).
func (raw *Siginfo) Decode(s *schema.Signal) {
	le := binary.LittleEndian // amd64 and arm64 are little-endian
	code := int32(le.Uint32(raw[siCodeOff:]))
	s.Code = CodeName(s.Signo, code)
	pid := int(int32(le.Uint32(raw[siPIDOff:])))
	uid := int(le.Uint32(raw[siUIDOff:]))
	switch {
	case SentByProcess(code):
		s.SenderPID, s.SenderUID = pid, &uid
	case code == siTimer:
		id := int(int32(le.Uint32(raw[siTimerOff:])))
		s.TimerID = &id
	case code > 0 && code != siKernel && s.Signo == int(unix.SIGCHLD):
		s.ChildPID = pid
		s.Status = childStatus(code, int(int32(le.Uint32(raw[siStatusOff:]))))
	case code > 0 && code != siKernel && isFault(s.Signo):
		s.Addr = "0x" + strconv.FormatUint(le.Uint64(raw[siAddrOff:]), 16)
	}
}

// childStatus words SIGCHLD's si_status: an exit code for CLD_EXITED, a
// signal number otherwise.
func childStatus(code int32, status int) string {
	switch code {
	case 1:
		return "exited " + strconv.Itoa(status)
	case 2:
		return "killed by " + schema.SignalName(status)
	case 3:
		return "killed by " + schema.SignalName(status) + " (core dumped)"
	case 4:
		return "trapped by " + schema.SignalName(status)
	case 5:
		return "stopped by " + schema.SignalName(status)
	case 6:
		return "continued"
	}
	return strconv.Itoa(status)
}
