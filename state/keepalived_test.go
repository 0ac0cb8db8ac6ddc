package state

import (
	"fmt"
	"net/netip"
	"os"
	"testing"
)

// fakeTree is a process table: pid -> "ppid comm start".
type fakeTree map[int]procInfo

func (f fakeTree) read(pid int) (procInfo, bool) {
	p, ok := f[pid]
	return p, ok
}

func TestFindKeepalived(t *testing.T) {
	tests := map[string]struct {
		tree fakeTree
		want Keepalived
		ok   bool
	}{
		// 2.x: the hook is forked by the VRRP process, itself a child of the main process (systemd above).
		"2.x hook": {fakeTree{
			500: {ppid: 401, comm: "do-fip", start: 900},
			401: {ppid: 400, comm: "keepalived", start: 300},
			400: {ppid: 1, comm: "keepalived", start: 299},
		}, Keepalived{PID: 401, Start: 300}, true},
		// 1.3.x: system() from a fresh fork of the VRRP process, through a shell.
		"1.3.x hook through a shell": {fakeTree{
			500: {ppid: 499, comm: "do-fip", start: 900},
			499: {ppid: 498, comm: "sh", start: 900},
			498: {ppid: 401, comm: "keepalived", start: 899},
			401: {ppid: 400, comm: "keepalived", start: 300},
			400: {ppid: 77, comm: "keepalived", start: 299},
			77:  {ppid: 1, comm: "bash", start: 10},
		}, Keepalived{PID: 401, Start: 300}, true},
		"process_names renames the VRRP process": {fakeTree{
			500: {ppid: 401, comm: "do-fip", start: 900},
			401: {ppid: 400, comm: "keepalived_vrrp", start: 300},
			400: {ppid: 1, comm: "keepalived", start: 299},
		}, Keepalived{PID: 401, Start: 300}, true},
		"a custom VRRP process name leaves the main process": {fakeTree{
			500: {ppid: 401, comm: "do-fip", start: 900},
			401: {ppid: 400, comm: "lb-vrrp", start: 300},
			400: {ppid: 1, comm: "keepalived", start: 299},
		}, Keepalived{PID: 400, Start: 299}, true},
		"run by hand": {fakeTree{
			500: {ppid: 77, comm: "do-fip", start: 900},
			77:  {ppid: 1, comm: "bash", start: 10},
		}, Keepalived{}, false},
		"parent gone (reparented hook)": {fakeTree{
			500: {ppid: 401, comm: "do-fip", start: 900},
		}, Keepalived{}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := findKeepalived(500, tc.tree.read)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %+v %v, want %+v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestFindKeepalivedBoundsTheWalk(t *testing.T) {
	tree := fakeTree{}
	for pid := 2; pid < 1000; pid++ {
		tree[pid] = procInfo{ppid: pid + 1, comm: "sh", start: 1}
	}
	tree[1000] = procInfo{ppid: 2, comm: "sh", start: 1} // a loop
	if _, ok := findKeepalived(2, tree.read); ok {
		t.Fatal("found a keepalived in a tree without one")
	}
}

func TestParseStat(t *testing.T) {
	p, ok := parseStat("4711 (keepalived) S 4710 4710 4710 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 987654 1000 200")
	if !ok || p.ppid != 4710 || p.comm != "keepalived" || p.start != 987654 {
		t.Fatalf("got %+v %v", p, ok)
	}
	if _, ok := parseStat("4711 keepalived S"); ok {
		t.Fatal("parsed a line without a command name")
	}
}

func TestSelfKeepalivedOutsideKeepalived(t *testing.T) {
	if k, ok := SelfKeepalived(); ok {
		t.Fatalf("the test process has a keepalived ancestor: %+v", k)
	}
	// This process runs: a Keepalived naming it is running, one with another start time is not.
	info, _ := readProc(os.Getpid())
	me := Keepalived{PID: os.Getpid(), Start: info.start, Boot: bootID()}
	if !KeepalivedRunning(me) {
		t.Fatal("a running process is not running")
	}
	for _, k := range []Keepalived{{PID: me.PID, Start: me.Start + 1}, {PID: me.PID, Start: me.Start, Boot: "another-boot"}, {}} {
		if KeepalivedRunning(k) {
			t.Errorf("%+v is running", k)
		}
	}
}

func TestTrustRecord(t *testing.T) {
	old := Keepalived{PID: 400, Start: 300, Boot: "b"}
	now := Keepalived{PID: 900, Start: 800, Boot: "b"}
	running := func(alive ...Keepalived) func(Keepalived) bool {
		return func(k Keepalived) bool {
			for _, a := range alive {
				if a == k {
					return true
				}
			}
			return false
		}
	}
	tests := map[string]struct {
		rec     Keepalived
		self    Keepalived
		running func(Keepalived) bool
		want    Trust
	}{
		"recorded by the keepalived running this check": {now, now, running(now), Trusted},
		// The bug this guards: keepalived killed while MASTER, restarted after the peer took the IP; the new
		// keepalived's first check finds the old MASTER record.
		"recorded by a killed keepalived":                {old, now, running(now), OtherKeepalived},
		"recorded by another keepalived still running":   {old, now, running(old, now), OtherKeepalived},
		"no keepalived in the record, run by keepalived": {Keepalived{}, now, running(now), NoKeepalived},
		"by hand, the recording keepalived runs":         {old, Keepalived{}, running(old), Trusted},
		"by hand, the recording keepalived is gone":      {old, Keepalived{}, running(), KeepalivedGone},
		"by hand, a record made by hand":                 {Keepalived{}, Keepalived{}, running(), Trusted},
		"same keepalived, boot ID missing on one side":   {Keepalived{PID: 900, Start: 800}, now, running(now), Trusted},
		"same PID and start time, another boot":          {Keepalived{PID: 900, Start: 800, Boot: "a"}, now, running(now), OtherKeepalived},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rec := Transition{Event: ProcStart{Start: 1000, PID: 1}, State: "MASTER", Keepalived: tc.rec}
			if got := TrustRecord(rec, tc.self, tc.running); got != tc.want {
				t.Fatalf("TrustRecord = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSupersede(t *testing.T) {
	old := Keepalived{PID: 400, Start: 300, Boot: "b"}
	now := Keepalived{PID: 900, Start: 800, Boot: "b"}
	onlyNow := func(k Keepalived) bool { return k == now }
	both := func(k Keepalived) bool { return k == now || k == old }
	tr := func(start uint64, k Keepalived) Transition {
		return Transition{Event: ProcStart{Start: start, PID: int(start)}, State: fmt.Sprint(start), Keepalived: k}
	}
	tests := map[string]struct {
		cur, t  Transition
		running func(Keepalived) bool
		want    Outcome
	}{
		"nothing recorded":                               {Transition{}, tr(10, now), onlyNow, Applied},
		"newer hook of the same keepalived":              {tr(10, now), tr(20, now), onlyNow, Applied},
		"older hook of the same keepalived":              {tr(20, now), tr(10, now), onlyNow, Older},
		"hook of a keepalived that has exited":           {tr(10, now), tr(20, old), onlyNow, Orphaned},
		"hook of an exited keepalived, nothing recorded": {Transition{}, tr(20, old), onlyNow, Orphaned},
		// After a reboot start times count from zero: the new keepalived's first hook looks older.
		"first hook of a new keepalived, record of a gone one": {tr(5000, old), tr(10, now), onlyNow, Applied},
		"first hook of a keepalived, record made by hand":      {tr(5000, Keepalived{}), tr(10, now), onlyNow, Applied},
		"two keepalived running: start order decides":          {tr(20, old), tr(10, now), both, Older},
		"by hand: start order decides":                         {tr(20, now), tr(10, Keepalived{}), onlyNow, Older},
		"by hand, newer":                                       {tr(10, now), tr(20, Keepalived{}), onlyNow, Applied},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Supersede(tc.cur, tc.t, tc.running); got != tc.want {
				t.Fatalf("Supersede = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRecordTransitionIgnoresAnOrphanedHook(t *testing.T) {
	d, _ := Open(t.TempDir())
	ip := netip.MustParseAddr("203.0.113.10")
	gone := Keepalived{PID: os.Getpid(), Start: 1, Boot: bootID()} // this PID, another start time: not running
	got, cur, err := d.RecordTransition(ip, Transition{Event: ProcStart{Start: 10, PID: 10}, State: "MASTER", Keepalived: gone})
	if err != nil || got != Orphaned || !cur.Event.IsZero() {
		t.Fatalf("got %v %+v %v, want the orphaned MASTER ignored", got, cur, err)
	}
	st, _ := d.IPState(ip)
	if st == nil || len(st.History) != 1 || !st.Current.Event.IsZero() {
		t.Fatalf("state %+v: the orphaned event belongs in the history only", st)
	}
}

func TestNoticed(t *testing.T) {
	d, _ := Open(t.TempDir())
	for i, want := range []int{0, 1, 2} {
		if got := d.Noticed("no_record", "pid 10"); got != want {
			t.Fatalf("sighting %d: %d before, want %d", i, got, want)
		}
	}
	if got := d.Noticed("other", "pid 10"); got != 0 {
		t.Fatalf("another cause shares the count: %d", got)
	}
	if got := d.Noticed("no_record", "pid 11"); got != 0 {
		t.Fatalf("a new key keeps the old count: %d", got)
	}
}
