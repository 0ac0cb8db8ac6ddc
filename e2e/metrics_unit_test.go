package e2e

import "testing"

func TestHistoryMatches(t *testing.T) {
	got := []string{"FAULT", "BACKUP", "MASTER", "FAULT", "FAULT", "BACKUP", "MASTER"}
	if !historyMatches(got, got, false) || historyMatches(got, got[1:], false) {
		t.Error("2.x: the history must equal keepalived's log")
	}
	if !historyMatches(got, []string{"FAULT", "BACKUP", "MASTER", "BACKUP", "MASTER"}, true) {
		t.Error("per state: extra FAULT hooks keepalived did not log are fine")
	}
	if historyMatches(got, []string{"FAULT", "BACKUP", "MASTER", "BACKUP"}, true) {
		t.Error("per state: a MASTER hook keepalived did not log is not")
	}
	if historyMatches(got, []string{"MASTER", "FAULT", "MASTER", "BACKUP"}, true) {
		t.Error("per state: keepalived's changes out of order are not")
	}
}
