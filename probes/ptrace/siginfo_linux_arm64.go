package ptrace

// Byte offsets inside siginfo_t on linux/arm64. arm64 has no siginfo.h of
// its own: it uses include/uapi/asm-generic/siginfo.h unchanged (no
// __ARCH_HAS_SWAPPED_SIGINFO, no __ARCH_SI_* overrides), so the union
// __sifields starts at 16 as on amd64. golang.org/x/sys/unix's
// ztypes_linux_arm64.go Siginfo has the same three int32s and int32 pad.
const (
	siCodeOff   = 8  // si_code
	siPIDOff    = 16 // _kill._pid, _rt._pid, _sigchld._pid
	siUIDOff    = 20 // _kill._uid, _rt._uid, _sigchld._uid
	siStatusOff = 24 // _sigchld._status
	siAddrOff   = 16 // _sigfault._addr (pointer-sized)
	siTimerOff  = 16 // _timer._tid
)
