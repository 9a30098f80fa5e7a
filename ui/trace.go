package ui

import (
	tea "charm.land/bubbletea/v2"
)

// traceAskMsg is a pane asking to attach ptrace to pid, or detach it (a
// and d in the signals pane). The root runs Options.Trace for it.
type traceAskMsg struct {
	pid    int
	host   string // the pane's host (onHost): "" is the local one, the only one traced
	attach bool
}

// traceDoneMsg says how an attach or detach went; the probe records the
// outcome itself, as a trace event, so only a failure is shown here.
type traceDoneMsg struct {
	pid    int
	attach bool
	err    error
}

func (e paneEnv) withTrace(on bool) paneEnv { e.trace = on; return e }

// traceVerb names what a or d asked for.
func traceVerb(attach bool) string {
	if attach {
		return "attach"
	}
	return "detach"
}

// askTrace runs Options.Trace off the UI goroutine: it waits for the
// tracer.
func (m Model) askTrace(msg traceAskMsg) tea.Cmd {
	trace := m.opts.Trace
	if trace == nil {
		return nil
	}
	return func() tea.Msg {
		err := trace(msg.pid, msg.attach)
		return traceDoneMsg{pid: msg.pid, attach: msg.attach, err: err}
	}
}

// traceAsk is the command a pane returns to ask for it.
func traceAsk(pid int, attach bool) tea.Cmd {
	return func() tea.Msg { return traceAskMsg{pid: pid, attach: attach} }
}
