package notify

import (
	"errors"
	"testing"
	"time"
)

func TestParseKeepalivedArgs(t *testing.T) {
	tests := map[string]struct {
		args []string
		want KeepalivedEvent
		err  bool
	}{
		"generic notify, keepalived 2.x": {args: []string{"INSTANCE", "VI_1", "MASTER", "200"}, want: KeepalivedEvent{"INSTANCE", "VI_1", "MASTER", 200}},
		"sync group":                     {args: []string{"GROUP", "G1", "BACKUP", "0"}, want: KeepalivedEvent{"GROUP", "G1", "BACKUP", 0}},
		"older keepalived, no priority":  {args: []string{"INSTANCE", "VI_1", "FAULT"}, want: KeepalivedEvent{"INSTANCE", "VI_1", "FAULT", -1}},
		"short form":                     {args: []string{"STOP"}, want: KeepalivedEvent{State: "STOP", Priority: -1}},
		"deleted on reload":              {args: []string{"INSTANCE", "VI_1", "DELETED", "100"}, want: KeepalivedEvent{"INSTANCE", "VI_1", "DELETED", 100}},
		"none":                           {args: nil, err: true},
		"two":                            {args: []string{"INSTANCE", "VI_1"}, err: true},
		"five":                           {args: []string{"INSTANCE", "VI_1", "MASTER", "1", "x"}, err: true},
		"lowercase state":                {args: []string{"master"}, err: true},
		"unknown kind":                   {args: []string{"VRRP", "VI_1", "MASTER", "1"}, err: true},
		"empty name":                     {args: []string{"INSTANCE", "", "MASTER", "1"}, err: true},
		"priority 256":                   {args: []string{"INSTANCE", "VI_1", "MASTER", "256"}, err: true},
		"negative priority":              {args: []string{"INSTANCE", "VI_1", "MASTER", "-1"}, err: true},
	}
	for name, tc := range tests {
		got, err := ParseKeepalivedArgs(tc.args)
		if tc.err {
			if !errors.Is(err, ErrBadEvent) {
				t.Errorf("%s: error %v, want ErrBadEvent", name, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v", name, got, err, tc.want)
		}
	}
}

func TestDecideNeverUnassigns(t *testing.T) {
	for state, want := range map[string]Decision{"MASTER": Take, "BACKUP": Yield, "FAULT": Yield, "STOP": Yield, "DELETED": Yield} {
		if got := Decide(state); got != want {
			t.Errorf("Decide(%s) = %v, want %v", state, got, want)
		}
	}
}

func TestReconcileWait(t *testing.T) {
	now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	ago := func(d ...time.Duration) []time.Time {
		var out []time.Time
		for _, x := range d {
			out = append(out, now.Add(-x))
		}
		return out
	}
	tests := map[string]struct {
		moves []time.Time
		want  time.Duration
	}{
		"no move yet: move now":                    {nil, 0},
		"one move: a healed split brain, move now": {ago(5 * time.Second), 0},
		"third move waits a minute after the last": {ago(40*time.Second, 20*time.Second), 40 * time.Second},
		"third move after the minute: now":         {ago(3*time.Minute, 2*time.Minute), 0},
		"fourth move waits two minutes":            {ago(5*time.Minute, 4*time.Minute, 30*time.Second), 90 * time.Second},
		"waits are capped at ten minutes":          {ago(29*time.Minute, 28*time.Minute, 27*time.Minute, 26*time.Minute, 25*time.Minute, 24*time.Minute, 1*time.Minute), 9 * time.Minute},
		"moves older than the window do not count": {ago(2*time.Hour, time.Hour, 10*time.Second), 0},
	}
	for name, tc := range tests {
		if got := ReconcileWait(tc.moves, now); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}
