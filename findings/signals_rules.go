package findings

import (
	"fmt"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// signal applies burst, storm and exec-race rules to one delivered signal.
func (d *signals) signal(at time.Time, s *schema.Signal) []*event.Finding {
	if s.Duplicate() {
		return nil // the delivery of a signal counted when it was sent
	}
	p := d.proc(s.PID, s.Comm, at)
	if p == nil || s.Result == schema.SignalIgnored {
		// The kernel dropped it (the process ignores it or is already
		// dying): it never reached the process, so it is no part of a
		// burst, a storm or a race. A supervisor's exiting threads each
		// send its child the Pdeathsig again, and all but the first are
		// dropped so.
		return nil
	}
	var out []*event.Finding
	if f := d.execRace(at, s, p); f != nil {
		out = append(out, f)
	}
	r := p.runs[s.Signal]
	if r == nil {
		if len(p.runs) >= maxSignalsPerProc {
			return out
		}
		r = &sigRun{}
		p.runs[s.Signal] = r
	}
	snd := sigSender(s)
	r.lastSender = snd
	if r.count > 0 && at.Sub(r.last) < d.t.BurstWindow && !at.Before(r.last) && burstable(s) {
		if len(r.gaps) < maxBurstGaps {
			r.gaps = append(r.gaps, sigMs(at.Sub(r.last)))
		}
		r.count++
		r.last = at
		r.addSender(snd)
		if r.count == 2 {
			r.fired = 2
			out = append(out, d.burst(s.PID, p, s.Signal, r))
		}
	} else {
		if f := d.closeBurst(s.PID, p, s.Signal, r); f != nil {
			out = append(out, f)
		}
		first := snd
		first.Count = 1
		*r = sigRun{first: at, last: at, count: 1, senders: []BurstSender{first},
			storming: r.storming, winStart: r.winStart, winCount: r.winCount, lastSender: snd}
	}
	if f := d.storm(at, s, p, r); f != nil {
		out = append(out, f)
	}
	return out
}

// burstable: a burst is another process sending the same signal again and
// again. The kernel's own signals (timers, faults, the tty, SIGCHLD from
// children ending together) and a process signalling itself (a runtime
// preempting its threads with SIGURG, SIGPIPE, abort) are a process's
// normal life, not a burst.
func burstable(s *schema.Signal) bool {
	return s.Signal != "SIGCHLD" && sentByOther(s) && !runtimePreemption(s)
}

// runtimePreemption: SIGURG that a process's runtime sends its own threads
// (Go's asynchronous preemption). tgkill'd, so in host mode a thread that
// ended before its process could be looked up can leave the two pids
// looking different; the code still says it.
func runtimePreemption(s *schema.Signal) bool {
	return s.Signal == "SIGURG" && (s.SenderPID == s.PID || s.Code == "SI_TKILL")
}

// sentByOther: the signal came from a process other than its target, by
// kill, tgkill or sigqueue. The code is checked as well as the sender,
// because recordings made before host mode stopped naming a sender for
// the kernel's signals name whatever task was running.
func sentByOther(s *schema.Signal) bool {
	switch s.Code {
	case "SI_USER", "SI_QUEUE", "SI_TKILL":
		return s.SenderPID != 0 && s.SenderPID != s.PID
	}
	return false
}

func (r *sigRun) addSender(s BurstSender) {
	for i := range r.senders {
		if r.senders[i].PID == s.PID {
			r.senders[i].Count++
			return
		}
	}
	if len(r.senders) < maxBurstSenders {
		s.Count = 1
		r.senders = append(r.senders, s)
	}
}

// burst reports a burst as it stands. It fires at the second signal, so the
// two HUPs of the story are reported at once, and again when the burst
// ends if it grew (unless it was a storm, which has its own finding).
func (d *signals) burst(pid int, p *sigProc, sig string, r *sigRun) *event.Finding {
	data := SignalBurstData{PID: pid, Comm: p.comm, Signal: sig, Count: r.count, WindowMs: sigMs(d.t.BurstWindow),
		SpanMs: sigMs(r.last.Sub(r.first)), GapsMs: append([]float64(nil), r.gaps...),
		Senders: append([]BurstSender(nil), r.senders...)}
	sum := fmt.Sprintf("%d× %s to %s within %g ms, from %s", r.count, sig, sigWho(pid, p.comm), data.SpanMs, sigSendersText(r.senders))
	return &event.Finding{Finding: FindingSignalBurst, Severity: event.Warn, Summary: sum, Data: data}
}

func (d *signals) closeBurst(pid int, p *sigProc, sig string, r *sigRun) *event.Finding {
	if r.count <= r.fired || r.fired < 2 || r.storming {
		return nil
	}
	r.fired = r.count
	return d.burst(pid, p, sig, r)
}

// sweep closes the bursts whose window has passed and forgets quiet state,
// so memory follows the active processes only.
func (d *signals) sweep(at time.Time) []*event.Finding {
	var out []*event.Finding
	for pid, p := range d.procs {
		for sig, r := range p.runs {
			if at.Sub(r.last) < d.t.BurstWindow {
				continue
			}
			if f := d.closeBurst(pid, p, sig, r); f != nil {
				out = append(out, f)
			}
			if at.Sub(r.last) >= d.t.StormWindow+time.Second && at.Sub(r.last) >= time.Second {
				delete(p.runs, sig)
			}
		}
	}
	return out
}

// storm counts each signal per StormWindow; reaching StormCount in one
// window fires once, until a whole window passes below it. It counts what a
// burst counts, signals from another process: a shell running short
// commands back to back gets hundreds of SIGCHLD a second, a tracer one
// per stop of its tracees, a profiled program a SIGPROF per tick of each
// busy thread, and the Go runtime preempts itself with SIGURG. That is
// their normal life, not a storm.
func (d *signals) storm(at time.Time, s *schema.Signal, p *sigProc, r *sigRun) *event.Finding {
	if !burstable(s) {
		return nil
	}
	if r.winStart.IsZero() || at.Sub(r.winStart) >= d.t.StormWindow || at.Before(r.winStart) {
		if r.winCount < d.t.StormCount {
			r.storming = false
		}
		r.winStart, r.winCount = at, 0
	}
	r.winCount++
	if r.storming || r.winCount < d.t.StormCount {
		return nil
	}
	r.storming = true
	secs := max(at.Sub(r.winStart).Seconds(), 0.001)
	data := SignalStormData{PID: s.PID, Comm: p.comm, Signal: s.Signal, Count: r.winCount, RatePerS: sigRound1(float64(r.winCount) / secs)}
	sum := fmt.Sprintf("%s storm on %s: %d in %.0f ms (%.0f/s)", s.Signal, sigWho(s.PID, p.comm), r.winCount, secs*1000, data.RatePerS)
	return &event.Finding{Finding: FindingSignalStorm, Severity: event.Warn, Summary: sum, Data: data}
}

// execRace: a signal from someone else on a process fresh from exec, on a
// child between fork and exec, or on a parent whose child is between fork
// and exec (the supervisor of the story re-executing itself on HUP).
// SIGCHLD, faults and self-sent signals are the process's own business.
func (d *signals) execRace(at time.Time, s *schema.Signal, p *sigProc) *event.Finding {
	if p.raceFired || s.Signal == "SIGCHLD" || s.Addr != "" || (s.SenderPID != 0 && s.SenderPID == s.PID) {
		return nil
	}
	data := ExecRaceData{PID: s.PID, Comm: p.comm, Signal: s.Signal, SenderPID: s.SenderPID, SenderComm: s.SenderComm}
	switch {
	case !p.execAt.IsZero() && at.Sub(p.execAt) < d.t.ExecRaceWindow && !at.Before(p.execAt):
		v := sigMs(at.Sub(p.execAt))
		data.MsAfterExec, data.When = &v, fmt.Sprintf("%g ms after exec", v)
	case !p.forkAt.IsZero() && at.Sub(p.forkAt) < d.t.ForkExecWindow:
		data.When = "between fork and exec"
	case p.child != 0 && at.Sub(p.childAt) < d.t.ForkExecWindow:
		if c := d.procs[p.child]; c == nil || !c.forkAt.Equal(p.childAt) {
			return nil
		}
		data.ChildPID = p.child
		data.When = fmt.Sprintf("while child %d was between fork and exec", p.child)
	default:
		return nil
	}
	p.raceFired = true
	sum := fmt.Sprintf("%s reached %s %s", s.Signal, sigWho(s.PID, p.comm), data.When)
	if s.SenderPID != 0 {
		sum += ", sent by " + sigWho(s.SenderPID, s.SenderComm)
	}
	return &event.Finding{Finding: FindingExecRace, Severity: event.Critical, Summary: sum, Data: data}
}

// exit reports a process killed by a signal and forgets it.
func (d *signals) exit(at time.Time, x *schema.Exit) []*event.Finding {
	p := d.procs[x.PID]
	delete(d.procs, x.PID)
	if x.Signal == "" {
		return nil
	}
	data := ProcessKilledData{PID: x.PID, Comm: x.Comm, Signal: x.Signal, Core: x.Core}
	if p != nil {
		if r := p.runs[x.Signal]; r != nil && at.Sub(r.last) < time.Second {
			data.SenderPID, data.SenderComm = r.lastSender.PID, r.lastSender.Comm
		}
	}
	if coreSignals[x.Signal] {
		data.CoreOutcome = d.core.killed(x.PID, x.Comm, at, x.Core)
	}
	sum := fmt.Sprintf("%s killed by %s", sigWho(x.PID, x.Comm), x.Signal)
	switch {
	case data.CoreDump != "":
		sum += data.CoreOutcome.summary()
	case x.Core:
		sum += " (core dumped)"
	case x.Signal == "SIGKILL":
		sum += "; ptrace cannot see SIGKILL delivered, so its sender is unknown"
	}
	if data.SenderPID != 0 {
		sum += ", sent by " + sigWho(data.SenderPID, data.SenderComm)
	}
	return []*event.Finding{{Finding: FindingProcessKilled, Severity: event.Warn, Summary: sum, Data: data}}
}
