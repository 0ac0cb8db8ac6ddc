package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/do-fip/do-fip/dosim"
)

// Scenario 1: at start the reserved IP goes to the MASTER, and only the MASTER asks.
func TestStartAssignsToMaster(t *testing.T) {
	l := newLab(t, labOptions{})
	t0 := time.Now()
	m := l.start()
	if m.name != "lb1" {
		t.Fatalf("MASTER is %s, want lb1 (highest priority)", m.name)
	}
	l.measure("start", t0, m)
	l.waitHooksIdle()
	if got := l.sim.holder(); got != m.dropletID {
		t.Fatalf("holder %d, want %d", got, m.dropletID)
	}
	if posts := l.sim.assignPosts(l.nodes[1].dropletID, t0); len(posts) > 0 {
		t.Errorf("the BACKUP posted an assign: %+v", posts)
	}
}

// Scenario 2: the MASTER's health check fails; the BACKUP takes over and gets the IP.
func TestFailoverHealthCheck(t *testing.T) {
	l := newLab(t, labOptions{})
	m := l.ready()
	b := l.nodes[1]
	t0 := l.failover("health check fails", b, func() { m.setHealthy(false) })
	m.waitState("FAULT", t0, electTimeout)
}

// Scenario 3: the MASTER's keepalived dies (SIGKILL): the BACKUP notices the missing
// adverts and takes the IP.
func TestFailoverKeepalivedKilled(t *testing.T) {
	l := newLab(t, labOptions{})
	m := l.ready()
	l.failover("keepalived SIGKILL", l.nodes[1], m.crash)
}

// Scenario 4: the original MASTER recovers. With preempt (keepalived's default) it takes
// MASTER and the IP back; with nopreempt the IP stays where it is.
func TestRecoveryPreempt(t *testing.T) {
	l := newLab(t, labOptions{})
	m := l.ready()
	b := l.nodes[1]
	l.failover("health check fails", b, func() { m.setHealthy(false) })
	t1 := l.failover("recovery (preempt)", m, func() { m.setHealthy(true) })
	b.waitState("BACKUP", t1, electTimeout)
}

func TestRecoveryNoPreempt(t *testing.T) {
	l := newLab(t, labOptions{noPreempt: true})
	m := l.ready()
	b := l.nodes[1]
	l.failover("health check fails", b, func() { m.setHealthy(false) })

	t1 := time.Now()
	m.setHealthy(true)
	m.waitState("BACKUP", t1, electTimeout)
	// Longer than a preempting node needs to take over (about 4 s, see the preempt test).
	time.Sleep(8 * time.Second)
	l.waitHooksIdle()
	if st := m.state(); st != "BACKUP" {
		t.Fatalf("%s is %s after recovering with nopreempt, want BACKUP", m.name, st)
	}
	if got := l.sim.holder(); got != b.dropletID {
		t.Fatalf("holder %d, want %d: the IP moved although nobody preempted", got, b.dropletID)
	}
	if posts := l.sim.assignPosts(m.dropletID, t1); len(posts) > 0 {
		t.Errorf("%s posted an assign after recovering as BACKUP: %+v", m.name, posts)
	}
}

// Scenario 5: 20 rapid health flips on the MASTER. keepalived's elections flap with them
// and start a hook on every transition; once it settles, the IP must be on the final
// MASTER and stay there: no assign started during the flapping may land afterwards.
func TestFlapping(t *testing.T) {
	// Moves that take 3 s overlap the next transitions, so hooks of older transitions
	// are still running (and must be superseded) when newer ones start.
	l := newLab(t, labOptions{latency: 3 * time.Second})
	m := l.ready()
	t0 := time.Now()
	// Flips at different paces: shorter than the health check's interval (keepalived may
	// miss one), about one interval (lb1 only goes FAULT and back to BACKUP: taking
	// MASTER back takes it over 3 s of missed adverts), and long enough for it to become
	// MASTER again, so that MASTER itself changes hands several times.
	paces := []time.Duration{400 * time.Millisecond, 1200 * time.Millisecond, 4500 * time.Millisecond, 2500 * time.Millisecond}
	for i := 0; i < 20; i++ {
		m.setHealthy(i%2 == 1) // odd flips restore it: the 20th leaves it healthy
		time.Sleep(paces[i%len(paces)])
	}
	final := l.settle(6*time.Second, 40*time.Second)
	finalAt := final.lastState("MASTER")
	t.Logf("settled: %s MASTER since %s (flapping began %s)", final.name,
		finalAt.Format("15:04:05.000"), t0.Format("15:04:05.000"))
	l.waitHooksIdle()
	if got := l.sim.holder(); got != final.dropletID {
		t.Fatalf("holder %d after every hook ended, want the final MASTER %d", got, final.dropletID)
	}
	// An assign for another droplet created after the final MASTER took over is stale:
	// it came from a hook of an older transition. Allow for one already on the wire.
	grace := finalAt.Add(200 * time.Millisecond)
	for _, n := range l.nodes {
		if n == final {
			continue
		}
		if stale := l.sim.assignPosts(n.dropletID, grace); len(stale) > 0 {
			t.Errorf("%d stale assign(s) for %s after %s became the final MASTER: first at %s",
				len(stale), n.name, final.name, stale[0].Time.Format("15:04:05.000"))
		}
	}
	time.Sleep(3 * time.Second)
	if got := l.sim.holder(); got != final.dropletID {
		t.Fatalf("holder changed to %d after settling, want %d", got, final.dropletID)
	}
	var transitions int
	for _, n := range l.nodes {
		transitions += n.transitions(t0)
	}
	superseded := 0
	for _, n := range l.nodes {
		superseded += n.logEvents("superseded", t0)
	}
	t.Logf("%d keepalived transitions, %d assign POSTs, %d do-fip runs superseded during the flapping",
		transitions, len(l.sim.assignPosts(l.nodes[0].dropletID, t0))+len(l.sim.assignPosts(l.nodes[1].dropletID, t0)), superseded)
	l.wantHistoryOfTransitions(t0)
}

// Scenario 6: split brain. The VRRP link between the nodes is cut while both still reach
// the API: the BACKUP becomes MASTER too and takes the IP. When the link heals it goes
// back to BACKUP, and the node that stayed MASTER, which gets no new notify, must win the
// IP back. Which advert crosses first after the heal decides how: the peer's (lower
// priority) makes keepalived run notify_master_rx_lower_pri on the MASTER; the MASTER's
// turns the peer BACKUP without the MASTER hearing anything, and only the periodic
// chk_do_fip reconcile repairs it. The heal is made one direction first to pin each case.
func TestSplitBrain(t *testing.T) {
	for _, tc := range []struct {
		name      string
		peerFirst bool
		bound     time.Duration
	}{
		{"peer's advert first", true, 5 * time.Second},
		// chk_do_fip's interval (15 s) plus a move.
		{"MASTER's advert first", false, 20 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, labOptions{})
			m := l.ready()
			b := l.nodes[1]
			l.failover("split brain: link cut", b, func() { m.cutFrom(b) })
			if st := m.state(); st != "MASTER" {
				t.Fatalf("%s is %s during the partition, want MASTER (it still has its health)", m.name, st)
			}
			// The heal must find the IP on the peer, or there is nothing to repair. While
			// the partition lasts, the MASTER's periodic reconcile would take it back
			// (and the peer's take it again: both are MASTER), so the heal comes right
			// after the peer's move, at the same point of chk_do_fip's 15 s timer every
			// run: the periodic case's time is one sample of "up to 15 s plus a move".
			if got := l.sim.holder(); got != b.dropletID {
				t.Fatalf("before the heal the IP is on %d, want the peer %d", got, b.dropletID)
			}

			t1 := time.Now()
			var trigger time.Time
			scenario := "split brain healed (periodic reconcile)"
			if tc.peerFirst && keepalived(t).perState() {
				// No notify_master_rx_lower_pri before 2.0.6: the periodic reconcile repairs it.
				b.healTowards(m)
				m.healTowards(b)
				scenario = "split brain healed, peer first (periodic reconcile)"
				if tc.bound < 20*time.Second {
					tc.bound = 20 * time.Second
				}
			} else if tc.peerFirst {
				b.healTowards(m)
				trigger = m.waitLine(t1, 5*time.Second, func(s string) bool { return strings.Contains(s, "lower priority") })
				m.healTowards(b)
				scenario = "split brain healed (rx_lower_pri)"
			} else {
				m.healTowards(b)
				b.waitState("BACKUP", t1, electTimeout)
				b.healTowards(m)
			}
			b.waitState("BACKUP", t1, electTimeout)
			tm := l.measureFrom(scenario, t1, m, trigger)
			if tm.MoveMS > ms(tc.bound) {
				t.Errorf("the IP reached the MASTER %.0f ms after the heal, more than %v", tm.MoveMS, tc.bound)
			}
			l.waitHooksIdle()
			if got := l.sim.holder(); got != m.dropletID {
				t.Fatalf("holder %d after the heal, want the MASTER %d", got, m.dropletID)
			}
			if st := b.state(); st != "BACKUP" {
				t.Fatalf("%s is %s after the heal, want BACKUP", b.name, st)
			}
		})
	}
}

// Scenario 7: the API misbehaves while the BACKUP takes over; do-fip's retries still get
// the IP to the new MASTER within its deadline.
func TestFailoverAPITrouble(t *testing.T) {
	cases := map[string]struct {
		faults       []dosim.Fault
		actionFaults []dosim.ActionFault
	}{
		"429 burst":      {faults: []dosim.Fault{{Path: "/v2/", Status: 429, RetryAfter: 1, Times: 4}}},
		"5xx":            {faults: []dosim.Fault{{Path: "/v2/", Status: 503, Times: 2}, {Path: "/v2/", Status: 500, Times: 2}}},
		"slow action":    {actionFaults: []dosim.ActionFault{{Latency: 6 * time.Second, Times: 1}}},
		"action errored": {actionFaults: []dosim.ActionFault{{Outcome: dosim.OutcomeErrored, Times: 1}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			l := newLab(t, labOptions{})
			m := l.ready()
			b := l.nodes[1]
			for _, f := range tc.faults {
				l.sim.must(l.sim.do("POST", "/_sim/faults", f, nil))
			}
			for _, f := range tc.actionFaults {
				l.sim.must(l.sim.do("POST", "/_sim/action-faults", f, nil))
				// Action faults change when an action completes: time the move by polling.
				l.latency = 0
			}
			l.failover("API trouble: "+name, b, func() { m.setHealthy(false) })
		})
	}
}

// Scenario 8: three nodes. The MASTER dies, then the next one: the IP follows each time.
func TestThreeNodes(t *testing.T) {
	l := newLab(t, labOptions{nodes: 3})
	m := l.ready()
	if m != l.nodes[0] {
		t.Fatalf("MASTER is %s, want lb1", m.name)
	}
	for _, step := range []struct{ dies, next *node }{{l.nodes[0], l.nodes[1]}, {l.nodes[1], l.nodes[2]}} {
		l.failover("three nodes: "+step.dies.name+" dies", step.next, step.dies.crash)
	}
}

// Active/active (examples/keepalived/active-active): lb1 is the preferred MASTER of the
// reserved IPv4, lb2 of the reserved IPv6. When lb1 fails, lb2 holds both; when lb1
// recovers, the IPv4 comes back and the IPv6 never moves.
func TestActiveActive(t *testing.T) {
	l := newLab(t, labOptions{activeActive: true})
	a, b := l.nodes[0], l.nodes[1]
	t0 := time.Now()
	for _, n := range l.nodes {
		n.setHealthy(true)
		n.start()
	}
	a.waitInstanceState("VI_V4", "MASTER", t0, electTimeout)
	b.waitInstanceState("VI_V6", "MASTER", t0, electTimeout)
	l.sim.waitHolderOf(reservedIP, a.dropletID, moveTimeout)
	l.sim.waitHolderOf(reservedIPv6, b.dropletID, moveTimeout)
	l.waitHooksIdle()

	t1 := time.Now()
	a.setHealthy(false)
	l.measure("active/active: lb1 fails", t1, b)
	l.sim.waitHolderOf(reservedIPv6, b.dropletID, moveTimeout)
	l.waitHooksIdle()
	if v4, v6 := l.sim.holderOf(reservedIP), l.sim.holderOf(reservedIPv6); v4 != b.dropletID || v6 != b.dropletID {
		t.Fatalf("after lb1 failed: IPv4 on %d, IPv6 on %d, want both on %d", v4, v6, b.dropletID)
	}

	t2 := time.Now()
	a.setHealthy(true)
	a.waitInstanceState("VI_V4", "MASTER", t2, electTimeout)
	l.sim.waitHolderOf(reservedIP, a.dropletID, moveTimeout)
	l.waitHooksIdle()
	if v4, v6 := l.sim.holderOf(reservedIP), l.sim.holderOf(reservedIPv6); v4 != a.dropletID || v6 != b.dropletID {
		t.Fatalf("after lb1 recovered: IPv4 on %d, IPv6 on %d, want %d and %d", v4, v6, a.dropletID, b.dropletID)
	}
}
