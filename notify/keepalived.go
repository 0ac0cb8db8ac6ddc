// Package notify reads what keepalived tells a notify hook and decides what the transition means for the
// reserved IPs: take them (MASTER), or stop any move still in flight here (every other state). It never
// unassigns an IP. The engine package carries out the moves.
package notify

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// KeepalivedEvent is a state change as keepalived reports it to a notify hook.
type KeepalivedEvent struct {
	Kind     string // INSTANCE or GROUP; empty in the short form
	Name     string // the VRRP instance or sync group
	State    string // MASTER, BACKUP, FAULT, STOP, DELETED
	Priority int    // -1 when not given
}

// ErrBadEvent marks notify arguments that are not what keepalived sends.
var ErrBadEvent = errors.New("bad keepalived notify arguments")

var states = map[string]bool{"MASTER": true, "BACKUP": true, "FAULT": true, "STOP": true, "DELETED": true}

// ParseKeepalivedArgs reads the words keepalived appends to a generic notify command
// (`INSTANCE|GROUP NAME STATE PRIORITY`, keepalived 2.x; three words without the priority in older versions),
// or the short form `STATE` for use in notify_master/notify_backup/notify_fault lines.
func ParseKeepalivedArgs(args []string) (KeepalivedEvent, error) {
	ev := KeepalivedEvent{Priority: -1}
	switch len(args) {
	case 1:
		ev.State = args[0]
	case 3, 4:
		ev.Kind, ev.Name, ev.State = args[0], args[1], args[2]
		if ev.Kind != "INSTANCE" && ev.Kind != "GROUP" {
			return ev, fmt.Errorf("%w: first word %q: want INSTANCE or GROUP", ErrBadEvent, clip(ev.Kind))
		}
		if ev.Name == "" || strings.ContainsAny(ev.Name, "\x00\n") || len(ev.Name) > 128 {
			return ev, fmt.Errorf("%w: bad instance name %q", ErrBadEvent, clip(ev.Name))
		}
		if len(args) == 4 {
			p, err := strconv.Atoi(args[3])
			if err != nil || p < 0 || p > 255 {
				return ev, fmt.Errorf("%w: priority %q: want 0 to 255", ErrBadEvent, clip(args[3]))
			}
			ev.Priority = p
		}
	default:
		return ev, fmt.Errorf("%w: got %d words, want INSTANCE|GROUP NAME STATE PRIORITY (keepalived's generic notify) or STATE", ErrBadEvent, len(args))
	}
	if !states[ev.State] {
		return ev, fmt.Errorf("%w: state %q: want MASTER, BACKUP, FAULT, STOP or DELETED", ErrBadEvent, clip(ev.State))
	}
	return ev, nil
}

// Decision is what do-fip does about a keepalived event.
type Decision int

const (
	// Take: this node is MASTER; move the IPs here.
	Take Decision = iota
	// Yield: this node is no longer MASTER; record it so that any assign still running here stops. Never
	// unassign: the new MASTER takes the IP, and an unassigned reserved IP serves nobody and is billed.
	Yield
)

// Decide maps a keepalived state to a decision.
func Decide(state string) Decision {
	if state == "MASTER" {
		return Take
	}
	return Yield
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Reconcile damping. While a partition lasts, two nodes can both be MASTER and both reach the API: each
// node's periodic reconcile then takes the IP back from the other, and every move interrupts traffic. The
// first moves of a MASTER period are free (a healed split brain is repaired at once); after that each further
// move waits twice as long, so a lasting partition costs a few moves, not one per check.
const (
	reconcileFreeMoves = 2
	reconcileFirstWait = time.Minute
	reconcileMaxWait   = 10 * time.Minute
	reconcileWindow    = 30 * time.Minute
)

// ReconcileWait returns how long a reconcile must still wait before moving the IP back here, given the times
// of the moves reconcile already made during this node's current MASTER period. Zero means move now.
func ReconcileWait(moves []time.Time, now time.Time) time.Duration {
	var recent []time.Time
	for _, m := range moves {
		if now.Sub(m) < reconcileWindow {
			recent = append(recent, m)
		}
	}
	if len(recent) < reconcileFreeMoves {
		return 0
	}
	wait := reconcileFirstWait << min(len(recent)-reconcileFreeMoves, 8)
	wait = min(wait, reconcileMaxWait)
	last := recent[len(recent)-1]
	return max(last.Add(wait).Sub(now), 0)
}
