package engine

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
	"github.com/do-fip/do-fip/metadata"
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

var fast = Timing{ActionPolls: []time.Duration{5 * time.Millisecond}, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond,
	MetadataPoll: time.Millisecond, CheckAfter: 50 * time.Millisecond, CheckEvery: 20 * time.Millisecond, MetadataDown: 20 * time.Millisecond}

const (
	ipPath    = "/v2/reserved_ips/203.0.113.10"
	actionIP  = `{"action":{"id":7,"status":"in-progress","type":"assign_ip","started_at":"2026-11-25T14:00:00Z","resource_id":0,"resource_type":"reserved_ip","region_slug":"nyc3"}}`
	completed = `{"action":{"id":7,"status":"completed","type":"assign_ip","started_at":"2026-11-25T14:00:00Z","completed_at":"2026-11-25T14:00:11Z","resource_id":0,"resource_type":"reserved_ip","region_slug":"nyc3"}}`
)

var ip4 = netip.MustParseAddr("203.0.113.10")

// Metadata elsewhere, then the POST meets "already assigned" (the move landed between the metadata read and
// the POST): one read says the IP is here, and that is success; this run moved nothing.
func TestAssignAlreadyAssignedRaceIsSuccess(t *testing.T) {
	s := &scripted{t: t, steps: []step{
		{"POST", ipPath + "/actions", 422, `{"id":"unprocessable_entity","message":"The reserved IP is already assigned to this Droplet.","request_id":"r1"}`},
		{"GET", ipPath, 200, reservedIP(1001, false)},
	}}
	e := &Engine{API: newClient(t, s), DropletID: 1001, Timing: fast, Initial: &metadata.Metadata{DropletID: 1001}}
	r := e.Assign(context.Background(), ip4)
	if r.Err != nil || r.Outcome != AlreadyHeld {
		t.Fatalf("result %+v; requests %v", r, s.seen)
	}
}

func TestAssignOther422IsRefused(t *testing.T) {
	s := &scripted{t: t, steps: []step{
		{"POST", ipPath + "/actions", 422, `{"id":"unprocessable_entity","message":"Droplet already has a reserved IP assigned.","request_id":"r2"}`},
		{"GET", ipPath, 200, reservedIP(1002, false)},
	}}
	e := &Engine{API: newClient(t, s), DropletID: 1001, Timing: fast}
	r := e.Assign(context.Background(), ip4)
	if !errors.Is(r.Err, ErrRefused) || !strings.Contains(r.Err.Error(), "already has a reserved IP") {
		t.Fatalf("result %+v, want a refusal carrying DigitalOcean's message", r)
	}
	if len(s.steps) != 0 {
		t.Errorf("unused steps %v", s.steps)
	}
}

// The metadata service shows the IP here: one read confirms it, and nothing is posted.
func TestAssignHereCostsOneRead(t *testing.T) {
	s := &scripted{t: t, steps: []step{{"GET", ipPath, 200, reservedIP(1001, false)}}}
	md := &metadata.Metadata{DropletID: 1001, ReservedIPv4: metadata.ReservedIP{Active: true, IP: "203.0.113.10"}}
	e := &Engine{API: newClient(t, s), DropletID: 1001, Timing: fast, Initial: md}
	r := e.Assign(context.Background(), ip4)
	if r.Err != nil || r.Outcome != AlreadyHeld || r.Posts != 0 {
		t.Fatalf("result %+v; requests %v", r, s.seen)
	}
}

// Without a metadata service to watch, the move is followed through the action, then the holder is read.
func TestAssignUnwatchedFollowsTheAction(t *testing.T) {
	s := &scripted{t: t, steps: []step{
		{"POST", ipPath + "/actions", 201, actionIP},
		{"GET", ipPath + "/actions/7", 200, actionIP},
		{"GET", ipPath + "/actions/7", 200, completed},
		{"GET", ipPath, 200, reservedIP(1001, false)},
	}}
	e := &Engine{API: newClient(t, s), DropletID: 1001, Timing: fast}
	r := e.Assign(context.Background(), ip4)
	if r.Err != nil || r.Outcome != Moved || r.ActionID != 7 || len(s.steps) != 0 {
		t.Fatalf("result %+v; requests %v; unused %v", r, s.seen, s.steps)
	}
}

// A deadline after an accepted move is not a timeout of nothing: it says the move was accepted.
func TestAssignAcceptedButUnverified(t *testing.T) {
	steps := []step{{"POST", ipPath + "/actions", 201, actionIP}}
	for range 200 {
		steps = append(steps, step{"GET", ipPath + "/actions/7", 200, actionIP})
	}
	s := &scripted{t: t, steps: steps}
	e := &Engine{API: newClient(t, s), DropletID: 1001, Timing: fast}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r := e.Assign(ctx, ip4)
	if !errors.Is(r.Err, ErrUnverified) || errors.Is(r.Err, ErrTimeout) || !strings.Contains(r.Err.Error(), "action 7") {
		t.Fatalf("result %+v, want ErrUnverified naming the action", r)
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
	mc := metadata.NewClient(metadata.WithBaseURL(srv.URL + "/droplets/1002"))
	md, err := mc.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{API: c, DropletID: 1002, Timing: fast, Initial: md, Watch: mc}
	res := e.AssignAll(context.Background(), []netip.Addr{ip4, netip.MustParseAddr("2001:db8:10::10")})
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
	if n := sim.Counts().API; n != 2 {
		t.Errorf("%d API requests, want 2 (one POST per IP)", n)
	}
}

// A POST answered "completed" at once, then a read that finds the IP elsewhere (another move overtook ours):
// the run posts again, which needs the droplet's turn it still held for the first move.
func TestAssignPostsAgainAfterAnOvertakenMove(t *testing.T) {
	s := &scripted{t: t, steps: []step{
		{"POST", ipPath + "/actions", 201, completed},
		{"GET", ipPath, 200, reservedIP(1002, false)},
		{"POST", ipPath + "/actions", 201, completed},
		{"GET", ipPath, 200, reservedIP(1001, false)},
	}}
	e := &Engine{API: newClient(t, s), DropletID: 1001, Timing: fast}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := e.Assign(ctx, ip4)
	if r.Err != nil || r.Outcome != Moved || r.Posts != 2 {
		t.Fatalf("result %+v; requests %v", r, s.seen)
	}
}
