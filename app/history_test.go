package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/do-fip/do-fip/state"
)

// status --history lists the transitions and moves in the order keepalived started them, with what do-fip did,
// how long it took, its API requests and its result; --json gives the same as data.
func TestStatusHistoryTimeline(t *testing.T) {
	h := newHarness(t)
	h.env["DO_FIP_IPS"] = ipv4
	h.sim.Assign(ipv4, 1002)
	h.wantCode(h.run("notify", "INSTANCE", "VI_1", "MASTER", "200"), 0)
	h.wantCode(h.run("notify", "INSTANCE", "VI_1", "BACKUP", "100"), 0)
	h.wantCode(h.run("notify", "INSTANCE", "VI_1", "MASTER", "200"), 0) // already here
	h.wantCode(h.run("reconcile"), 0)                                   // all well: not recorded
	h.sim.Assign(ipv4, 1002)
	h.wantCode(h.run("reconcile"), 0) // moves it back
	h.wantCode(h.run("notify", "INSTANCE", "VI_1", "FAULT", "100"), 0)
	h.env["DIGITALOCEAN_ACCESS_TOKEN"] = "dop_v1_" + strings.Repeat("0", 64) // refused
	h.wantCode(h.run("assign"), 4)

	hist := history(t, h).History
	type row struct{ command, state, did, result string }
	want := []row{
		{"notify", "MASTER", "moved", "ok"},
		{"notify", "BACKUP", "recorded", "ok"},
		{"notify", "MASTER", "already_held", "ok"},
		{"reconcile", "MASTER", "moved", "ok"},
		{"notify", "FAULT", "recorded", "ok"},
		{"assign", "FAULT", "failed", "error"},
	}
	var got []row
	for _, e := range hist {
		got = append(got, row{e.Command, e.State, e.Did, e.Result})
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("history\n got %v\nwant %v", got, want)
	}
	first := hist[0]
	if first.Instance != "VI_1" || first.Priority != 200 || first.Assign == nil || first.Assign.IPs[0].Result != "moved" ||
		first.Requests < 1 || first.DurationMS < 150 || first.ExitCode != 0 || first.IPs[0] != ipv4 {
		t.Errorf("first entry %+v: want notify MASTER VI_1 200, its move (>= 150 ms, >= 1 request)", first)
	}
	if last := hist[len(hist)-1]; last.ExitCode != 4 || !strings.Contains(last.Error, "401") {
		t.Errorf("last entry %+v: want exit 4 and the API's 401", last)
	}
	for i := 1; i < len(hist); i++ {
		if hist[i].Time.Before(hist[i-1].Time) {
			t.Errorf("entry %d at %s is before entry %d at %s", i, hist[i].Time, i-1, hist[i-1].Time)
		}
	}

	r := h.run("status", "--history")
	h.wantCode(r, 0)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != len(want)+1 || !strings.HasPrefix(lines[0], "TIME") {
		t.Fatalf("status --history:\n%s\nwant a header and %d rows", r.stdout, len(want))
	}
	for i, needle := range []string{
		"MASTER VI_1 prio 200  notify: moved " + ipv4 + " here (action",
		"BACKUP VI_1 prio 100  notify: recorded BACKUP for " + ipv4,
		"notify: " + ipv4 + " already here",
		"reconcile: moved " + ipv4 + " here",
		"FAULT VI_1 prio 100",
		"error (exit 4): ",
	} {
		if !strings.Contains(lines[i+1], needle) {
			t.Errorf("row %d %q lacks %q", i+1, lines[i+1], needle)
		}
	}
	for _, header := range []string{"TIME", "KEEPALIVED", "DO-FIP", "TOOK", "API", "RESULT"} {
		if !strings.Contains(lines[0], header) {
			t.Errorf("header %q lacks %s", lines[0], header)
		}
	}
	// Asking about another IP shows nothing; the history never asks the API.
	h.sim.ResetRequests()
	r = h.run("status", "--history", ipv6)
	h.wantCode(r, 0)
	if !strings.Contains(r.stdout, "nothing recorded") || h.allRequests() != 0 {
		t.Errorf("status --history %s: %q after %d requests", ipv6, r.stdout, h.allRequests())
	}
}

// A hook that keepalived started earlier is listed first even if it finished last: a MASTER hook whose move
// takes a while and the BACKUP hook that followed it. The hooks are processes of their own (the binary), ordered
// by their start times as keepalived's are.
func TestStatusHistoryKeepsKeepalivedsOrder(t *testing.T) {
	h := newHarness(t)
	h.env["DO_FIP_IPS"] = ipv4
	h.sim.SetActionLatency(time.Second)
	h.sim.Assign(ipv4, 1002)
	master := h.startBinary("notify", "INSTANCE", "VI_1", "MASTER", "200")
	time.Sleep(300 * time.Millisecond) // the MASTER hook is waiting for its action
	h.wantCode(h.runBinary("notify", "INSTANCE", "VI_1", "BACKUP", "100"), 0)
	h.wantCode(master(), 8) // superseded by the BACKUP transition
	hist := history(t, h).History
	if len(hist) != 2 || hist[0].State != "MASTER" || hist[1].State != "BACKUP" {
		t.Fatalf("history %+v, want MASTER then BACKUP", hist)
	}
	if hist[0].Result != "superseded" || hist[0].ExitCode != 8 {
		t.Errorf("MASTER entry %+v, want superseded (exit 8)", hist[0])
	}
}

// The history keeps the last 50 runs.
func TestStatusHistoryIsBounded(t *testing.T) {
	h := newHarness(t)
	h.env["DO_FIP_IPS"] = ipv4
	for i := range state.HistoryLen + 5 {
		h.wantCode(h.run("notify", "INSTANCE", "VI_1", "BACKUP", fmt.Sprint(i+1)), 0)
	}
	hist := history(t, h).History
	if len(hist) != state.HistoryLen {
		t.Fatalf("%d entries, want %d", len(hist), state.HistoryLen)
	}
	if hist[0].Priority != 6 || hist[len(hist)-1].Priority != state.HistoryLen+5 {
		t.Errorf("kept priorities %d to %d, want the last %d runs (6 to %d)", hist[0].Priority, hist[len(hist)-1].Priority, state.HistoryLen, state.HistoryLen+5)
	}
}
