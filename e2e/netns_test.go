package e2e

import (
	"context"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// nsName names a namespace of this test: dofip-<pid>-<hash of the test name>-<role>, so
// that parallel runs (other PIDs) and the tests of one run never share a namespace.
func nsName(t *testing.T, role string) string {
	h := fnv.New32a()
	h.Write([]byte(t.Name()))
	return fmt.Sprintf("dofip-%d-%08x-%s", os.Getpid(), h.Sum32(), role)
}

// reapStale deletes namespaces left by an earlier run of these tests that was killed
// before its cleanup could run: named dofip-<pid>-..., with that PID gone. Namespaces of
// runs still alive are left alone.
func reapStale(t *testing.T) {
	t.Helper()
	out, err := runErr("ip", "netns", "list")
	if err != nil {
		return
	}
	for _, f := range strings.Fields(out) {
		rest, ok := strings.CutPrefix(f, "dofip-")
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		if pids, _ := runErr("ip", "netns", "pids", f); strings.TrimSpace(pids) != "" {
			t.Logf("stale namespace %s still has processes %s; leaving it", f, strings.Fields(pids))
			continue
		}
		if out, err := runErr("ip", "netns", "del", f); err != nil {
			t.Logf("delete stale namespace %s: %v %s", f, err, out)
			continue
		}
		t.Logf("deleted namespace %s left by a killed run", f)
	}
}

// addNS creates a network namespace with loopback up and deletes it when the test ends,
// after killing any process still inside it by PID (hooks keepalived left running).
func addNS(t *testing.T, name string) {
	t.Helper()
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		out, _ := runErr("ip", "netns", "pids", name)
		for _, f := range strings.Fields(out) {
			// Never this test process: a thread of it may have entered the namespace to
			// dial the simulator (see dialerIn), and then it is listed too.
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if out, err := runErr("ip", "netns", "del", name); err != nil {
			t.Logf("cleanup: ip netns del %s: %v %s", name, err, out)
		}
	})
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
}

// ipIn runs "ip -n ns ARGS..." and fails the test on error.
func ipIn(t *testing.T, ns string, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"-n", ns}, args...)...)
}

// linkMAC returns the MAC address of dev in ns.
func linkMAC(t *testing.T, ns, dev string) string {
	t.Helper()
	f := strings.Fields(ipIn(t, ns, "-o", "link", "show", "dev", dev))
	for i, w := range f {
		if w == "link/ether" && i+1 < len(f) {
			return f[i+1]
		}
	}
	t.Fatalf("no MAC for %s in %s", dev, ns)
	return ""
}

// dialerIn returns a DialContext that opens connections from inside namespace ns: the
// simulator's control API listens there and the test process itself stays in its own
// namespace. A socket keeps the namespace it was created in, so only the dial needs to
// happen on a thread switched into ns; that thread is locked and never unlocked, so Go
// discards it instead of reusing it elsewhere.
func dialerIn(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread()
			f, err := os.Open("/run/netns/" + ns)
			if err != nil {
				ch <- result{nil, fmt.Errorf("open namespace %s: %w", ns, err)}
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				ch <- result{nil, fmt.Errorf("enter namespace %s: %w", ns, err)}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}
