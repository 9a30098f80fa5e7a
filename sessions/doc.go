// Package sessions is the .stk session file: one append-only, compressed
// file per recording, written by Writer, read by Reader and Iter, and
// replayed by Player. FORMAT.md beside this file specifies the bytes.
//
// Guarantees:
//   - Events are flushed at least once a second (WriterOptions.FlushEvery),
//     so after the process is killed everything older than a second is
//     readable. (Data the kernel has not yet written back can still be lost
//     to a power cut or kernel crash; the file is fsynced on Close.)
//   - A cut or corrupt tail loses only the tail: Reader reports it as a
//     *Damage ("recording ends early at 14:02:11: 812 bytes unreadable") and
//     delivers every event before it. A corrupt chunk in the middle loses the
//     rest of its segment: reading goes on at the next good segment start
//     ("recording damaged at …, read on from 14:03:00").
//   - Recording never fills a disk: the Writer stops for good at MaxBytes,
//     ending the file cleanly with a record.stopped finding in it; when its
//     filesystem nears full it pauses (a record.paused finding, events
//     dropped and counted) and resumes once there is room again.
//   - Files are untrusted input: every size a reader allocates is bounded,
//     and bad bytes produce Damage or ErrNotSession, never a panic.
//   - A finished or killed file takes more events (notes) with Append,
//     which writes after its end and never rewrites a byte (a torn last
//     chunk is cut off first); a file a live Writer holds is refused
//     (ErrLocked). Readers deliver appended events at their time.
//
// Seeking uses a per-segment time index, so it costs the same at minute one
// and hour twenty-four.
package sessions
