package remote

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/sessions"
)

// How long each step of a connect may take before it is given up.
const (
	bootTimeout   = 30 * time.Second // ssh connects, the script says what it found
	copyTimeout   = 10 * time.Minute // the binary crosses and is hashed
	headerTimeout = 30 * time.Second // the stream starts and sends its header
	closeGrace    = 5 * time.Second  // after stdin closes, for the stream to finish
)

// conn is one ssh session running one `stakeout stream`.
type conn struct {
	proc   *os.Process
	stdin  *os.File // our end of ssh's stdin: closing it ends the stream
	inMu   sync.Mutex
	outF   *os.File      // our end of ssh's stdout
	out    *bufio.Reader // over outF: the boot lines, then the stream
	stream *sessions.StreamReader
	how    string // "installed PATH" or "copied"

	stderr  *tail
	errDone chan struct{} // ssh's stderr is drained
	exited  chan struct{} // ssh has exited
	waitErr error         // ssh's exit, once exited is closed
}

// dial starts ssh to o.Target, boots the stream there (run the installed
// stakeout, or copy ours) and reads the stream's header. On error nothing
// is left running, here or there.
func dial(ctx context.Context, o *Options) (*conn, error) {
	c, err := startSSH(o)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, c.kill)
	defer stop()
	if err := c.boot(o); err != nil {
		c.close(time.Second)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("--ssh %s: %w", o.Target, err)
	}
	return c, nil
}

// startSSH runs ssh with a pipe on each of its standard files.
func startSSH(o *Options) (*conn, error) {
	args := argv(o.SSH, o.Target, remoteCommand(o.Version, o.streamArgs()))
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		for _, f := range []*os.File{inR, inW, outR, outW} {
			f.Close()
		}
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	cmd.SysProcAttr = sysProcAttr()
	c := &conn{stdin: inW, outF: outR, out: bufio.NewReaderSize(outR, 64<<10), stderr: &tail{},
		errDone: make(chan struct{}), exited: make(chan struct{})}
	err = c.start(cmd)
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		errR.Close()
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("--ssh %s: %s not found (set %s to the ssh command to use)", o.Target, args[0], EnvSSH)
		}
		return nil, fmt.Errorf("--ssh %s: starting %s: %w", o.Target, args[0], err)
	}
	go func() {
		c.stderr.drain(errR)
		errR.Close()
		close(c.errDone)
	}()
	return c, nil
}

// start starts cmd from a goroutine locked to its OS thread until cmd has
// exited: Linux's parent-death signal is sent when the thread that forked
// the child ends, not the process, and the Go runtime may end a thread.
func (c *conn) start(cmd *exec.Cmd) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			close(c.exited)
			return
		}
		c.proc = cmd.Process
		started <- nil
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	return <-started
}

// boot answers the boot script (see bootScript) and reads the header.
func (c *conn) boot(o *Options) error {
	_ = c.outF.SetReadDeadline(time.Now().Add(bootTimeout))
	line, err := c.bootLine("stakeout-boot ")
	if err != nil {
		return err
	}
	f := strings.Fields(line)
	if len(f) < 5 || f[1] != "1" {
		return fmt.Errorf("the remote bootstrap said %q, which this stakeout does not understand", line)
	}
	osName, machine, mode := f[2], f[3], f[4]
	switch {
	case mode == "installed":
		c.how = "installed " + strings.Join(f[5:], " ")
	case osName != "Linux":
		c.refuse()
		return fmt.Errorf("the host runs %s: stakeout stream needs Linux", osName)
	case !archFits(o.arch(), machine):
		c.refuse()
		return fmt.Errorf("the host is %s, this stakeout is built for %s: install stakeout %s for %s in PATH there",
			machine, archName(o.arch()), o.Version, machine)
	default:
		if err := c.sendCopy(o); err != nil {
			return err
		}
		c.how = "copied"
	}
	_ = c.outF.SetReadDeadline(time.Now().Add(headerTimeout))
	if err := c.bootError(); err != nil {
		return err
	}
	st, err := sessions.ReadStream(c.out)
	if err != nil {
		return c.failure(fmt.Errorf("reading the stream's header: %w", err))
	}
	_ = c.outF.SetReadDeadline(time.Time{})
	c.stream = st
	return nil
}

// refuse tells the script not to copy, and ends the session.
func (c *conn) refuse() {
	_ = c.send("no\n")
	c.closeStdin()
}

// sendCopy sends the binary, checks the hash the host computed of what
// it received against ours, and says run (or no).
func (c *conn) sendCopy(o *Options) error {
	path, sum, size, err := o.binary()
	if err != nil {
		return fmt.Errorf("reading this stakeout to copy it: %w", err)
	}
	bin, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading this stakeout to copy it: %w", err)
	}
	defer bin.Close()
	_ = c.stdin.SetWriteDeadline(time.Now().Add(copyTimeout))
	_ = c.outF.SetReadDeadline(time.Now().Add(copyTimeout))
	if err := c.send(fmt.Sprintf("%d\n", size)); err != nil {
		return c.failure(err)
	}
	var src io.Reader = io.LimitReader(bin, size)
	if o.CorruptCopy {
		src = &corrupter{r: src, at: size / 2}
	}
	c.inMu.Lock()
	_, err = io.Copy(c.stdin, src)
	c.inMu.Unlock()
	if err != nil {
		return c.failure(fmt.Errorf("copying stakeout: %w", err))
	}
	line, err := c.bootLine("stakeout-boot-sha256 ")
	if err != nil {
		return err
	}
	got := strings.TrimSpace(strings.TrimPrefix(line, "stakeout-boot-sha256 "))
	if got != sum {
		c.refuse()
		if got == "" {
			return errors.New("the host has no sha256sum, shasum or openssl to check the copy of stakeout with; not running it (install stakeout in PATH there)")
		}
		return fmt.Errorf("the copy of stakeout arrived damaged (sha256 %.16s…, sent %.16s…); not running it, and removed it", got, sum)
	}
	if err := c.send("run\n"); err != nil {
		return c.failure(err)
	}
	_ = c.stdin.SetWriteDeadline(time.Time{})
	return nil
}

// bootLine reads lines until one starts with prefix. A login shell may
// print things first (a .bashrc that echoes): they are skipped, within
// bounds. At the end of the output, the error is ssh's.
func (c *conn) bootLine(prefix string) (string, error) {
	for range 200 {
		line, err := c.out.ReadString('\n')
		if strings.HasPrefix(line, prefix) && err == nil {
			return strings.TrimRight(line, "\r\n"), nil
		}
		if strings.HasPrefix(line, "stakeout-boot-error ") {
			return "", errors.New(strings.TrimSpace(strings.TrimPrefix(line, "stakeout-boot-error ")))
		}
		if err != nil {
			return "", c.failure(err)
		}
	}
	return "", fmt.Errorf("the remote shell printed over 200 lines before stakeout's bootstrap answered")
}

// bootError reads the script's error line if that is what came instead
// of the stream.
func (c *conn) bootError() error {
	const p = "stakeout-boot-error "
	if b, _ := c.out.Peek(len(p)); string(b) != p {
		return nil
	}
	line, _ := c.out.ReadString('\n')
	return errors.New(strings.TrimSpace(strings.TrimPrefix(line, p)))
}

// failure explains an error of the link: what ssh (or the remote shell,
// or the remote stakeout) last said on stderr is the reason, if it said
// anything; else err.
func (c *conn) failure(err error) error {
	c.closeStdin()
	select {
	case <-c.exited:
	case <-time.After(2 * time.Second):
	}
	select {
	case <-c.errDone:
	case <-time.After(500 * time.Millisecond):
	}
	if last := c.stderr.last(); last != "" {
		return errors.New(explain(last))
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errors.New("the host did not answer in time")
	}
	if errors.Is(err, io.EOF) {
		return errors.New("ssh ended before stakeout started there")
	}
	return err
}

// explain adds what to do to ssh's own words where they call for it.
func explain(line string) string {
	l := strings.ToLower(line)
	if strings.Contains(l, "permission denied") || strings.Contains(l, "password") || strings.Contains(l, "host key verification failed") {
		return line + " (stakeout runs ssh with BatchMode=yes: a key or an agent must let it in without a prompt, and the host key must be known)"
	}
	return line
}

// send writes s to the remote side's stdin.
func (c *conn) send(s string) error {
	c.inMu.Lock()
	defer c.inMu.Unlock()
	_, err := io.WriteString(c.stdin, s)
	return err
}

// closeStdin ends the stream: it stops cleanly when its stdin ends.
func (c *conn) closeStdin() {
	c.inMu.Lock()
	c.stdin.Close()
	c.inMu.Unlock()
}

// kill ends ssh now.
func (c *conn) kill() {
	if c.proc != nil {
		killTree(c.proc)
	}
}

// close ends the session: stdin closes, ssh has grace to exit, then is
// killed. Its output is closed after.
func (c *conn) close(grace time.Duration) {
	c.closeStdin()
	select {
	case <-c.exited:
	case <-time.After(grace):
		c.kill()
		<-c.exited
	}
	c.outF.Close()
}

// corrupter flips one byte at offset at: the test hook for a copy
// damaged on the way.
type corrupter struct {
	r   io.Reader
	off int64
	at  int64
}

func (c *corrupter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.at >= c.off && c.at < c.off+int64(n) {
		p[c.at-c.off] ^= 0xff
	}
	c.off += int64(n)
	return n, err
}

// tail keeps the last lines ssh wrote on stderr (its own errors, the
// remote shell's and the remote stakeout's), bounded.
type tail struct {
	mu    sync.Mutex
	lines []string
}

const tailLines = 8

func (t *tail) drain(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 4096)
	sc.Split(scanLinesLong)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		t.mu.Lock()
		t.lines = append(t.lines, line)
		if len(t.lines) > tailLines {
			t.lines = t.lines[1:]
		}
		t.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r)
}

// last is the last line, as one line of at most 300 bytes.
func (t *tail) last() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == 0 {
		return ""
	}
	s := event.Sanitize(t.lines[len(t.lines)-1])
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// scanLinesLong splits lines, cutting one longer than the buffer instead
// of failing on it.
func scanLinesLong(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if len(data) >= 4096 || (atEOF && len(data) > 0) {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// hash of a binary, made once per path.
var (
	hashMu sync.Mutex
	hashes = map[string]binInfo{}
)

type binInfo struct {
	sum  string
	size int64
}

func hashFile(path string) (binInfo, error) {
	hashMu.Lock()
	defer hashMu.Unlock()
	if h, ok := hashes[path]; ok {
		return h, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return binInfo{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return binInfo{}, err
	}
	bi := binInfo{sum: hex.EncodeToString(h.Sum(nil)), size: n}
	hashes[path] = bi
	return bi, nil
}
