package notify

import "time"

// Reconcile is the split-brain repair's policy for one IP: a plain function of what reconcile has learnt so far
// (the recorded transition, then the metadata service, then the IP's lock, then the API), cheapest first. Each
// verdict either ends the matter or asks for the next, dearer, piece of knowledge.

// ReconcileView is what reconcile knows about one IP. Fields past the first unknown piece are ignored.
type ReconcileView struct {
	// Recorded: a keepalived transition is recorded for the IP; Trusted: the keepalived running now made it
	// (a record of an earlier keepalived says nothing about this one); State: its state.
	Recorded, Trusted bool
	State             string
	// MetadataAsked: the metadata service was asked; MetadataHere: it answered, about this droplet, that the
	// IP is here.
	MetadataAsked, MetadataHere bool
	// LockAsked: the IP's lock was tried; Busy: another do-fip run on this node holds it (it is moving the IP).
	LockAsked, Busy bool
	// APIAsked: the API was read; HeldHere: it names this droplet; Pending: an action on the IP is under way.
	APIAsked, HeldHere, Pending bool
	// Moves are the moves reconcile already made under this MASTER record; Now is the time; SkipDamping is --now
	// (keepalived has just confirmed this node is MASTER).
	Moves       []time.Time
	Now         time.Time
	SkipDamping bool
}

// ReconcileStep is reconcile's verdict for one IP.
type ReconcileStep int

const (
	// Leave the IP alone: nothing recorded, a record of another keepalived, not MASTER, already here, another
	// run is moving it, or a move is pending.
	Leave ReconcileStep = iota
	// AskMetadata, AskLock, AskAPI: learn the next piece before deciding.
	AskMetadata
	AskLock
	AskAPI
	// Damped: the IP went back to another droplet after this node moved it, again and again (both nodes MASTER
	// during a partition); wait before moving it once more.
	Damped
	// Move the IP here.
	Move
)

// ReconcileVerdict is a step, why (for the log), and for Damped how long to wait still.
type ReconcileVerdict struct {
	Step ReconcileStep
	Why  string
	Wait time.Duration
}

// Reconcile decides what to do about one IP from v.
func Reconcile(v ReconcileView) ReconcileVerdict {
	switch {
	case !v.Recorded:
		return ReconcileVerdict{Leave, "no keepalived transition recorded", 0}
	case !v.Trusted:
		return ReconcileVerdict{Leave, "the record is not of the keepalived running now", 0}
	case v.State != "MASTER":
		return ReconcileVerdict{Leave, "not MASTER", 0}
	case !v.MetadataAsked:
		return ReconcileVerdict{Step: AskMetadata}
	case v.MetadataHere:
		return ReconcileVerdict{Leave, "the metadata service shows the IP here", 0}
	case !v.LockAsked:
		return ReconcileVerdict{Step: AskLock}
	case v.Busy:
		return ReconcileVerdict{Leave, "another do-fip run is moving the IP", 0}
	case !v.APIAsked:
		return ReconcileVerdict{Step: AskAPI}
	case v.HeldHere:
		return ReconcileVerdict{Leave, "the API shows the IP here", 0}
	case v.Pending:
		return ReconcileVerdict{Leave, "a move of the IP is pending; checking again next time", 0}
	}
	if wait := ReconcileWait(v.Moves, v.Now); wait > 0 && !v.SkipDamping {
		return ReconcileVerdict{Damped, "the IP went back to another droplet after this node moved it: both nodes MASTER (a partition) and both reach the API?", wait}
	}
	return ReconcileVerdict{Move, "this node is MASTER but the IP is elsewhere (split brain healed?)", 0}
}
