package state

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ProcStart orders do-fip runs by when keepalived started them. keepalived forks the hooks of successive
// transitions in order, but they may run in any order (keepalived issues #996, #2158): a BACKUP hook can finish
// before the MASTER hook that came first. The kernel records each process's start time at fork, so comparing
// start times (then PIDs, for two forks in one clock tick) recovers keepalived's order whatever the scheduler did.
type ProcStart struct {
	Start uint64 `json:"start"` // process start time, clock ticks since boot (/proc/self/stat field 22)
	PID   int    `json:"pid"`
}

// After reports whether e was started after o.
func (e ProcStart) After(o ProcStart) bool {
	if e.Start != o.Start {
		return e.Start > o.Start
	}
	return e.PID > o.PID
}

// IsZero reports whether e is unset.
func (e ProcStart) IsZero() bool { return e.Start == 0 && e.PID == 0 }

// SelfStart returns this process's ProcStart.
func SelfStart() ProcStart {
	pid := os.Getpid()
	b, err := os.ReadFile("/proc/self/stat")
	if err == nil {
		if start, ok := parseStartTime(string(b)); ok {
			return ProcStart{Start: start, PID: pid}
		}
	}
	// Without /proc, the wall clock in microseconds is the best approximation of the fork order.
	return ProcStart{Start: uint64(time.Now().UnixMicro()), PID: pid}
}

// parseStartTime reads field 22 of /proc/PID/stat.
func parseStartTime(stat string) (uint64, bool) {
	info, ok := parseStat(stat)
	return info.start, ok
}

// Transition is one keepalived state change as a notify hook saw it.
type Transition struct {
	Event    ProcStart `json:"event"`
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind,omitempty"` // INSTANCE or GROUP
	Name     string    `json:"name,omitempty"`
	State    string    `json:"state"` // MASTER, BACKUP, FAULT, STOP
	Priority int       `json:"priority,omitempty"`
	// Keepalived is the keepalived that ran the hook (zero when run by hand): reconcile trusts only a
	// transition of the keepalived running now.
	Keepalived Keepalived `json:"keepalived,omitzero"`
}

// IPState is what this node last knew about keepalived's state for one IP, and the recent history.
type IPState struct {
	IP      string       `json:"ip"`
	Current Transition   `json:"current"`
	History []Transition `json:"history"` // newest last
	// ReconcileMoves are the moves reconcile made while Current (then MASTER) held, oldest first.
	ReconcileMoves []time.Time `json:"reconcile_moves,omitempty"`
	ReconcileBase  ProcStart   `json:"reconcile_base"`
}

const historyLen = 20

func (d *Dir) ipStateName(ip netip.Addr) string { return "ip-" + ipName(ip) + ".json" }

// withMutex runs f while holding the short-lived lock that guards ip's state file (not the assign lock).
func (d *Dir) withMutex(ip netip.Addr, f func() error) error {
	return d.withNamedMutex("ip-"+ipName(ip), f)
}

// withNamedMutex runs f while holding the short-lived lock named name.
func (d *Dir) withNamedMutex(name string, f func() error) error {
	p := filepath.Join(d.path, "."+name+".mutex")
	fh, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnusable, unwrapPathErr(err))
	}
	defer fh.Close()
	if err := syscall.Flock(int(fh.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(fh.Fd()), syscall.LOCK_UN)
	return f()
}

// RecordTransition stores t as ip's current state when Supersede says it replaces the recorded one; otherwise
// t only joins the history. It returns what it did and the current transition.
func (d *Dir) RecordTransition(ip netip.Addr, t Transition) (Outcome, Transition, error) {
	var outcome Outcome
	var current Transition
	err := d.withMutex(ip, func() error {
		st, err := d.IPState(ip)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			// A damaged file must not block failover: start over.
			st = nil
		}
		if st == nil {
			st = &IPState{IP: ip.String()}
		}
		outcome = Supersede(st.Current, t, KeepalivedRunning)
		if outcome == Applied {
			st.Current = t
		}
		current = st.Current
		st.History = append(st.History, t)
		if len(st.History) > historyLen {
			st.History = st.History[len(st.History)-historyLen:]
		}
		return d.writeJSON(d.ipStateName(ip), st)
	})
	return outcome, current, err
}

// ReconcileMoves returns the moves reconcile made under the transition base (none if base is no longer the
// one they were made under).
func (st *IPState) ReconcileMovesUnder(base ProcStart) []time.Time {
	if st == nil || st.ReconcileBase != base {
		return nil
	}
	return st.ReconcileMoves
}

// NoteReconcileMove records that reconcile moved ip here at time at, under the MASTER transition base.
func (d *Dir) NoteReconcileMove(ip netip.Addr, base ProcStart, at time.Time) error {
	return d.withMutex(ip, func() error {
		st, err := d.IPState(ip)
		if err != nil || st == nil {
			st = &IPState{IP: ip.String()}
		}
		if st.ReconcileBase != base {
			st.ReconcileBase, st.ReconcileMoves = base, nil
		}
		st.ReconcileMoves = append(st.ReconcileMoves, at.UTC())
		if len(st.ReconcileMoves) > historyLen {
			st.ReconcileMoves = st.ReconcileMoves[len(st.ReconcileMoves)-historyLen:]
		}
		return d.writeJSON(d.ipStateName(ip), st)
	})
}

// IPState returns what is recorded for ip, or (nil, nil) when nothing is.
func (d *Dir) IPState(ip netip.Addr) (*IPState, error) {
	var st IPState
	ok, err := d.readJSON(d.ipStateName(ip), &st)
	if !ok {
		return nil, err
	}
	return &st, err
}

// Superseded returns a channel that receives the transition once one started after base[ip] is recorded for
// any ip in base. A run that sees it stops: a newer keepalived decision on this node owns the IP now. base is
// the run's own ProcStart for a hook, or the MASTER transition a reconcile acted on.
func (d *Dir) Superseded(ctx context.Context, base map[netip.Addr]ProcStart, every time.Duration) <-chan Transition {
	ch := make(chan Transition, 1)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			for ip, b := range base {
				if st, err := d.IPState(ip); err == nil && st != nil && st.Current.Event.After(b) {
					ch <- st.Current
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return ch
}
