package e2e

import (
	"testing"
	"time"
)

// Scenario 1: at start the reserved IP goes to the MASTER, and only the MASTER asks.
func TestStartAssignsToMaster(t *testing.T) {
	l := newLab(t, labOptions{})
	t0 := time.Now()
	m := l.start()
	if m.name != "lb1" {
		t.Fatalf("MASTER is %s, want lb1 (highest priority)", m.name)
	}
	l.measure("start", t0, m, time.Time{})
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
	t0 := time.Now()
	m.setHealthy(false)
	l.measure("health check fails", t0, b, time.Time{})
	m.waitState("FAULT", t0, electTimeout)
	l.waitHooksIdle()
	if got := l.sim.holder(); got != b.dropletID {
		t.Fatalf("holder %d after every hook ended, want %d", got, b.dropletID)
	}
}

// Scenario 3: the MASTER's keepalived dies (SIGKILL): the BACKUP notices the missing
// adverts and takes the IP.
func TestFailoverKeepalivedKilled(t *testing.T) {
	l := newLab(t, labOptions{})
	m := l.ready()
	b := l.nodes[1]
	t0 := time.Now()
	m.crash()
	l.measure("keepalived SIGKILL", t0, b, time.Time{})
	l.waitHooksIdle()
	if got := l.sim.holder(); got != b.dropletID {
		t.Fatalf("holder %d after every hook ended, want %d", got, b.dropletID)
	}
}

// Scenario 4: the original MASTER recovers. With preempt (keepalived's default) it takes
// MASTER and the IP back; with nopreempt the IP stays where it is.
func TestRecoveryPreempt(t *testing.T) {
	l := newLab(t, labOptions{})
	m := l.ready()
	b := l.nodes[1]
	t0 := time.Now()
	m.setHealthy(false)
	l.measure("health check fails", t0, b, time.Time{})
	l.waitHooksIdle()

	t1 := time.Now()
	m.setHealthy(true)
	l.measure("recovery (preempt)", t1, m, time.Time{})
	b.waitState("BACKUP", t1, electTimeout)
	l.waitHooksIdle()
	if got := l.sim.holder(); got != m.dropletID {
		t.Fatalf("holder %d after every hook ended, want %d", got, m.dropletID)
	}
}

func TestRecoveryNoPreempt(t *testing.T) {
	l := newLab(t, labOptions{noPreempt: true})
	m := l.ready()
	b := l.nodes[1]
	t0 := time.Now()
	m.setHealthy(false)
	l.measure("health check fails", t0, b, time.Time{})
	l.waitHooksIdle()

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
