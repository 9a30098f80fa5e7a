package sessions

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// MergeOptions change how Merge reads.
type MergeOptions struct {
	// Progress, if set, is called for every event read.
	Progress func(Progress)
}

// MergeStats count what a merge wrote.
type MergeStats struct {
	Events int
	Bytes  int64 // size of the file written
}

// Merge writes every event of r (a Set: several recordings as one) to a
// new session file out (O_EXCL) with header h, in the order r delivers
// them (by time across the files), a chunk per second of event time as
// the recorder writes them. Every event of a Set names its host, and each
// file's host_facts is among them, so the merged file opened alone, or
// merged again with others, keeps every host apart. Damage in one of r's
// files ends the reading of that file only; the merge keeps what was read
// and the caller reports the damage (each file's Reader.Damage). An error
// about out is an *OutputError, and the partial file is removed.
func Merge(r Recording, out string, h Header, opt MergeOptions) (MergeStats, error) {
	var st MergeStats
	// A merge is as big as its files together, past a recording's own cap.
	w, err := Create(out, h, WriterOptions{FlushEvery: -1, MaxBytes: 1 << 50})
	if err != nil {
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err // the path is the OutputError's
		}
		return st, &OutputError{out, err}
	}
	x := &extractWriter{w: w, out: out}
	track := ProgressTracker(r, opt.Progress, 1, 1, time.Time{}, time.Time{})
	it := r.Events(time.Time{})
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		if track != nil {
			track(ev.Time)
		}
		if err := x.write(ev); err != nil {
			return st, x.abort(err)
		}
		st.Events++
	}
	if err := it.Err(); err != nil && !IsDamage(err) {
		w.Close()
		os.Remove(out)
		return st, err
	}
	if err := w.Close(); err != nil {
		os.Remove(out)
		return st, &OutputError{out, err}
	}
	if fi, err := os.Stat(out); err == nil {
		st.Bytes = fi.Size()
	}
	return st, nil
}

// MergeFanIn bounds the files MergeFiles reads at once: each file being
// read holds a zstd decoder's history and a segment's buffers (about
// 0.75 MiB) and a file descriptor, so merging a fleet's recordings goes in
// rounds of at most this many files.
const MergeFanIn = 32

// FileDamage is the damage one file of a merge was found to have.
type FileDamage struct {
	Path   string
	Damage *Damage
}

// MergeFileStats count what MergeFiles wrote, and the files found damaged
// (everything before the damage of each was merged).
type MergeFileStats struct {
	MergeStats
	Damaged []FileDamage
}

// MergeFiles merges the session files at paths into out, as Merge does a
// Set of them, holding at most MergeFanIn files open at once: first it
// opens each file alone to check it (a file that cannot be read as a
// session is an error, and nothing is written) and to name its host
// (HostNames, over all of them); then it merges them in groups of
// MergeFanIn into temporary files beside out, and those into out. open
// opens one file. The header is the first file's, with the earliest start
// of all and command as its command.
func MergeFiles(paths []string, open func(string) (*Reader, error), out string, command []string, opt MergeOptions) (MergeFileStats, error) {
	var st MergeFileStats
	hostnames := make([]string, len(paths))
	var hdr Header
	for i, p := range paths {
		r, err := open(p)
		if err != nil {
			return st, err
		}
		h := r.Header()
		r.Close()
		hostnames[i] = h.Hostname
		if i == 0 {
			hdr = h
		} else if !h.Started.IsZero() && (hdr.Started.IsZero() || h.Started.Before(hdr.Started)) {
			hdr.Started = h.Started
		}
	}
	hdr.Command, hdr.Extract = append([]string(nil), command...), nil
	hosts := HostNames(hostnames, paths)
	var temps []string
	defer func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}()
	round := 0
	for len(paths) > MergeFanIn {
		var next, nextHosts []string
		for g := 0; g < len(paths); g += MergeFanIn {
			end := min(g+MergeFanIn, len(paths))
			round++
			tmp := filepath.Join(filepath.Dir(out), fmt.Sprintf(".%s.merge-%d-%d.stk", filepath.Base(out), os.Getpid(), round))
			temps = append(temps, tmp)
			if err := mergeGroup(paths[g:end], hosts[g:end], open, tmp, hdr, opt, &st); err != nil {
				return st, err
			}
			next, nextHosts = append(next, tmp), append(nextHosts, "")
		}
		paths, hosts = next, nextHosts
	}
	err := mergeGroup(paths, hosts, open, out, hdr, opt, &st)
	return st, err
}

// mergeGroup merges paths, whose own hosts are named hosts, into out.
func mergeGroup(paths, hosts []string, open func(string) (*Reader, error), out string, hdr Header, opt MergeOptions, st *MergeFileStats) error {
	files := make([]SetFile, 0, len(paths))
	defer func() {
		for _, f := range files {
			f.Reader.Close()
		}
	}()
	for i, p := range paths {
		r, err := open(p)
		if err != nil {
			return err
		}
		files = append(files, SetFile{Reader: r, Path: p, Host: hosts[i]})
	}
	ms, err := Merge(NewSet(files), out, hdr, opt)
	if err != nil {
		return err
	}
	st.Events, st.Bytes = ms.Events, ms.Bytes
	for _, f := range files {
		if d := f.Reader.Damage(); d != nil {
			st.Damaged = append(st.Damaged, FileDamage{Path: f.Path, Damage: d})
		}
	}
	return nil
}
