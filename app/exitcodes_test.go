package app_test

import (
	"strings"
	"testing"

	"github.com/do-fip/do-fip/dosim"
)

// The README's exit-code table holds for every command: each class of error, met by each command that can
// meet it, exits with the documented code. reconcile runs as a periodic vrrp_script and exits 0 whatever the
// API or the metadata service say (a non-zero check would put keepalived's instance in FAULT); only what a
// person wrote wrong (arguments, configuration) makes it exit non-zero.
func TestExitCodesPerCommandAndClass(t *testing.T) {
	commands := map[string][]string{
		"assign":    {"assign"},
		"notify":    {"notify", "INSTANCE", "VI_1", "MASTER", "200"},
		"status":    {"status"},
		"reconcile": {"reconcile"},
	}
	classes := []struct {
		name  string
		setup func(h *harness)
		args  []string // appended after the command's words
		codes map[string]int
	}{
		{name: "usage: bad argument", args: []string{"--ip", "not-an-ip"},
			codes: map[string]int{"assign": 2, "notify": 2, "status": 2, "reconcile": 2}},
		{name: "config: bad setting", setup: func(h *harness) { h.env["DO_FIP_TIMEOUT"] = "soon" },
			codes: map[string]int{"assign": 3, "notify": 3, "status": 3, "reconcile": 3}},
		{name: "auth: token rejected", setup: func(h *harness) {
			h.recordMaster(ipv4)
			h.env["DIGITALOCEAN_ACCESS_TOKEN"] = "dop_v1_" + strings.Repeat("3", 64)
		}, codes: map[string]int{"assign": 4, "notify": 4, "status": 4, "reconcile": 0}},
		{name: "refused: IP not in the account", setup: func(h *harness) {
			h.recordMaster("203.0.113.99")
			h.env["DO_FIP_IPS"] = "203.0.113.99"
		}, codes: map[string]int{"assign": 5, "notify": 5, "status": 5, "reconcile": 0}},
		{name: "metadata service down", setup: func(h *harness) {
			h.recordMaster(ipv4)
			h.sim.AddFault(dosim.Fault{Metadata: true, Status: 503})
		}, codes: map[string]int{"assign": 7, "notify": 7, "status": 7, "reconcile": 0}},
	}
	for _, cl := range classes {
		for name, words := range commands {
			t.Run(cl.name+"/"+name, func(t *testing.T) {
				h := newHarness(t)
				h.env["DO_FIP_IPS"] = ipv4
				if cl.setup != nil {
					cl.setup(h)
				}
				args := append(append([]string{}, words...), cl.args...)
				if name == "status" && cl.name == "usage: bad argument" {
					args = []string{"status", "not-an-ip"} // status takes IPs as arguments, not --ip
				}
				r := h.run(args...)
				h.wantCode(r, cl.codes[name])
				// Every class is an error a person must see, reconcile's included (it exits 0, and says why).
				if !strings.Contains(r.stderr, "do-fip: error:") && !(name == "status" && cl.codes[name] == 7) {
					t.Errorf("no error line:\n%s", r.stderr)
				}
			})
		}
	}
}

// recordMaster records a MASTER transition for ip on this node, as keepalived's notify would, then puts the
// reserved IPv4 on the other droplet: reconcile then has something to repair and meets the error class.
func (h *harness) recordMaster(ip string) {
	h.t.Helper()
	saved := h.env["DO_FIP_IPS"]
	h.env["DO_FIP_IPS"] = ip
	h.run("notify", "INSTANCE", "VI_1", "MASTER", "200") // recorded first, whatever the move then meets
	h.env["DO_FIP_IPS"] = saved
	h.sim.Assign(ipv4, 1002)
}
