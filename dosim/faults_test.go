package dosim

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const assignPath = "/v2/reserved_ips/203.0.113.10/actions"
const assignBody = `{"type":"assign","droplet_id":1001}`

func TestStatusFaults(t *testing.T) {
	tests := []struct {
		name       string
		fault      Fault
		status     int
		id, msg    string
		retryAfter string
		rateLimit  bool
	}{
		{name: "500", fault: Fault{Status: 500}, status: 500, id: "server_error", msg: "Server was unable to give you a response."},
		{name: "503 with retry-after", fault: Fault{Status: 503, RetryAfter: 7}, status: 503,
			id: "service_unavailable", msg: "The service is temporarily unavailable.", retryAfter: "7"},
		{name: "429 with retry-after", fault: Fault{Status: 429, RetryAfter: 2}, status: 429,
			id: "too_many_requests", msg: "API rate limit exceeded.", retryAfter: "2", rateLimit: true},
		{name: "429 without retry-after", fault: Fault{Status: 429}, status: 429,
			id: "too_many_requests", msg: "API rate limit exceeded.", rateLimit: true},
		{name: "500 ignores retry-after", fault: Fault{Status: 500, RetryAfter: 9}, status: 500,
			id: "server_error", msg: "Server was unable to give you a response."},
		{name: "401", fault: Fault{Status: 401}, status: 401, id: "unauthorized", msg: "Unable to authenticate you."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.sim.AddFault(tc.fault)
			r := f.post(t, assignPath, assignBody)
			wantError(t, r, tc.status, tc.id, tc.msg)
			if got := r.header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("retry-after %q, want %q", got, tc.retryAfter)
			}
			if got := r.header.Get("Ratelimit-Remaining") != ""; got != tc.rateLimit {
				t.Errorf("rate-limit headers present %v, want %v", got, tc.rateLimit)
			}
			if f.sim.Locked("203.0.113.10") {
				t.Error("a faulted request was processed")
			}
		})
	}
}

func TestHTMLFault(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.AddFault(Fault{HTML: true, Times: 1})
	r := f.get(t, "/v2/reserved_ips/203.0.113.10")
	if r.status != http.StatusBadGateway || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(r.body), "<title>502 Bad Gateway</title>") {
		t.Fatalf("status %d type %q body %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	f.sim.AddFault(Fault{HTML: true, Status: 504, Times: 1})
	if r := f.get(t, "/v2/reserved_ips/203.0.113.10"); r.status != 504 || !strings.Contains(string(r.body), "504 Gateway Timeout") {
		t.Fatalf("status %d body %s", r.status, r.body)
	}
}

func TestGarbageFault(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.AddFault(Fault{Garbage: true, Path: "/v2/reserved_ips/", Times: 1})
	r := f.post(t, assignPath, assignBody)
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	var v any
	if err := json.Unmarshal(r.body, &v); err == nil {
		t.Fatalf("garbage body decodes as JSON: %s", r.body)
	}
	if f.sim.Locked("203.0.113.10") {
		t.Fatal("garbage answer processed the request")
	}
}

func TestResetFault(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.AddFault(Fault{Reset: true, Method: "POST", Times: 1})
	if _, err := f.try("POST", assignPath, DemoToken, assignBody); err == nil {
		t.Fatal("client got an answer through a reset connection")
	}
	if f.sim.Locked("203.0.113.10") || len(f.sim.actions) != 0 {
		t.Fatal("reset request was processed")
	}
	reqs := f.sim.Requests()
	if len(reqs) != 1 || reqs[0].Fault != "reset" || reqs[0].Status != 0 {
		t.Fatalf("log %+v", reqs)
	}
	// Used up: the next one goes through.
	if r := f.post(t, assignPath, assignBody); r.status != 201 {
		t.Fatalf("after the fault: status %d", r.status)
	}
}

func TestLoseResponseFault(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.AddFault(Fault{LoseResponse: true, Method: "POST", Path: assignPath, Times: 1})
	if _, err := f.try("POST", assignPath, DemoToken, assignBody); err == nil {
		t.Fatal("client got the answer that should have been lost")
	}
	// The action exists although the client never heard of it: a retry meets the pending event.
	if !f.sim.Locked("203.0.113.10") {
		t.Fatal("the lost request was not processed")
	}
	reqs := f.sim.Requests()
	if len(reqs) != 1 || reqs[0].Fault != "lose-response" || reqs[0].Status != 201 || !reqs[0].TokenValid {
		t.Fatalf("log %+v", reqs)
	}
	wantError(t, f.post(t, assignPath, assignBody), 422, "unprocessable_entity", "The reserved IP already has a pending event.")
	f.clk.Advance(time.Second)
	if f.sim.Holder("203.0.113.10") != 1001 {
		t.Fatal("the lost assign did not complete")
	}
}

func TestDelayFault(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.AddFault(Fault{Delay: 5 * time.Millisecond, Times: 1})
	if r := f.post(t, assignPath, assignBody); r.status != 201 {
		t.Fatalf("delayed request: status %d", r.status)
	}
	if reqs := f.sim.Requests(); reqs[0].Fault != "delay" {
		t.Fatalf("log %+v", reqs)
	}
}

func TestDelayFaultRespectsCancellation(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.AddFault(Fault{Delay: time.Minute, Times: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", f.srv.URL+assignPath, strings.NewReader(assignBody))
	req.Header.Set("Authorization", "Bearer "+DemoToken)
	if resp, err := f.srv.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("answer arrived through a one-minute delay")
	}
	// The handler notices the cancellation and returns without processing; wait for its log entry.
	for i := 0; i < 500 && len(f.sim.Requests()) == 0; i++ {
		time.Sleep(time.Millisecond)
	}
	reqs := f.sim.Requests()
	if len(reqs) != 1 || reqs[0].Fault != "delay-cancelled" {
		t.Fatalf("log %+v", reqs)
	}
	if f.sim.Locked("203.0.113.10") {
		t.Fatal("cancelled request was processed")
	}
}

func TestFaultMatching(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.AddFault(Fault{Method: "POST", Path: "/v2/reserved_ips/203.0.113.10/actions", Status: 500, Times: 2})
	if r := f.get(t, "/v2/reserved_ips/203.0.113.10/actions"); r.status != 200 {
		t.Fatalf("GET matched a POST fault: %d", r.status)
	}
	if r := f.post(t, "/v2/floating_ips/203.0.113.10/actions", `{"type":"unassign"}`); r.status != 422 {
		t.Fatalf("other path matched: %d", r.status)
	}
	for i := 0; i < 2; i++ {
		if r := f.post(t, assignPath, assignBody); r.status != 500 {
			t.Fatalf("match %d: status %d, want 500", i, r.status)
		}
	}
	if r := f.post(t, assignPath, assignBody); r.status != 201 {
		t.Fatalf("after Times ran out: status %d", r.status)
	}
}

// Skip lets the first matching requests through: a metadata service that answers once, then goes down.
func TestFaultSkip(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.AddFault(Fault{Metadata: true, Skip: 2, Times: 1, Status: 503})
	path := "/droplets/1001/metadata/v1/id"
	for i, want := range []int{200, 200, 503, 200} {
		if r := f.do(t, "GET", path, "", ""); r.status != want {
			t.Fatalf("request %d: status %d, want %d", i, r.status, want)
		}
	}
	var back Fault
	b, _ := Fault{Skip: 2, Status: 503}.MarshalJSON()
	if err := back.UnmarshalJSON(b); err != nil || back.Skip != 2 {
		t.Fatalf("skip does not survive the control API form: %s → %+v, %v", b, back, err)
	}
}

func TestFaultUntilCleared(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.AddFault(Fault{Status: 503})
	f.sim.AddFault(Fault{Status: 500}) // never reached: the first match applies
	for i := 0; i < 5; i++ {
		if r := f.get(t, "/v2/account"); r.status != 503 {
			t.Fatalf("request %d: status %d", i, r.status)
		}
	}
	f.sim.ClearFaults()
	if r := f.get(t, "/v2/account"); r.status != 200 {
		t.Fatalf("after ClearFaults: status %d", r.status)
	}
}

func TestMetadataFaultsAreSeparate(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.AddFault(Fault{Metadata: true, Status: 500})
	if r := f.get(t, "/v2/account"); r.status != 200 {
		t.Fatalf("API hit by a metadata fault: %d", r.status)
	}
	r := f.do(t, "GET", "/droplets/1001/metadata/v1/id", "", "")
	if r.status != 500 || strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("metadata: status %d type %q", r.status, r.header.Get("Content-Type"))
	}
	f.sim.ClearFaults()
	f.sim.AddFault(Fault{Path: "/droplets/", Status: 500}) // an API fault does not match metadata paths
	if r := f.do(t, "GET", "/droplets/1001/metadata/v1/id", "", ""); r.status != 200 {
		t.Fatalf("metadata hit by an API fault: %d", r.status)
	}
}

func TestActionFaultErrored(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.AddActionFault(ActionFault{Outcome: OutcomeErrored, Times: 1})
	id := f.assign(t, kindReserved, "203.0.113.10", 1001)
	f.clk.Advance(time.Second)
	a := decode[struct {
		Action actionJSON `json:"action"`
	}](t, f.get(t, "/v2/actions/"+strconv.Itoa(id)).body).Action
	if a.Status != "errored" || a.CompletedAt == nil {
		t.Fatalf("action %+v", a)
	}
	if f.sim.Holder("203.0.113.10") != 0 || f.sim.Locked("203.0.113.10") {
		t.Fatal("errored action changed the holder or kept the lock")
	}
	// The fault is used up; a retry succeeds.
	f.assign(t, kindReserved, "203.0.113.10", 1001)
	f.clk.Advance(time.Second)
	if f.sim.Holder("203.0.113.10") != 1001 {
		t.Fatal("retry after an errored action did not assign")
	}
}

func TestActionFaultStuck(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.AddActionFault(ActionFault{Outcome: OutcomeStuck})
	id := f.assign(t, kindReserved, "203.0.113.10", 1001)
	f.clk.Advance(24 * time.Hour)
	a := decode[struct {
		Action actionJSON `json:"action"`
	}](t, f.get(t, "/v2/actions/"+strconv.Itoa(id)).body).Action
	if a.Status != "in-progress" || !f.sim.Locked("203.0.113.10") || f.sim.Holder("203.0.113.10") != 0 {
		t.Fatalf("stuck action moved: %+v", a)
	}
	wantError(t, f.post(t, assignPath, `{"type":"assign","droplet_id":1002}`), 422, "unprocessable_entity",
		"The reserved IP already has a pending event.")
}

func TestActionFaultNotFoundFor(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.AddActionFault(ActionFault{NotFoundFor: 500 * time.Millisecond, Latency: 2 * time.Second, Times: 1})
	id := f.assign(t, kindReserved, "203.0.113.10", 1001)
	for _, p := range []string{"/v2/actions/" + strconv.Itoa(id), assignPath + "/" + strconv.Itoa(id)} {
		wantError(t, f.get(t, p), 404, "not_found", "The resource you requested could not be found.")
	}
	f.clk.Advance(500 * time.Millisecond)
	r := f.get(t, "/v2/actions/"+strconv.Itoa(id))
	if r.status != 200 {
		t.Fatalf("after NotFoundFor: status %d", r.status)
	}
	f.clk.Advance(time.Second)
	if !f.sim.Locked("203.0.113.10") {
		t.Fatal("latency override ignored: finished after 1.5s of 2s")
	}
	f.clk.Advance(500 * time.Millisecond)
	if f.sim.Holder("203.0.113.10") != 1001 {
		t.Fatal("not finished after the overridden latency")
	}
}

func TestClearFaultsClearsActionFaults(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.AddActionFault(ActionFault{Outcome: OutcomeStuck})
	f.sim.ClearFaults()
	f.assign(t, kindReserved, "203.0.113.10", 1001)
	f.clk.Advance(time.Second)
	if f.sim.Holder("203.0.113.10") != 1001 {
		t.Fatal("action fault survived ClearFaults")
	}
}
