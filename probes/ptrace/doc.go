// Package ptrace is the signals probe's tracing thread: the one OS thread
// the kernel knows as the tracer of its tracees, and the only code in
// stakeout that makes ptrace requests or waits for a tracee's status.
//
// The kernel's tracer is a thread, not a process: it refuses requests from
// any other thread (ESRCH), wait4(__WNOTHREAD) reports only that thread's
// tracees, and a PTRACE_SEIZE from another thread makes that thread the
// tracer. So the raw calls are unexported, and the requests are methods of
// a Thread, which Run hands only to the function it runs on a goroutine
// locked to that thread for good. A method called from elsewhere (a Thread
// leaked to another goroutine) panics rather than fail quietly.
//
// Everything here but this comment is built on Linux only.
package ptrace
