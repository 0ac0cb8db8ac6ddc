package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/do-fip/do-fip/dosim"
)

func TestNotifyMasterAssigns(t *testing.T) {
	h := newHarness(t)
	h.env["DO_FIP_IPS"] = ipv4
	r := h.run("notify", "INSTANCE", "VI_1", "MASTER", "200")
	h.wantCode(r, 0)
	h.wantHolder(ipv4, 1001)
	h.wantPosts(1)
	st := h.run("status", "--json")
	if !strings.Contains(st.stdout, `"keepalived_state": "MASTER"`) {
		t.Errorf("status does not show the recorded MASTER state:\n%s", st.stdout)
	}
}

func TestNotifyBackupNeverUnassigns(t *testing.T) {
	for _, state := range []string{"BACKUP", "FAULT", "STOP"} {
		t.Run(state, func(t *testing.T) {
			h := newHarness(t)
			h.env["DO_FIP_IPS"] = ipv4
			h.sim.Assign(ipv4, 1001)
			r := h.run("notify", "INSTANCE", "VI_1", state, "100")
			h.wantCode(r, 0)
			if n := len(h.requests("", "")); n != 0 {
				t.Errorf("%d API requests on %s, want none (record only, never unassign)", n, state)
			}
			h.wantHolder(ipv4, 1001)
		})
	}
}

func TestNotifyShortForm(t *testing.T) {
	h := newHarness(t)
	r := h.run("notify", "--ip", ipv6, "MASTER")
	h.wantCode(r, 0)
	h.wantHolder(ipv6, 1001)
	h.wantHolder(ipv4, 0)
}

func TestNotifyBadArguments(t *testing.T) {
	tests := map[string][]string{
		"no words":         {"notify"},
		"two words":        {"notify", "INSTANCE", "VI_1"},
		"five words":       {"notify", "INSTANCE", "VI_1", "MASTER", "100", "extra"},
		"unknown state":    {"notify", "INSTANCE", "VI_1", "LEADER", "100"},
		"unknown kind":     {"notify", "VRRP", "VI_1", "MASTER", "100"},
		"bad priority":     {"notify", "INSTANCE", "VI_1", "MASTER", "high"},
		"priority too big": {"notify", "INSTANCE", "VI_1", "MASTER", "300"},
		"lowercase state":  {"notify", "master"},
		"bad --ip":         {"notify", "--ip", "203.0.113", "MASTER"},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.env["DO_FIP_IPS"] = ipv4
			r := h.run(args...)
			h.wantCode(r, 2)
			if h.allRequests() != 0 {
				t.Errorf("%d requests on bad arguments", h.allRequests())
			}
			if !strings.Contains(r.stderr, "do-fip: error:") {
				t.Errorf("stderr %q", r.stderr)
			}
		})
	}
}

func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBackupSupersedesAMasterRunBeforeItsMoveIsMade(t *testing.T) {
	h := newHarness(t)
	h.env["DO_FIP_IPS"] = ipv4
	// The MASTER run's POST hangs; meanwhile keepalived moves on to BACKUP.
	h.sim.AddFault(dosim.Fault{Method: "POST", Path: "/v2/reserved_ips/", Times: 1, Delay: 8 * time.Second})
	wait := h.startBinary("notify", "INSTANCE", "VI_1", "MASTER", "200")
	// The simulator logs the delayed POST only once answered; do-fip logs the POST before sending it.
	h.waitFor("the MASTER run to post", func() bool { return strings.Contains(h.logFile(), `"event":"assign"`) })
	time.Sleep(50 * time.Millisecond)
	h.wantCode(h.runBinary("notify", "INSTANCE", "VI_1", "BACKUP", "100"), 0)
	recorded := time.Now()
	r := wait()
	h.wantCode(r, 8)
	// Measured from the BACKUP run's end, not the MASTER run's start: a loaded machine may take a while to
	// start the BACKUP hook, which is not the MASTER run's doing.
	if d := time.Since(recorded); d > 2*time.Second {
		t.Errorf("the superseded run took %v to stop after the BACKUP transition was recorded", d)
	}
	h.wantPostGivenUp(ipv4)
	if !strings.Contains(r.stderr, "superseded") {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestBackupSupersedesAFollowingMasterRun(t *testing.T) {
	h := newHarness(t)
	h.env["DO_FIP_IPS"] = ipv4
	h.sim.AddActionFault(dosim.ActionFault{Times: 1, Latency: 8 * time.Second})
	wait := h.startBinary("notify", "INSTANCE", "VI_1", "MASTER", "200")
	h.waitFor("the MASTER run's POST", func() bool { return len(h.requests("POST", "")) == 1 })
	h.wantCode(h.runBinary("notify", "INSTANCE", "VI_1", "BACKUP", "100"), 0)
	recorded := time.Now()
	r := wait()
	h.wantCode(r, 8)
	if d := time.Since(recorded); d > 2*time.Second {
		t.Errorf("the superseded run took %v to stop after the BACKUP transition was recorded; it should not wait for the 8s action", d)
	}
	h.wantPosts(1) // and no second POST after being superseded
}

func TestReconcile(t *testing.T) {
	t.Run("no recorded state: nothing", func(t *testing.T) {
		h := newHarness(t)
		h.env["DO_FIP_IPS"] = ipv4
		h.sim.Assign(ipv4, 1002)
		h.wantCode(h.run("reconcile"), 0)
		if h.allRequests() != 0 {
			t.Errorf("%d requests without a recorded MASTER state", h.allRequests())
		}
	})
	t.Run("BACKUP: never moves", func(t *testing.T) {
		h := newHarness(t)
		h.env["DO_FIP_IPS"] = ipv4
		h.sim.Assign(ipv4, 1002)
		h.wantCode(h.run("notify", "INSTANCE", "VI_1", "BACKUP", "100"), 0)
		h.wantCode(h.run("reconcile"), 0)
		h.wantHolder(ipv4, 1002)
		if h.allRequests() != 0 {
			t.Errorf("%d requests as BACKUP", h.allRequests())
		}
	})
	t.Run("MASTER and held here: metadata only", func(t *testing.T) {
		h := newHarness(t)
		h.env["DO_FIP_IPS"] = ipv4
		h.wantCode(h.run("notify", "INSTANCE", "VI_1", "MASTER", "200"), 0)
		h.sim.ResetRequests()
		h.wantCode(h.run("reconcile"), 0)
		if n := len(h.requests("", "")); n != 0 {
			t.Errorf("%d API requests while the metadata service shows the IP here, want 0", n)
		}
	})
	t.Run("MASTER and the IP elsewhere: moves it back", func(t *testing.T) {
		h := newHarness(t)
		h.env["DO_FIP_IPS"] = ipv4
		h.wantCode(h.run("notify", "INSTANCE", "VI_1", "MASTER", "200"), 0)
		h.sim.Assign(ipv4, 1002) // the other node took it during a split brain
		h.sim.ResetRequests()
		r := h.run("reconcile")
		h.wantCode(r, 0)
		h.wantHolder(ipv4, 1001)
		h.wantPosts(1)
		if !strings.Contains(h.logFile(), `"event":"reconcile_move"`) {
			t.Error("the move back is not logged")
		}
	})
	t.Run("a lasting partition: moves back twice, then waits; --now does not", func(t *testing.T) {
		h := newHarness(t)
		h.env["DO_FIP_IPS"] = ipv4
		h.wantCode(h.run("notify", "INSTANCE", "VI_1", "MASTER", "200"), 0)
		for i := range 2 {
			h.sim.Assign(ipv4, 1002) // the other MASTER took it again
			h.wantCode(h.run("reconcile"), 0)
			h.wantHolder(ipv4, 1001)
			h.wantPosts(i + 2)
		}
		h.sim.Assign(ipv4, 1002)
		h.wantCode(h.run("reconcile"), 0)
		h.wantHolder(ipv4, 1002)
		h.wantPosts(3)
		if !strings.Contains(h.logFile(), `"event":"reconcile_damped"`) {
			t.Error("the damped move is not logged")
		}
		h.wantCode(h.run("reconcile", "--now"), 0)
		h.wantHolder(ipv4, 1001)
		h.wantPosts(4)
		// A new MASTER period starts with free moves again.
		h.wantCode(h.run("notify", "INSTANCE", "VI_1", "BACKUP", "100"), 0)
		h.wantCode(h.run("notify", "INSTANCE", "VI_1", "MASTER", "200"), 0)
		h.sim.Assign(ipv4, 1002)
		h.wantCode(h.run("reconcile"), 0)
		h.wantHolder(ipv4, 1001)
	})
	t.Run("API failure still exits 0 and is logged", func(t *testing.T) {
		h := newHarness(t)
		h.env["DO_FIP_IPS"] = ipv4
		h.wantCode(h.run("notify", "INSTANCE", "VI_1", "MASTER", "200"), 0)
		h.sim.Assign(ipv4, 1002)
		h.env["DIGITALOCEAN_ACCESS_TOKEN"] = "dop_v1_" + strings.Repeat("1", 64)
		r := h.run("reconcile")
		h.wantCode(r, 0)
		if !strings.Contains(h.logFile(), `"exit_code":4`) {
			t.Errorf("the 401 is not in the log:\n%s", h.logFile())
		}
	})
	t.Run("arguments refused", func(t *testing.T) {
		h := newHarness(t)
		h.wantCode(h.run("reconcile", ipv4), 2)
	})
}

// 50 runs for one IP at once (keepalived re-running the hook, an operator, reconcile) take turns on the IP's
// lock: one moves it, the 49 others find it here and leave it. Without the lock they would all read it elsewhere
// and post, and all but one POST would earn a 422.
func TestConcurrentAssignsSerialize(t *testing.T) {
	h := newHarness(t)
	const n = 50
	waits := make([]func() result, n)
	for i := range n {
		waits[i] = h.startBinary("assign", ipv4)
	}
	moved, already := 0, 0
	for i, w := range waits {
		r := w()
		if r.code != 0 {
			t.Errorf("run %d exited %d: %s", i, r.code, r.stderr)
		}
		switch {
		case strings.Contains(r.stdout, ipv4+": moved to droplet 1001"):
			moved++
		case strings.Contains(r.stdout, ipv4+": already on droplet 1001"):
			already++
		default:
			t.Errorf("run %d: stdout %q", i, r.stdout)
		}
	}
	h.wantHolder(ipv4, 1001)
	h.wantPosts(1)
	if moved != 1 || already != n-1 {
		t.Errorf("%d runs moved the IP and %d found it here, want 1 and %d", moved, already, n-1)
	}
	// One read per waiting run (it finds the IP here in the metadata service and confirms it); the mover posts.
	if got := len(h.requests("", "")); got > n+4 {
		t.Errorf("%d API requests for %d runs, want at most %d", got, n, n+4)
	}
	for _, r := range h.requests("", "") {
		if r.Status >= 400 {
			t.Errorf("%s %s answered %d: the runs collided", r.Method, r.Path, r.Status)
		}
	}
}
