package app_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// underKeepalived runs each command line in turn as a child of one process named keepalived, as keepalived
// runs its hooks: the commands share that keepalived, and a later call is another keepalived (a restart).
func (h *harness) underKeepalived(lines ...string) result {
	h.t.Helper()
	dir := h.t.TempDir()
	script := "#!/bin/sh\nfor line in \"$@\"; do " + binary + " $line; done\nrc=$?\nexit $rc\n"
	path := filepath.Join(dir, "keepalived")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		h.t.Fatal(err)
	}
	return h.startCmd(exec.Command(path, lines...))()
}

// logLines are the do-fip log lines with this event.
func (h *harness) logLines(event string) []string {
	var out []string
	for _, ln := range strings.Split(h.logFile(), "\n") {
		if strings.Contains(ln, `"event":"`+event+`"`) {
			out = append(out, ln)
		}
	}
	return out
}

// The restart bug: keepalived on the MASTER is killed, the peer takes the IP, keepalived comes back and runs
// its weight-0 reconcile check before any notify. The MASTER state on record is the killed keepalived's: the
// new one is about to be BACKUP, and the IP must stay where it is.
func TestReconcileIgnoresTheRecordOfAnEarlierKeepalived(t *testing.T) {
	h := newHarness(t)
	h.env["DO_FIP_IPS"] = ipv4
	h.wantCode(h.underKeepalived("notify INSTANCE VI_1 MASTER 200"), 0)
	h.wantHolder(ipv4, 1001)
	h.sim.Assign(ipv4, 1002) // the peer took over while this keepalived was down
	h.sim.ResetRequests()

	h.wantCode(h.underKeepalived("reconcile", "reconcile", "reconcile", "notify INSTANCE VI_1 BACKUP 100", "reconcile"), 0)
	h.wantHolder(ipv4, 1002)
	if n := h.allRequests(); n != 0 {
		t.Errorf("%d requests: reconcile acted on the state a killed keepalived recorded", n)
	}
	// Said once at info (keepalived 2.x runs its checks before its first notify), once as a warning with the
	// fix, then no more at the default level.
	lines := h.logLines("reconcile_stale_record")
	if len(lines) != 2 || !strings.Contains(lines[0], `"level":"info"`) || !strings.Contains(lines[1], `"level":"warn"`) ||
		!strings.Contains(lines[1], `notify_master \"/usr/bin/do-fip notify MASTER\"`) {
		t.Errorf("want one info and one warning with the fix, got:\n%s", strings.Join(lines, "\n"))
	}

	// Once this keepalived reports MASTER, reconcile trusts it again.
	h.wantCode(h.underKeepalived("notify INSTANCE VI_1 MASTER 200"), 0)
	h.sim.Assign(ipv4, 1002)
	h.wantCode(h.underKeepalived("notify INSTANCE VI_1 MASTER 200", "reconcile"), 0)
	h.wantHolder(ipv4, 1001)
}

// keepalived 1.3.x cannot run a generic notify with arguments and drops it with one line in its own log:
// reconcile is then the only do-fip run, and it must say what is wrong at the default log level.
func TestReconcileSaysNotifyIsNotWired(t *testing.T) {
	h := newHarness(t)
	h.env["DO_FIP_IPS"] = ipv4
	h.wantCode(h.underKeepalived("reconcile", "reconcile", "reconcile"), 0)
	lines := h.logLines("reconcile_unknown")
	if len(lines) != 2 || !strings.Contains(lines[0], `"level":"info"`) || !strings.Contains(lines[1], `"level":"warn"`) ||
		!strings.Contains(lines[1], `Disabling notify script`) {
		t.Errorf("want one info and one warning with the fix, got:\n%s", strings.Join(lines, "\n"))
	}
	// Run by hand, the warning comes at once.
	h.wantCode(h.run("reconcile"), 0)
	if lines := h.logLines("reconcile_unknown"); len(lines) != 3 || !strings.Contains(lines[2], `"level":"warn"`) {
		t.Errorf("a reconcile by hand with nothing recorded does not warn:\n%s", strings.Join(lines, "\n"))
	}
}

// keepalived 1.3.4-1.3.5 run every hook as root unless script_user is set: do-fip says so, once per keepalived.
func TestRunAsRootUnderKeepalivedWarnsOnce(t *testing.T) {
	h := newHarness(t)
	h.env["DO_FIP_IPS"] = ipv4
	h.wantCode(h.underKeepalived("notify INSTANCE VI_1 BACKUP 100", "reconcile", "reconcile"), 0)
	want := 0
	if os.Geteuid() == 0 {
		want = 1
	}
	if got := len(h.logLines("run_as_root")); got != want {
		t.Errorf("%d run_as_root warnings for one keepalived as uid %d, want %d:\n%s", got, os.Geteuid(), want, h.logFile())
	}
	h.wantCode(h.run("reconcile"), 0) // by hand: not keepalived's doing
	if got := len(h.logLines("run_as_root")); got != want {
		t.Errorf("a run by hand warned about keepalived's user")
	}
}
