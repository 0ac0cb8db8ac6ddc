package state

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Keepalived identifies the keepalived process that ran a hook: its VRRP process, which runs every notify hook
// and vrrp_script, by PID, start time and boot. A keepalived restart (or the main process respawning its VRRP
// child) makes a new one, so a state recorded by an earlier keepalived is recognisably not this one's.
type Keepalived struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`          // clock ticks since boot (/proc/PID/stat field 22)
	Boot  string `json:"boot,omitempty"` // /proc/sys/kernel/random/boot_id: PIDs and start times repeat across boots
}

// IsZero reports whether k is unset: the run was not started by keepalived, or the record predates this field.
func (k Keepalived) IsZero() bool { return k.PID == 0 }

func (k Keepalived) String() string {
	if k.IsZero() {
		return "none"
	}
	return fmt.Sprintf("pid %d", k.PID)
}

// procInfo is what the ancestry walk reads of one process.
type procInfo struct {
	ppid  int
	comm  string
	start uint64
}

// readProc reads /proc/PID/stat. stat is readable by every user, unlike /proc/PID/exe, which a hook running as
// keepalived_script may not read for keepalived's (root) processes.
func readProc(pid int) (procInfo, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	return parseStat(string(b))
}

// parseStat reads the command name (field 2), the parent (field 4) and the start time (field 22). The command
// name may hold spaces and parentheses, so the other fields are counted from the last ')'.
func parseStat(stat string) (procInfo, bool) {
	open, end := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if open < 0 || end < open {
		return procInfo{}, false
	}
	f := strings.Fields(stat[end+1:])
	if len(f) < 20 {
		return procInfo{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	start, err2 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil {
		return procInfo{}, false
	}
	return procInfo{ppid: ppid, comm: stat[open+1 : end], start: start}, true
}

// isKeepalived tells keepalived's processes by their command name: "keepalived" for the main and child
// processes, or "keepalived_vrrp" and the like when global_defs sets process_names (2.x).
func isKeepalived(comm string) bool { return strings.HasPrefix(comm, "keepalived") }

// maxAncestry bounds the walk up the process tree.
const maxAncestry = 64

// findKeepalived walks up from pid's parent and returns the keepalived VRRP process among the ancestors.
// keepalived 2.x forks hooks from its VRRP process (hook <- VRRP <- main). 1.3.x runs them through system()
// from a fresh fork of the VRRP process (hook <- sh <- fork <- VRRP <- main), so the direct parent is neither.
// In both, the VRRP process is the child of the topmost keepalived ancestor; with one keepalived ancestor only
// (a renamed VRRP process), that one stands in.
func findKeepalived(pid int, read func(int) (procInfo, bool)) (Keepalived, bool) {
	self, ok := read(pid)
	if !ok {
		return Keepalived{}, false
	}
	var chain []Keepalived // keepalived ancestors, nearest first
	for p, i := self.ppid, 0; p > 1 && i < maxAncestry; i++ {
		info, ok := read(p)
		if !ok {
			break
		}
		if isKeepalived(info.comm) {
			chain = append(chain, Keepalived{PID: p, Start: info.start})
		} else if len(chain) > 0 {
			break // above the topmost keepalived
		}
		p = info.ppid
	}
	switch len(chain) {
	case 0:
		return Keepalived{}, false
	case 1:
		return chain[0], true
	default:
		return chain[len(chain)-2], true
	}
}

// bootID returns this boot's ID, or "" without /proc.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// SelfKeepalived returns the keepalived that started this process, if keepalived did. Call it first thing: a
// hook whose keepalived died is reparented, and the walk would no longer find it.
func SelfKeepalived() (Keepalived, bool) {
	k, ok := findKeepalived(os.Getpid(), readProc)
	if ok {
		k.Boot = bootID()
	}
	return k, ok
}

// KeepalivedRunning reports whether k still runs: the PID exists, started at the same tick, in this boot.
func KeepalivedRunning(k Keepalived) bool {
	if k.IsZero() {
		return false
	}
	if k.Boot != "" {
		if b := bootID(); b != "" && b != k.Boot {
			return false
		}
	}
	info, ok := readProc(k.PID)
	return ok && info.start == k.Start
}

// Trust is the verdict on a recorded transition: may a run act on it?
type Trust int

const (
	// Trusted: the record was made by the keepalived running now.
	Trusted Trust = iota
	// NoKeepalived: the record names no keepalived (written by hand, or by a do-fip before records named one)
	// while keepalived runs this check: it cannot be tied to this keepalived.
	NoKeepalived
	// OtherKeepalived: an earlier keepalived made the record; the one running this check has not reported a
	// state yet (keepalived 2.x runs every tracked check once before its first notify).
	OtherKeepalived
	// KeepalivedGone: run by hand, and the keepalived that made the record is no longer running.
	KeepalivedGone
)

// TrustRecord decides whether rec, the last recorded transition, describes the keepalived of this run. self is
// the keepalived that started this run (zero when run by hand or by cron); running tells whether a keepalived
// still runs. A record of another keepalived is never trusted: it may say MASTER for a node that the running
// keepalived is about to make BACKUP.
func TrustRecord(rec Transition, self Keepalived, running func(Keepalived) bool) Trust {
	switch {
	case !self.IsZero() && rec.Keepalived.IsZero():
		return NoKeepalived
	case !self.IsZero() && !sameKeepalived(rec.Keepalived, self):
		return OtherKeepalived
	case self.IsZero() && !rec.Keepalived.IsZero() && !running(rec.Keepalived):
		return KeepalivedGone
	}
	return Trusted
}

// sameKeepalived compares two identities; a missing boot ID (no /proc when one was taken) matches any.
func sameKeepalived(a, b Keepalived) bool {
	return a.PID == b.PID && a.Start == b.Start && (a.Boot == "" || b.Boot == "" || a.Boot == b.Boot)
}

// Outcome is what recording a transition did.
type Outcome int

const (
	// Applied: t is the current transition now.
	Applied Outcome = iota
	// Older: keepalived started a newer hook for the IP already; t only joins the history.
	Older
	// Orphaned: the keepalived that started t is no longer running; t only joins the history.
	Orphaned
)

// Supersede decides whether t, reported by a hook now, replaces cur, the recorded transition. Within one
// keepalived, the hook started later wins (hooks may finish in any order). A hook whose keepalived has exited
// (it was killed while the hook ran) changes nothing. The first hook of a new keepalived wins over a record of a
// keepalived that no longer runs, whatever their start times say (after a reboot they count from zero again).
func Supersede(cur, t Transition, running func(Keepalived) bool) Outcome {
	switch {
	case !t.Keepalived.IsZero() && !running(t.Keepalived):
		return Orphaned
	case cur.Event.IsZero():
		return Applied
	case !t.Keepalived.IsZero() && !sameKeepalived(cur.Keepalived, t.Keepalived) &&
		(cur.Keepalived.IsZero() || !running(cur.Keepalived)):
		return Applied
	case cur.Event.After(t.Event):
		return Older
	}
	return Applied
}
