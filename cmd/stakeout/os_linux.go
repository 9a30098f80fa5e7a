package main

// liveSupported says whether this build can watch a host: the live TUI and
// snapshot read /proc, ptrace, tracefs and AF_PACKET, which only Linux has.
const liveSupported = true
