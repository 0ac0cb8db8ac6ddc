package app_test

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/do-fip/do-fip/dosim"
)

// keepalived sends SIGTERM to the hooks still running when it stops: the binary (main's signal handling, so
// not in-process) gives up the move at once, says why, and leaves nothing half done.
func TestSIGTERMStopsARunCleanly(t *testing.T) {
	h := newHarness(t)
	h.sim.AddFault(dosim.Fault{Method: "POST", Path: "/v2/", Delay: time.Hour})
	cmd := exec.Command(binary, "assign", ipv4)
	wait := h.startCmd(cmd)
	h.waitFor("the POST to be sent", func() bool { return strings.Contains(h.logFile(), `"event":"assign"`) })
	time.Sleep(50 * time.Millisecond)
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := wait()
	if r.code == 0 {
		t.Fatalf("exit 0 after SIGTERM with the move not made\nstderr: %s", r.stderr)
	}
	if d := time.Since(sent); d > time.Second {
		t.Errorf("ended %v after SIGTERM, want at once", d)
	}
	if !strings.Contains(r.stderr, "do-fip: error:") || !strings.Contains(r.stderr, "received terminated") {
		t.Errorf("stderr %q, want the error naming the signal", r.stderr)
	}
	if !strings.Contains(h.logFile(), "received terminated") {
		t.Errorf("the log does not say why the run stopped:\n%s", h.logFile())
	}
	h.wantPostGivenUp(ipv4)
}
