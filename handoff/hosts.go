package handoff

import (
	"fmt"
	"strings"
)

// reportTitle names what the report is about: the host, or in a report of
// several hosts how many and which.
func reportTitle(rep *Report) string {
	if rep.MultiHost {
		return fmt.Sprintf("%d hosts (%s)", len(rep.Hosts), hostsText(rep))
	}
	if rep.Host.Hostname == "" {
		return "unknown host"
	}
	return rep.Host.Hostname
}

// hostsText lists the hosts' names.
func hostsText(rep *Report) string {
	names := make([]string, len(rep.Hosts))
	for i, h := range rep.Hosts {
		names[i] = h.Host
	}
	return strings.Join(names, ", ")
}

// hostTable is the per-host facts of a report of several hosts: a row a
// host. Cells are raw (from the files): each format escapes them.
type hostTable struct {
	Columns []string
	Rows    [][]string
}

// hostRows is the table of each host's facts, in a report of several
// hosts: its name, the machine it is, kernel, CPUs, memory, boot, the
// stakeout that recorded it, where its events came from (the file merged,
// or the ssh target) and its clock's offset from the session's.
func hostRows(rep *Report) hostTable {
	if !rep.MultiHost {
		return hostTable{}
	}
	t := hostTable{Columns: []string{"host", "hostname", "kernel", "CPUs", "memory", "booted", "stakeout", "from", "clock"}}
	for _, h := range rep.Hosts {
		row := []string{h.Host, h.Hostname, "", "", "", "", "", "", ""}
		if h.Kernel != "" {
			row[2] = "Linux " + h.Kernel
		}
		if h.CPUs > 0 {
			row[3] = itoa(h.CPUs)
		}
		if h.MemoryBytes > 0 {
			row[4] = fmtBytes(float64(h.MemoryBytes))
		}
		if !h.BootTime.IsZero() {
			row[5] = h.BootTime.UTC().Format("2006-01-02 15:04:05")
		}
		row[6] = h.StakeoutVersion
		switch {
		case h.Target != "":
			row[7] = "ssh " + h.Target
		case h.File != "":
			row[7] = h.File
		}
		if h.ClockOffset != nil {
			row[8] = fmt.Sprintf("%+.3f s (±%.3f s)", h.ClockOffset.Seconds(), (h.ClockRTT / 2).Seconds())
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// cleanTable sanitizes every cell, for the HTML page.
func cleanTable(t hostTable) hostTable {
	out := hostTable{Columns: t.Columns}
	for _, r := range t.Rows {
		row := make([]string, len(r))
		for i, c := range r {
			row[i] = clean(c)
		}
		out.Rows = append(out.Rows, row)
	}
	return out
}
