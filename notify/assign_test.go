package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/do-fip/do-fip/doapi"
	"github.com/do-fip/do-fip/dosim"
)

// scripted answers each request with the next canned DigitalOcean response for its method and path, and fails
// the test on any request it has no answer for.
type scripted struct {
	t     *testing.T
	mu    sync.Mutex
	steps []step
	seen  []string
}

type step struct {
	method, path string
	status       int
	body         string
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, r.Method+" "+r.URL.Path)
	if len(s.steps) == 0 || s.steps[0].method != r.Method || s.steps[0].path != r.URL.Path {
		s.t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusTeapot)
		return
	}
	st := s.steps[0]
	s.steps = s.steps[1:]
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st.status)
	fmt.Fprint(w, st.body)
}

func reservedIP(holder int, locked bool) string {
	droplet := "null"
	if holder != 0 {
		droplet = fmt.Sprintf(`{"id":%d,"name":"lb","region":{"slug":"nyc3"}}`, holder)
	}
	return fmt.Sprintf(`{"reserved_ip":{"ip":"203.0.113.10","region":{"name":"New York 3","slug":"nyc3","features":[],"available":true,"sizes":[]},"droplet":%s,"locked":%v,"project_id":"5f2a2a9e-3c7b-4d1e-9a40-0b7d3f1c2e10"}}`, droplet, locked)
}

func newClient(t *testing.T, h http.Handler) *doapi.Client {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := doapi.New(doapi.Options{Token: "test-token", BaseURL: srv.URL, AllowInsecure: true, RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var fast = Timing{ActionPolls: []time.Duration{5 * time.Millisecond}, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}

func TestAssignAlreadyAssignedRaceIsSuccess(t *testing.T) {
	ip := "/v2/reserved_ips/203.0.113.10"
	s := &scripted{t: t, steps: []step{
		{"GET", ip, 200, reservedIP(1002, false)},
		// Between the read and the POST, the move landed (another run on this node): DigitalOcean refuses to
		// assign an IP to its holder.
		{"POST", ip + "/actions", 422, `{"id":"unprocessable_entity","message":"The reserved IP is already assigned to this Droplet.","request_id":"r1"}`},
		{"GET", ip, 200, reservedIP(1001, false)},
		{"GET", ip, 200, reservedIP(1001, false)},
	}}
	a := &Assigner{API: newClient(t, s), DropletID: 1001, Timing: fast}
	r := a.Assign(context.Background(), netip.MustParseAddr("203.0.113.10"))
	if r.Err != nil || r.Outcome != Moved {
		t.Fatalf("result %+v; requests %v", r, s.seen)
	}
}

func TestAssignOther422IsRefused(t *testing.T) {
	ip := "/v2/reserved_ips/203.0.113.10"
	s := &scripted{t: t, steps: []step{
		{"GET", ip, 200, reservedIP(1002, false)},
		{"POST", ip + "/actions", 422, `{"id":"unprocessable_entity","message":"Droplet already has a reserved IP assigned.","request_id":"r2"}`},
		{"GET", ip, 200, reservedIP(1002, false)},
	}}
	a := &Assigner{API: newClient(t, s), DropletID: 1001, Timing: fast}
	r := a.Assign(context.Background(), netip.MustParseAddr("203.0.113.10"))
	if !errors.Is(r.Err, ErrRefused) || !strings.Contains(r.Err.Error(), "already has a reserved IP") {
		t.Fatalf("result %+v, want a refusal carrying DigitalOcean's message", r)
	}
	if len(s.steps) != 0 {
		t.Errorf("unused steps %v", s.steps)
	}
}

// With the simulator: two families moving to one droplet take turns, so neither meets DigitalOcean's
// "Droplet already has a pending event".
func TestAssignBothFamiliesTakeTurns(t *testing.T) {
	w := dosim.DemoWorld()
	w.ActionLatency = 20 * time.Millisecond
	sim, err := dosim.New(w)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	c, _ := doapi.New(doapi.Options{Token: dosim.DemoToken, BaseURL: srv.URL, AllowInsecure: true})
	a := &Assigner{API: c, DropletID: 1002, Timing: fast}
	res := a.AssignAll(context.Background(), []netip.Addr{netip.MustParseAddr("203.0.113.10"), netip.MustParseAddr("2001:db8:10::10")})
	for _, r := range res {
		if r.Err != nil || r.Outcome != Moved || r.Posts != 1 {
			t.Errorf("%s: %+v", r.IP, r)
		}
	}
	for _, q := range sim.Requests() {
		if q.Status == 422 {
			t.Errorf("a POST met a 422: %+v", q)
		}
	}
	if sim.Holder("203.0.113.10") != 1002 || sim.Holder("2001:db8:10::10") != 1002 {
		t.Error("not both moved")
	}
}
