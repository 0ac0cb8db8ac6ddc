package state

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseStartTime(t *testing.T) {
	tests := map[string]struct {
		stat string
		want uint64
		ok   bool
	}{
		"plain":                 {"1234 (do-fip) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 987654 1000 200", 987654, true},
		"name with space and )": {"1234 (do (x) fip) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 42 1000 200", 42, true},
		"truncated":             {"1234 (do-fip) S 1 2 3", 0, false},
		"no paren":              {"garbage", 0, false},
	}
	for name, tc := range tests {
		got, ok := parseStartTime(tc.stat)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: got %d %v, want %d %v", name, got, ok, tc.want, tc.ok)
		}
	}
	if e := SelfStart(); e.Start == 0 || e.PID != os.Getpid() {
		t.Errorf("SelfStart = %+v", e)
	}
}

func TestEventOrder(t *testing.T) {
	a := ProcStart{Start: 100, PID: 50}
	if !(ProcStart{Start: 101, PID: 10}).After(a) || !(ProcStart{Start: 100, PID: 51}).After(a) || a.After(a) || (ProcStart{Start: 99, PID: 99}).After(a) {
		t.Fatal("ProcStart.After orders by start time, then PID")
	}
}

func TestRecordTransitionKeepsKeepalivedOrder(t *testing.T) {
	d, _ := Open(t.TempDir())
	ip := netip.MustParseAddr("203.0.113.10")
	master := Transition{Event: ProcStart{Start: 200, PID: 20}, State: "MASTER"}
	backup := Transition{Event: ProcStart{Start: 100, PID: 10}, State: "BACKUP"}
	if got, _, err := d.RecordTransition(ip, master); got != Applied || err != nil {
		t.Fatalf("first record: %v %v", got, err)
	}
	// The BACKUP hook was started first but writes last: it must not override the newer MASTER.
	got, cur, err := d.RecordTransition(ip, backup)
	if got != Older || err != nil || cur.State != "MASTER" {
		t.Fatalf("older event applied: %v %+v %v", got, cur, err)
	}
	st, _ := d.IPState(ip)
	if st.Current.State != "MASTER" || len(st.History) != 2 {
		t.Fatalf("state %+v", st)
	}
	for i := range 30 {
		d.RecordTransition(ip, Transition{Event: ProcStart{Start: uint64(300 + i)}, State: "BACKUP"})
	}
	st, _ = d.IPState(ip)
	if len(st.History) != historyLen || st.Current.Event.Start != 329 {
		t.Errorf("history %d entries, current %+v", len(st.History), st.Current)
	}
}

func TestRecordTransitionSurvivesADamagedFile(t *testing.T) {
	d, _ := Open(t.TempDir())
	ip := netip.MustParseAddr("2001:db8:10::10")
	os.WriteFile(filepath.Join(d.path, d.ipStateName(ip)), []byte("{not json"), 0o640)
	if got, _, err := d.RecordTransition(ip, Transition{Event: ProcStart{Start: 1}, State: "MASTER"}); got != Applied || err != nil {
		t.Fatalf("record over a damaged file: %v %v", got, err)
	}
}

func TestSuperseded(t *testing.T) {
	d, _ := Open(t.TempDir())
	ip := netip.MustParseAddr("203.0.113.10")
	mine := ProcStart{Start: 500, PID: 1}
	d.RecordTransition(ip, Transition{Event: mine, State: "MASTER"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch := d.Superseded(ctx, map[netip.Addr]ProcStart{ip: mine}, time.Millisecond)
	// An older event recorded late does not supersede.
	d.RecordTransition(ip, Transition{Event: ProcStart{Start: 400}, State: "BACKUP"})
	select {
	case tr := <-ch:
		t.Fatalf("superseded by an older event: %+v", tr)
	case <-time.After(30 * time.Millisecond):
	}
	d.RecordTransition(ip, Transition{Event: ProcStart{Start: 600}, State: "FAULT"})
	select {
	case tr := <-ch:
		if tr.State != "FAULT" {
			t.Fatalf("superseded by %+v", tr)
		}
	case <-ctx.Done():
		t.Fatal("a newer transition did not supersede")
	}
}
