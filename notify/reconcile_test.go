package notify

import (
	"testing"
	"time"
)

func TestReconcile(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	master := ReconcileView{Recorded: true, Trusted: true, State: "MASTER", Now: now}
	with := func(f func(*ReconcileView)) ReconcileView { v := master; f(&v); return v }
	asked := func(v *ReconcileView) { v.MetadataAsked, v.LockAsked, v.APIAsked = true, true, true }
	twoMoves := []time.Time{now.Add(-2 * time.Minute), now.Add(-30 * time.Second)}
	tests := []struct {
		name string
		v    ReconcileView
		want ReconcileStep
	}{
		{"nothing recorded", ReconcileView{}, Leave},
		{"record of an earlier keepalived", with(func(v *ReconcileView) { v.Trusted = false }), Leave},
		{"BACKUP", with(func(v *ReconcileView) { v.State = "BACKUP" }), Leave},
		{"FAULT", with(func(v *ReconcileView) { v.State = "FAULT" }), Leave},
		{"MASTER: the metadata service first", master, AskMetadata},
		{"metadata shows it here: no API request", with(func(v *ReconcileView) { v.MetadataAsked, v.MetadataHere = true, true }), Leave},
		{"metadata shows it elsewhere: try the lock", with(func(v *ReconcileView) { v.MetadataAsked = true }), AskLock},
		{"another run moves it", with(func(v *ReconcileView) { v.MetadataAsked, v.LockAsked, v.Busy = true, true, true }), Leave},
		{"lock free: ask the API", with(func(v *ReconcileView) { v.MetadataAsked, v.LockAsked = true, true }), AskAPI},
		{"the API shows it here (metadata lags)", with(func(v *ReconcileView) { asked(v); v.HeldHere = true }), Leave},
		{"a move is pending", with(func(v *ReconcileView) { asked(v); v.Pending = true }), Leave},
		{"elsewhere: move it back", with(asked), Move},
		{"elsewhere after two moves: damped", with(func(v *ReconcileView) { asked(v); v.Moves = twoMoves }), Damped},
		{"elsewhere after two moves, --now", with(func(v *ReconcileView) { asked(v); v.Moves = twoMoves; v.SkipDamping = true }), Move},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Reconcile(tc.v)
			if got.Step != tc.want {
				t.Fatalf("step %d (%s), want %d", got.Step, got.Why, tc.want)
			}
			if got.Step == Damped && got.Wait <= 0 {
				t.Errorf("damped without a wait: %+v", got)
			}
		})
	}
}
