package dosim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestControlFaultRoundTrip(t *testing.T) {
	f := newFixture(t, nil)
	body, err := json.Marshal(Fault{Method: "POST", Path: assignPath, Times: 1, Status: 503, RetryAfter: 4})
	if err != nil {
		t.Fatal(err)
	}
	if r := f.do(t, "POST", "/_sim/faults", "", string(body)); r.status != http.StatusNoContent {
		t.Fatalf("add fault: %d %s", r.status, r.body)
	}
	r := f.post(t, assignPath, assignBody)
	wantError(t, r, 503, "service_unavailable", "The service is temporarily unavailable.")
	if r.header.Get("Retry-After") != "4" {
		t.Fatalf("retry-after %q", r.header.Get("Retry-After"))
	}
	if r := f.post(t, assignPath, assignBody); r.status != 201 {
		t.Fatalf("fault outlived times: %d", r.status)
	}
}

func TestControlFaultJSONForm(t *testing.T) {
	f := newFixture(t, nil)
	r := f.do(t, "POST", "/_sim/faults", "", `{"metadata":true,"delay":"1ms","status":500}`)
	if r.status != http.StatusNoContent {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if len(f.sim.faults) != 1 || f.sim.faults[0].Delay != time.Millisecond || !f.sim.faults[0].Metadata {
		t.Fatalf("fault %+v", f.sim.faults[0].Fault)
	}
	if r := f.do(t, "DELETE", "/_sim/faults", "", ""); r.status != http.StatusNoContent || len(f.sim.faults) != 0 {
		t.Fatalf("clear: %d, %d faults left", r.status, len(f.sim.faults))
	}
}

func TestFaultJSONRoundTrip(t *testing.T) {
	in := Fault{Metadata: true, Method: "GET", Path: "/x", Times: 3, Status: 429, RetryAfter: 2, HTML: true,
		Garbage: true, Delay: 1500 * time.Millisecond, Reset: true, LoseResponse: true}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"delay":"1.5s"`) {
		t.Fatalf("delay not a duration string: %s", b)
	}
	var out Fault
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Fatalf("round trip: %+v, want %+v", out, in)
	}
	ain := ActionFault{Times: 2, Outcome: OutcomeStuck, NotFoundFor: time.Second, Latency: 3 * time.Second}
	b, _ = json.Marshal(ain)
	var aout ActionFault
	if err := json.Unmarshal(b, &aout); err != nil || aout != ain {
		t.Fatalf("action fault round trip: %+v %v (%s)", aout, err, b)
	}
}

func TestControlActionFault(t *testing.T) {
	f := newFixture(t, nil)
	r := f.do(t, "POST", "/_sim/action-faults", "", `{"times":1,"outcome":"errored","not_found_for":"100ms"}`)
	if r.status != http.StatusNoContent {
		t.Fatalf("%d %s", r.status, r.body)
	}
	f.assign(t, kindReserved, "203.0.113.10", 1001)
	f.clk.Advance(time.Second)
	if f.sim.Holder("203.0.113.10") != 0 {
		t.Fatal("errored action assigned")
	}
}

func TestControlLatency(t *testing.T) {
	f := newFixture(t, nil)
	if r := f.do(t, "PUT", "/_sim/latency", "", `{"action_latency":"2s"}`); r.status != http.StatusNoContent {
		t.Fatalf("%d %s", r.status, r.body)
	}
	f.assign(t, kindReserved, "203.0.113.10", 1001)
	f.clk.Advance(1999 * time.Millisecond)
	if !f.sim.Locked("203.0.113.10") {
		t.Fatal("finished before the latency set over the control API")
	}
	f.clk.Advance(time.Millisecond)
	if f.sim.Holder("203.0.113.10") != 1001 {
		t.Fatal("not finished after it")
	}
}

func TestControlStateAndAssign(t *testing.T) {
	f := newFixture(t, nil)
	if r := f.do(t, "POST", "/_sim/assign", "", `{"ip":"2001:db8:10::10","droplet_id":1002}`); r.status != http.StatusNoContent {
		t.Fatalf("assign: %d %s", r.status, r.body)
	}
	f.assign(t, kindReserved, "203.0.113.10", 1001)
	wantJSON(t, f.do(t, "GET", "/_sim/state", "", "").body, `{"ips":[
	  {"ip":"203.0.113.10","droplet_id":0,"locked":true},
	  {"ip":"2001:db8:10::10","droplet_id":1002,"locked":false}],"requests":1,"metadata_requests":0}`)
	f.clk.Advance(time.Second)
	wantJSON(t, f.do(t, "GET", "/_sim/state", "", "").body, `{"ips":[
	  {"ip":"203.0.113.10","droplet_id":1001,"locked":false},
	  {"ip":"2001:db8:10::10","droplet_id":1002,"locked":false}],"requests":1,"metadata_requests":0}`)

	for _, body := range []string{`{"ip":"192.0.2.1","droplet_id":1001}`, `{"ip":"203.0.113.10","droplet_id":77}`} {
		if r := f.do(t, "POST", "/_sim/assign", "", body); r.status != http.StatusUnprocessableEntity {
			t.Errorf("assign %s: status %d", body, r.status)
		}
	}
}

func TestControlRequests(t *testing.T) {
	f := newFixture(t, nil)
	f.post(t, assignPath, assignBody)
	f.do(t, "GET", "/v2/account", "wrong-token", "")
	r := f.do(t, "GET", "/_sim/requests", "", "")
	var reqs []Request
	if err := json.Unmarshal(r.body, &reqs); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	if len(reqs) != 2 {
		t.Fatalf("%d requests logged, want 2 (control requests are not logged)", len(reqs))
	}
	if reqs[0].Method != "POST" || reqs[0].Path != assignPath || reqs[0].Status != 201 || !reqs[0].TokenValid ||
		reqs[0].Body != assignBody || reqs[0].RequestID == "" {
		t.Fatalf("first entry %+v", reqs[0])
	}
	if reqs[1].Status != 401 || reqs[1].TokenValid {
		t.Fatalf("second entry %+v", reqs[1])
	}
	if strings.Contains(string(r.body), DemoToken) || strings.Contains(string(r.body), "wrong-token") {
		t.Fatal("the request log holds a token")
	}
	if r := f.do(t, "DELETE", "/_sim/requests", "", ""); r.status != http.StatusNoContent {
		t.Fatalf("reset: %d", r.status)
	}
	if got := f.do(t, "GET", "/_sim/requests", "", "").body; strings.TrimSpace(string(got)) != "[]" {
		t.Fatalf("after reset: %s", got)
	}
}

func TestControlRejectsBadInput(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct{ method, path, body string }{
		{"POST", "/_sim/faults", `{"stauts":500}`},
		{"POST", "/_sim/faults", `{"delay":"forever"}`},
		{"POST", "/_sim/faults", `not json`},
		{"POST", "/_sim/action-faults", `{"outcome":"exploded"}`},
		{"PUT", "/_sim/latency", `{"action_latency":"-1s"}`},
		{"PUT", "/_sim/latency", `{"latency":"1s"}`},
		{"POST", "/_sim/assign", `{"ip":"203.0.113.10","droplet":1001}`},
	}
	for _, tc := range tests {
		r := f.do(t, tc.method, tc.path, "", tc.body)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"error"`) {
			t.Errorf("%s %s %s: status %d body %s", tc.method, tc.path, tc.body, r.status, r.body)
		}
	}
	if len(f.sim.faults)+len(f.sim.actionFaults) != 0 {
		t.Fatal("a rejected fault was installed")
	}
	if r := f.do(t, "GET", "/_sim/nothing", "", ""); r.status != 404 {
		t.Fatalf("unknown control path: %d", r.status)
	}
	if r := f.do(t, "GET", "/elsewhere", "", ""); r.status != 404 {
		t.Fatalf("unknown top-level path: %d", r.status)
	}
}
