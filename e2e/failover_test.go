package e2e

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"os"
	"strings"
	"time"
)

// Bounds for the waits of every scenario; do-fip's own deadline in the lab is 30 s.
const (
	electTimeout = 20 * time.Second // keepalived electing a new MASTER
	moveTimeout  = 40 * time.Second // the IP reaching the MASTER, retries included
	idleTimeout  = 45 * time.Second // every do-fip run on every node ending
)

// ready starts keepalived everywhere and waits until the MASTER holds the IP and no hook
// runs any more: the common starting point of the failover scenarios.
func (l *lab) ready() *node {
	l.t.Helper()
	m := l.start()
	l.sim.waitHolder(m.dropletID, moveTimeout)
	l.waitHooksIdle()
	return m
}

// randomPhase waits a random part of a second before an event: keepalived's adverts and
// health checks tick once a second from its start, and a scenario runs the same steps
// every time, so without this each run would hit the same point of that second and the
// medians would show one phase instead of the spread a real failure meets.
func randomPhase() { time.Sleep(rand.N(time.Second)) }

// failover runs event (a failure) at a random point of keepalived's tick, records the
// failover that follows to node to, and checks that to holds the IP once every hook has
// ended. It returns when the event happened.
func (l *lab) failover(scenario string, to *node, event func()) time.Time {
	l.t.Helper()
	randomPhase()
	t0 := time.Now()
	event()
	l.measure(scenario, t0, to)
	l.waitHooksIdle()
	if got := l.sim.holder(); got != to.dropletID {
		l.t.Fatalf("%s: holder %d after every hook ended, want %s (%d)", scenario, got, to.name, to.dropletID)
	}
	return t0
}

// measure waits for the failover that began at t0 to end on node to, and records it:
// keepalived's MASTER entry there, the assign POST, the move and do-fip's exit.
func (l *lab) measure(scenario string, t0 time.Time, to *node) timing {
	l.t.Helper()
	return l.measureFrom(scenario, t0, to, to.waitState("MASTER", t0, electTimeout))
}

// measureFrom is measure with the moment the hook that moves the IP was started
// (trigger) given; zero means no keepalived event started it (a periodic reconcile), and
// the detection and MASTER-to-POST times are left out.
func (l *lab) measureFrom(scenario string, t0 time.Time, to *node, trigger time.Time) timing {
	l.t.Helper()
	movedAt := l.sim.waitHolder(to.dropletID, moveTimeout)
	posts := l.sim.assignPosts(to.dropletID, t0)
	// The simulator completes an action exactly its latency after the POST that created
	// it; that instant is more exact than the 20 ms polling that saw it. (Not with
	// action faults that change the latency: then the polled time stands.)
	for i := len(posts) - 1; i >= 0; i-- {
		if done := posts[i].Time.Add(l.latency); l.latency > 0 && posts[i].Status == 201 && !done.After(movedAt) {
			movedAt = done
			break
		}
	}
	tm := timing{Scenario: scenario, DetectMS: -1, MoveMS: ms(movedAt.Sub(t0)), PostMS: -1, ExitMS: -1}
	if !trigger.IsZero() {
		tm.DetectMS = ms(trigger.Sub(t0))
		if len(posts) > 0 {
			tm.PostMS = ms(posts[0].Time.Sub(trigger))
		}
	}
	if done, ok := to.doneAfter(t0, 10*time.Second); ok {
		tm.ExitMS = ms(done.Sub(movedAt))
	}
	record(l.t, tm)
	return tm
}

// doneAfter waits for do-fip's "done" log line on the node, written at or after since.
func (n *node) doneAfter(since time.Time, timeout time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(timeout)
	for {
		if at, ok := n.logEvent("done", since); ok {
			return at, true
		}
		if time.Now().After(deadline) {
			return time.Time{}, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logEvent finds the first line of do-fip's JSON log with this event at or after since.
func (n *node) logEvent(event string, since time.Time) (time.Time, bool) {
	times := n.logEventTimes(event, since)
	if len(times) == 0 {
		return time.Time{}, false
	}
	return times[0], true
}

// logEvents counts the lines of do-fip's JSON log with this event at or after since.
func (n *node) logEvents(event string, since time.Time) int {
	return len(n.logEventTimes(event, since))
}

// logEventTimes are the times of do-fip's JSON log lines with this event at or after since.
func (n *node) logEventTimes(event string, since time.Time) []time.Time {
	f, err := os.Open(n.logFile())
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []time.Time
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		var e struct {
			Event string    `json:"event"`
			Time  time.Time `json:"time"`
		}
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Event == event && !e.Time.Before(since) {
			out = append(out, e.Time)
		}
	}
	return out
}

// hooksRunning counts do-fip processes in the node's namespace.
func (n *node) hooksRunning() int {
	out, _ := runErr("ip", "netns", "pids", n.ns)
	count := 0
	for _, pid := range strings.Fields(out) {
		comm, err := os.ReadFile("/proc/" + pid + "/comm")
		if err == nil && strings.HasPrefix(strings.TrimSpace(string(comm)), "do-fip") {
			count++
		}
	}
	return count
}

// waitHooksIdle waits until no do-fip runs on any node: from then on no assign started
// earlier can still land.
func (l *lab) waitHooksIdle() {
	l.t.Helper()
	deadline := time.Now().Add(idleTimeout)
	for {
		busy := 0
		for _, n := range l.nodes {
			busy += n.hooksRunning()
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("%d do-fip runs still going after %v", busy, idleTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// masters are the nodes whose keepalived says MASTER now.
func (l *lab) masters() []*node {
	var out []*node
	for _, n := range l.nodes {
		if n.state() == "MASTER" {
			out = append(out, n)
		}
	}
	return out
}

// settle waits until no node has changed VRRP state for quiet, then returns the one
// MASTER; it fails the test if that takes longer than timeout or there is not exactly one.
func (l *lab) settle(quiet, timeout time.Duration) *node {
	l.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var last time.Time
		for _, n := range l.nodes {
			for _, st := range []string{"MASTER", "BACKUP", "FAULT"} {
				if at := n.lastState(st); at.After(last) {
					last = at
				}
			}
		}
		if time.Since(last) >= quiet {
			if ms := l.masters(); len(ms) == 1 {
				return ms[0]
			} else {
				l.t.Fatalf("settled with %d MASTERs", len(ms))
			}
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("keepalived still changing state after %v", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
