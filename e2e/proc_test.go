package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cmdTimeout bounds every short command the harness runs (ip, keepalived --config-test).
const cmdTimeout = 20 * time.Second

// run runs a short command and fails the test with its output if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := runErr(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// runErr runs a short command, bounded by cmdTimeout, and returns its combined output.
func runErr(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// line is one line of a process's output, stamped when the harness read it: keepalived's
// own console timestamps have whole seconds only.
type line struct {
	at   time.Time
	text string
}

// lineLog collects a process's output lines as they arrive and mirrors them, stamped, to a
// file kept in the test's directory for reading after a failure.
type lineLog struct {
	mu     sync.Mutex
	lines  []line
	notify chan struct{} // closed and replaced on every new line
}

func newLineLog() *lineLog { return &lineLog{notify: make(chan struct{})} }

func (l *lineLog) add(text string) {
	l.mu.Lock()
	l.lines = append(l.lines, line{at: time.Now(), text: text})
	close(l.notify)
	l.notify = make(chan struct{})
	l.mu.Unlock()
}

// find returns the first line at or after since that matches.
func (l *lineLog) find(since time.Time, match func(string) bool) (line, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ln := range l.lines {
		if !ln.at.Before(since) && match(ln.text) {
			return ln, true
		}
	}
	return line{}, false
}

// all returns a copy of every line so far.
func (l *lineLog) all() []line {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]line(nil), l.lines...)
}

// waitFor waits until a line at or after since matches, or the timeout passes.
func (l *lineLog) waitFor(since time.Time, timeout time.Duration, match func(string) bool) (line, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		ch := l.notify
		l.mu.Unlock()
		if ln, ok := l.find(since, match); ok {
			return ln, true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return line{}, false
		}
	}
}

// proc is a long-running process the harness started in a namespace, in its own process
// group so that one signal reaches it and its children (keepalived forks a VRRP child).
type proc struct {
	name   string
	cmd    *exec.Cmd
	out    *lineLog
	done   chan struct{}
	waited error
}

// startProc starts argv inside namespace ns with exactly env (never the test's own
// environment, which may hold tokens), logging its output to dir/name.log. The process is
// killed by PID when the test ends.
func startProc(t *testing.T, ns, name, dir string, env []string, argv ...string) *proc {
	t.Helper()
	args := append([]string{"netns", "exec", ns}, argv...)
	cmd := exec.Command("ip", args...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatalf("pipe for %s: %v", name, err)
	}
	cmd.Stdout = pw
	cmd.Stderr = pw
	f, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatalf("log file for %s: %v", name, err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	pw.Close()
	p := &proc{name: name, cmd: cmd, out: newLineLog(), done: make(chan struct{})}
	go func() {
		defer f.Close()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			p.out.add(sc.Text())
			fmt.Fprintf(f, "%s %s\n", time.Now().Format("15:04:05.000"), sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr)
		pr.Close()
	}()
	go func() {
		p.waited = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill(t) })
	return p
}

// pid is the process's PID; "ip netns exec" execs the program in place, so it is the
// program's own PID and the ID of its process group.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// running reports whether the process has not exited yet.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// signal sends sig to the process group and waits up to wait for the process to exit.
func (p *proc) signal(sig syscall.Signal, wait time.Duration) error {
	if !p.running() {
		return nil
	}
	if err := syscall.Kill(-p.pid(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s (pid %d): %w", p.name, p.pid(), err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(wait):
		return fmt.Errorf("%s (pid %d) still running %s after %v", p.name, p.pid(), wait, sig)
	}
}

// kill ends the process group with SIGKILL; used by cleanup, so it only logs.
func (p *proc) kill(t *testing.T) {
	if err := p.signal(syscall.SIGKILL, 5*time.Second); err != nil {
		t.Logf("cleanup: %v", err)
	}
}
