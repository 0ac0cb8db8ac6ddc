package notify

import (
	"errors"
	"testing"
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
