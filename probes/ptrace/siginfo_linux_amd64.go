package ptrace

// Byte offsets inside siginfo_t on linux/amd64 (include/uapi/asm-generic/
// siginfo.h): si_signo, si_errno and si_code are three ints, then the
// union __sifields starts at the next 8-byte boundary because it holds
// pointers. golang.org/x/sys/unix.Siginfo spells the same 4-byte pad.
const (
	siCodeOff   = 8  // si_code
	siPIDOff    = 16 // _kill._pid, _rt._pid, _sigchld._pid
	siUIDOff    = 20 // _kill._uid, _rt._uid, _sigchld._uid
	siStatusOff = 24 // _sigchld._status
	siAddrOff   = 16 // _sigfault._addr (pointer-sized)
	siTimerOff  = 16 // _timer._tid
)
