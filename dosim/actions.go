package dosim

import (
	"math/rand/v2"
	"time"
)

// Action statuses and types as DigitalOcean spells them.
const (
	StatusInProgress = "in-progress"
	StatusCompleted  = "completed"
	StatusErrored    = "errored"

	TypeAssign   = "assign_ip"
	TypeUnassign = "unassign_ip"
)

// ActionFault outcomes.
const (
	OutcomeErrored = "errored" // the action ends errored; the holder does not change
	OutcomeStuck   = "stuck"   // the action never leaves in-progress; the IP and droplets stay locked
)

// action is an asynchronous reserved-IP action. Its status is derived from the clock when read (settle), so
// the simulator needs no goroutines and a test clock moves every action at once.
type action struct {
	id           int
	typ          string
	ip           string
	v6           bool
	resourceType string // reserved_ip, floating_ip or reserved_ipv6: what the creating endpoint calls the IP
	region       string
	target       int   // droplet the IP moves to; 0 for unassign
	involved     []int // droplets with a pending event while this runs
	started      time.Time
	due          time.Time
	outcome      string // "" (completes), OutcomeErrored or OutcomeStuck
	status       string
	completed    time.Time
	hiddenUntil  time.Time // GET of this action answers 404 until then
}

// settle finishes every action whose time has come, in the order they fall due. Callers hold s.mu.
func (s *Sim) settle() {
	now := s.clock()
	for _, id := range s.actOrder {
		a := s.actions[id]
		if a.status != StatusInProgress || a.outcome == OutcomeStuck || now.Before(a.due) {
			continue
		}
		a.completed = a.due
		if a.outcome == OutcomeErrored {
			a.status = StatusErrored
			continue
		}
		a.status = StatusCompleted
		if ip := s.ips[a.ip]; ip != nil {
			ip.moveTo(a.target, a.due)
		}
	}
}

// pendingForIP returns the in-progress action on ip, if any. Callers hold s.mu and have settled.
func (s *Sim) pendingForIP(ip string) *action {
	for _, id := range s.actOrder {
		a := s.actions[id]
		if a.ip == ip && a.status == StatusInProgress {
			return a
		}
	}
	return nil
}

// pendingForDroplet reports whether a droplet takes part in an in-progress action. Callers hold s.mu.
func (s *Sim) pendingForDroplet(dropletID int) bool {
	for _, id := range s.actOrder {
		a := s.actions[id]
		if a.status != StatusInProgress {
			continue
		}
		for _, d := range a.involved {
			if d == dropletID {
				return true
			}
		}
	}
	return false
}

// startAction records a new in-progress action, applying the next matching ActionFault. Callers hold s.mu.
func (s *Sim) startAction(ip *ipState, typ, resourceType string, target int) *action {
	now := s.clock()
	a := &action{
		id: s.nextAction, typ: typ, ip: ip.IP, v6: ip.v6, resourceType: resourceType, region: ip.Region,
		target: target, started: now, status: StatusInProgress,
	}
	s.nextAction++
	if ip.DropletID != 0 {
		a.involved = append(a.involved, ip.DropletID)
	}
	if target != 0 && target != ip.DropletID {
		a.involved = append(a.involved, target)
	}
	latency := s.latency
	if j := s.world.ActionJitter; j > 0 {
		latency += rand.N(2*j+1) - j
	}
	if f := s.takeActionFault(); f != nil {
		a.outcome = f.Outcome
		if f.Latency > 0 {
			latency = f.Latency
		}
		if f.NotFoundFor > 0 {
			a.hiddenUntil = now.Add(f.NotFoundFor)
		}
	}
	a.due = now.Add(latency)
	s.actions[a.id] = a
	s.actOrder = append(s.actOrder, a.id)
	return a
}

// holderChange is a completed move of a reserved IP, kept so that a lagging metadata service can show the
// holder as it was.
type holderChange struct {
	at       time.Time
	from, to int
}

// maxHistory bounds the moves kept per IP: a metadata lag spans a few moves at most.
const maxHistory = 8

// moveTo records a move that completed at the given time.
func (ip *ipState) moveTo(target int, at time.Time) {
	ip.history = append(ip.history, holderChange{at: at, from: ip.DropletID, to: target})
	if len(ip.history) > maxHistory {
		ip.history = ip.history[len(ip.history)-maxHistory:]
	}
	ip.DropletID = target
}

// holderAt returns who held the IP at time t, as far as the kept moves tell.
func (ip *ipState) holderAt(t time.Time) int {
	for i := len(ip.history) - 1; i >= 0; i-- {
		if !ip.history[i].at.After(t) {
			return ip.history[i].to
		}
		if i == 0 {
			return ip.history[0].from
		}
	}
	return ip.DropletID
}
