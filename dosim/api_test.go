package dosim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const nyc3 = `{"name":"New York 3","slug":"nyc3","available":true,
  "features":["private_networking","backups","ipv6","metadata","install_agent","storage","image_transfer"],
  "sizes":["s-1vcpu-1gb","s-1vcpu-2gb","s-2vcpu-2gb","s-2vcpu-4gb","s-4vcpu-8gb"]}`

const demoProject = "5f2a2a9e-3c7b-4d1e-9a40-0b7d3f1c2e10"

func TestGetReservedIPUnassigned(t *testing.T) {
	f := newFixture(t, nil)
	r := f.get(t, "/v2/reserved_ips/203.0.113.10")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	wantJSON(t, r.body, `{"reserved_ip":{"ip":"203.0.113.10","droplet":null,"region":`+nyc3+
		`,"locked":false,"project_id":"`+demoProject+`"}}`)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("content type %q", ct)
	}
}

func TestGetReservedIPAssignedCarriesTheWholeDroplet(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Assign("203.0.113.10", 1001)
	r := f.get(t, "/v2/reserved_ips/203.0.113.10")
	got := decode[struct {
		ReservedIP struct {
			IP      string          `json:"ip"`
			Droplet json.RawMessage `json:"droplet"`
			Locked  bool            `json:"locked"`
		} `json:"reserved_ip"`
	}](t, r.body)
	wantJSON(t, got.ReservedIP.Droplet, `{
	  "id":1001,"name":"lb-a","memory":1024,"vcpus":1,"disk":25,"locked":false,"status":"active","kernel":null,
	  "created_at":"2026-03-13T15:09:26Z","features":["private_networking","ipv6"],"backup_ids":[],
	  "next_backup_window":null,"snapshot_ids":[],
	  "image":{"id":164200000,"name":"24.04 (LTS) x64","type":"base","distribution":"Ubuntu","slug":"ubuntu-24-04-x64",
	    "public":true,"regions":["nyc3"],"created_at":"2024-04-25T00:00:00Z","min_disk_size":7,"size_gigabytes":2.5,
	    "description":"","tags":[],"status":"available","error_message":""},
	  "volume_ids":[],
	  "size":{"slug":"s-1vcpu-1gb","memory":1024,"vcpus":1,"disk":25,"transfer":1,"price_monthly":6,
	    "price_hourly":0.00893,"regions":["nyc3"],"available":true,"description":"Basic"},
	  "size_slug":"s-1vcpu-1gb",
	  "networks":{
	    "v4":[{"ip_address":"10.108.0.11","netmask":"255.255.240.0","gateway":"10.108.0.1","type":"private"},
	          {"ip_address":"198.51.100.11","netmask":"255.255.255.0","gateway":"198.51.100.1","type":"public"}],
	    "v6":[{"ip_address":"2001:db8:1::11","netmask":64,"gateway":"2001:db8:1::1","type":"public"}]},
	  "region":`+nyc3+`,"tags":[],"vpc_uuid":"5d0c1a4e-7f1b-4c3e-9b8a-000000001001"}`)
}

func TestGetFloatingIPUsesTheLegacyKey(t *testing.T) {
	f := newFixture(t, nil)
	r := f.get(t, "/v2/floating_ips/203.0.113.10")
	wantJSON(t, r.body, `{"floating_ip":{"ip":"203.0.113.10","droplet":null,"region":`+nyc3+
		`,"locked":false,"project_id":"`+demoProject+`"}}`)
}

func TestGetReservedIPv6(t *testing.T) {
	f := newFixture(t, nil)
	r := f.get(t, "/v2/reserved_ipv6/2001:db8:10::10")
	wantJSON(t, r.body, `{"reserved_ipv6":{"ip":"2001:db8:10::10","region_slug":"nyc3",
	  "reserved_at":"2026-03-14T15:09:26Z","droplet":null}}`)

	// Any spelling of the address finds it.
	r = f.get(t, "/v2/reserved_ipv6/2001:0db8:0010:0000:0000:0000:0000:0010")
	if r.status != http.StatusOK {
		t.Fatalf("expanded spelling: status %d", r.status)
	}
}

func TestListReservedIPs(t *testing.T) {
	f := newFixture(t, nil)
	wantJSON(t, f.get(t, "/v2/reserved_ips").body, `{"reserved_ips":[{"ip":"203.0.113.10","droplet":null,
	  "region":`+nyc3+`,"locked":false,"project_id":"`+demoProject+`"}],"links":{},"meta":{"total":1}}`)
	wantJSON(t, f.get(t, "/v2/floating_ips").body, `{"floating_ips":[{"ip":"203.0.113.10","droplet":null,
	  "region":`+nyc3+`,"locked":false,"project_id":"`+demoProject+`"}],"links":{},"meta":{"total":1}}`)
	wantJSON(t, f.get(t, "/v2/reserved_ipv6").body, `{"reserved_ipv6s":[{"ip":"2001:db8:10::10",
	  "region_slug":"nyc3","reserved_at":"2026-03-14T15:09:26Z","droplet":null}],"links":{},"meta":{"total":1}}`)
}

func TestGetAccountAndDroplet(t *testing.T) {
	f := newFixture(t, nil)
	acct := decode[struct {
		Account struct {
			Status          string `json:"status"`
			ReservedIPLimit int    `json:"reserved_ip_limit"`
		} `json:"account"`
	}](t, f.get(t, "/v2/account").body)
	if acct.Account.Status != "active" || acct.Account.ReservedIPLimit == 0 {
		t.Fatalf("account %+v", acct.Account)
	}
	d := decode[struct {
		Droplet struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
		} `json:"droplet"`
	}](t, f.get(t, "/v2/droplets/1002").body)
	if d.Droplet.ID != 1002 || d.Droplet.Name != "lb-b" {
		t.Fatalf("droplet %+v", d.Droplet)
	}
	list := decode[struct {
		Droplets []struct {
			ID int `json:"id"`
		} `json:"droplets"`
		Meta metaJSON `json:"meta"`
	}](t, f.get(t, "/v2/droplets").body)
	if len(list.Droplets) != 2 || list.Droplets[0].ID != 1001 || list.Meta.Total != 2 {
		t.Fatalf("droplet list %+v", list)
	}
}

func TestAuthentication(t *testing.T) {
	tests := []struct {
		name, method, path, token, body string
		status                          int
		id, message                     string
	}{
		{"no token", "GET", "/v2/reserved_ips/203.0.113.10", "", "", 401, "unauthorized", "Unable to authenticate you."},
		{"unknown token", "GET", "/v2/account", "not-a-token", "", 401, "unauthorized", "Unable to authenticate you."},
		{"unknown token before not found", "GET", "/v2/reserved_ips/192.0.2.1", "nope", "", 401, "unauthorized", "Unable to authenticate you."},
		{"read-only token writes", "POST", "/v2/reserved_ips/203.0.113.10/actions", "read-only-token",
			`{"type":"assign","droplet_id":1001}`, 403, "forbidden", "You do not have access for the attempted action."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			r := f.do(t, tc.method, tc.path, tc.token, tc.body)
			wantError(t, r, tc.status, tc.id, tc.message)
			if f.sim.Locked("203.0.113.10") {
				t.Fatal("a refused request started an action")
			}
		})
	}
	t.Run("read-only token reads", func(t *testing.T) {
		f := newFixture(t, nil)
		if r := f.do(t, "GET", "/v2/reserved_ips/203.0.113.10", "read-only-token", ""); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
	})
	t.Run("lower-case bearer", func(t *testing.T) {
		f := newFixture(t, nil)
		req, _ := http.NewRequest("GET", f.srv.URL+"/v2/account", nil)
		req.Header.Set("Authorization", "bearer "+DemoToken)
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func TestNotFound(t *testing.T) {
	f := newFixture(t, nil)
	id := f.assign(t, kindReserved, "203.0.113.10", 1001)
	paths := []string{
		"/v2/reserved_ips/192.0.2.200",
		"/v2/reserved_ips/not-an-ip",
		"/v2/reserved_ips/2001:db8:10::10",          // IPv6 under the IPv4 endpoint
		"/v2/floating_ips/2001:db8:10::10",          // and under the legacy one
		"/v2/reserved_ipv6/203.0.113.10",            // IPv4 under the IPv6 endpoint
		"/v2/reserved_ipv6/2001:db8:10::10/actions", // no per-IP action list for IPv6
		"/v2/reserved_ips/203.0.113.10/actions/999",
		"/v2/actions/999",
		"/v2/actions/abc",
		"/v2/droplets/4242",
		"/v2/no_such_thing",
		"/v2/reserved_ips/203.0.113.10/actions/" + strconv.Itoa(id) + "/extra",
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			wantError(t, f.get(t, p), 404, "not_found", "The resource you requested could not be found.")
		})
	}
	t.Run("POST to an unknown IP", func(t *testing.T) {
		r := f.post(t, "/v2/reserved_ips/192.0.2.200/actions", `{"type":"assign","droplet_id":1001}`)
		wantError(t, r, 404, "not_found", "The resource you requested could not be found.")
	})
}

func TestLegacyOnly(t *testing.T) {
	f := newFixture(t, func(w *World) { w.LegacyOnly = true })
	for _, p := range []string{"/v2/reserved_ips/203.0.113.10", "/v2/reserved_ips", "/v2/reserved_ipv6/2001:db8:10::10"} {
		wantError(t, f.get(t, p), 404, "not_found", "The resource you requested could not be found.")
	}
	if r := f.get(t, "/v2/floating_ips/203.0.113.10"); r.status != 200 {
		t.Fatalf("floating_ips: status %d", r.status)
	}
	r := f.post(t, "/v2/floating_ips/203.0.113.10/actions", `{"type":"assign","droplet_id":1002}`)
	if r.status != http.StatusCreated {
		t.Fatalf("legacy assign: status %d: %s", r.status, r.body)
	}
}

func TestAssignLifecycle(t *testing.T) {
	f := newFixture(t, nil) // demo latency: 1s
	r := f.post(t, "/v2/reserved_ips/203.0.113.10/actions", `{"type":"assign","droplet_id":1001}`)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d, want 201: %s", r.status, r.body)
	}
	wantAction := func(status, completedAt string) string {
		return `{"action":{"id":2412000001,"status":"` + status + `","type":"assign_ip",
		  "started_at":"2026-03-14T15:09:26Z","completed_at":` + completedAt + `,"resource_id":3405803786,
		  "resource_type":"reserved_ip","region":` + nyc3 + `,"region_slug":"nyc3"}}`
	}
	wantJSON(t, r.body, wantAction("in-progress", "null"))

	// In progress: the IP is locked, the holder unchanged, the droplet has a pending event.
	if h := f.sim.Holder("203.0.113.10"); h != 0 {
		t.Fatalf("holder %d before the action completed", h)
	}
	if !f.sim.Locked("203.0.113.10") {
		t.Fatal("not locked while the action runs")
	}
	ip := decode[struct {
		ReservedIP reservedIPJSON `json:"reserved_ip"`
	}](t, f.get(t, "/v2/reserved_ips/203.0.113.10").body).ReservedIP
	if !ip.Locked || ip.Droplet != nil {
		t.Fatalf("during the action: locked %v droplet %v, want locked and no droplet", ip.Locked, ip.Droplet)
	}
	d := decode[struct {
		Droplet dropletJSON `json:"droplet"`
	}](t, f.get(t, "/v2/droplets/1001").body).Droplet
	if !d.Locked {
		t.Fatal("droplet 1001 not locked during the assign")
	}
	wantJSON(t, f.get(t, "/v2/reserved_ips/203.0.113.10/actions/2412000001").body, wantAction("in-progress", "null"))

	f.clk.Advance(999 * time.Millisecond)
	if f.sim.Holder("203.0.113.10") != 0 {
		t.Fatal("completed before the latency passed")
	}
	f.clk.Advance(time.Millisecond)
	done := wantAction("completed", `"2026-03-14T15:09:27Z"`)
	wantJSON(t, f.get(t, "/v2/actions/2412000001").body, done)
	wantJSON(t, f.get(t, "/v2/reserved_ips/203.0.113.10/actions/2412000001").body, done)
	wantJSON(t, f.get(t, "/v2/floating_ips/203.0.113.10/actions/2412000001").body, done)
	if h := f.sim.Holder("203.0.113.10"); h != 1001 {
		t.Fatalf("holder %d after completion, want 1001", h)
	}
	if f.sim.Locked("203.0.113.10") {
		t.Fatal("still locked after completion")
	}
	ip = decode[struct {
		ReservedIP reservedIPJSON `json:"reserved_ip"`
	}](t, f.get(t, "/v2/reserved_ips/203.0.113.10").body).ReservedIP
	if ip.Locked || ip.Droplet == nil || ip.Droplet.ID != 1001 {
		t.Fatalf("after the action: %+v", ip)
	}

	list := decode[struct {
		Actions []actionJSON `json:"actions"`
		Meta    metaJSON     `json:"meta"`
	}](t, f.get(t, "/v2/reserved_ips/203.0.113.10/actions").body)
	if len(list.Actions) != 1 || list.Actions[0].ID != 2412000001 || list.Meta.Total != 1 {
		t.Fatalf("action list %+v", list)
	}
}

func TestMoveBetweenDroplets(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Assign("203.0.113.10", 1001)
	f.assign(t, kindReserved, "203.0.113.10", 1002)
	// Both ends of a move have a pending event.
	for _, id := range []int{1001, 1002} {
		d := decode[struct {
			Droplet dropletJSON `json:"droplet"`
		}](t, f.get(t, "/v2/droplets/"+strconv.Itoa(id)).body).Droplet
		if !d.Locked {
			t.Errorf("droplet %d not locked during the move", id)
		}
	}
	if h := f.sim.Holder("203.0.113.10"); h != 1001 {
		t.Fatalf("holder %d during the move, want 1001 still", h)
	}
	f.clk.Advance(time.Second)
	if h := f.sim.Holder("203.0.113.10"); h != 1002 {
		t.Fatalf("holder %d after the move, want 1002", h)
	}
}

func TestUnassignLifecycle(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Assign("203.0.113.10", 1002)
	r := f.post(t, "/v2/reserved_ips/203.0.113.10/actions", `{"type":"unassign"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	a := decode[struct {
		Action actionJSON `json:"action"`
	}](t, r.body).Action
	if a.Type != "unassign_ip" || a.Status != "in-progress" {
		t.Fatalf("action %+v", a)
	}
	if f.sim.Holder("203.0.113.10") != 1002 {
		t.Fatal("unassigned before completion")
	}
	f.clk.Advance(time.Second)
	if h := f.sim.Holder("203.0.113.10"); h != 0 {
		t.Fatalf("holder %d after unassign", h)
	}
}

func TestIPv6AssignLifecycle(t *testing.T) {
	f := newFixture(t, nil)
	r := f.post(t, "/v2/reserved_ipv6/2001:db8:10::10/actions", `{"type":"assign","droplet_id":1002}`)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	a := decode[struct {
		Action actionJSON `json:"action"`
	}](t, r.body).Action
	// The spec's IPv6 action carries region null and only a region slug.
	if a.ResourceType != "reserved_ipv6" || a.Region != nil || a.RegionSlug != "nyc3" || a.ResourceID == 0 {
		t.Fatalf("action %+v", a)
	}
	if !f.sim.Locked("2001:db8:10::10") {
		t.Fatal("IPv6 not locked during the action")
	}
	f.clk.Advance(time.Second)
	got := decode[struct {
		Action actionJSON `json:"action"`
	}](t, f.get(t, "/v2/actions/"+strconv.Itoa(a.ID)).body).Action
	if got.Status != "completed" {
		t.Fatalf("status %q", got.Status)
	}
	ip := decode[struct {
		R reservedIPv6JSON `json:"reserved_ipv6"`
	}](t, f.get(t, "/v2/reserved_ipv6/2001:db8:10::10").body).R
	if ip.Droplet == nil || ip.Droplet.ID != 1002 {
		t.Fatalf("IPv6 droplet %+v, want 1002", ip.Droplet)
	}
}

func TestFloatingIPActionResourceType(t *testing.T) {
	f := newFixture(t, nil)
	r := f.post(t, "/v2/floating_ips/203.0.113.10/actions", `{"type":"assign","droplet_id":1001}`)
	a := decode[struct {
		Action actionJSON `json:"action"`
	}](t, r.body).Action
	if a.ResourceType != "floating_ip" || a.ResourceID != 3405803786 {
		t.Fatalf("action %+v", a)
	}
}

// The action completes on real time too; a few milliseconds of latency keeps this fast.
func TestActionCompletesOnTheRealClock(t *testing.T) {
	w := DemoWorld()
	w.ActionLatency = 5 * time.Millisecond
	s, err := New(w)
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, s)
	f := &fixture{sim: s, srv: srv}
	id := f.assign(t, kindReserved, "203.0.113.10", 1001)
	status := ""
	for i := 0; i < 200 && status != "completed"; i++ {
		time.Sleep(time.Millisecond)
		status = decode[struct {
			Action actionJSON `json:"action"`
		}](t, f.get(t, "/v2/actions/"+strconv.Itoa(id)).body).Action.Status
	}
	if status != "completed" || s.Holder("203.0.113.10") != 1001 {
		t.Fatalf("status %q holder %d", status, s.Holder("203.0.113.10"))
	}
}

func TestAssignRefusals(t *testing.T) {
	const ip4 = "/v2/reserved_ips/203.0.113.10/actions"
	tests := []struct {
		name    string
		world   func(*World)
		setup   func(t *testing.T, f *fixture)
		path    string
		body    string
		status  int
		id, msg string
	}{
		{name: "IP has a pending event", path: ip4, body: `{"type":"assign","droplet_id":1002}`,
			setup:  func(t *testing.T, f *fixture) { f.assign(t, kindReserved, "203.0.113.10", 1001) },
			status: 422, id: "unprocessable_entity", msg: "The reserved IP already has a pending event."},
		{name: "floating IP has a pending event", path: "/v2/floating_ips/203.0.113.10/actions",
			body:   `{"type":"unassign"}`,
			setup:  func(t *testing.T, f *fixture) { f.assign(t, kindFloating, "203.0.113.10", 1001) },
			status: 422, id: "unprocessable_entity", msg: "The floating IP already has a pending event."},
		{name: "IPv6 has a pending event", path: "/v2/reserved_ipv6/2001:db8:10::10/actions",
			body:   `{"type":"assign","droplet_id":1002}`,
			setup:  func(t *testing.T, f *fixture) { f.assign(t, kindV6, "2001:db8:10::10", 1001) },
			status: 422, id: "unprocessable_entity", msg: "The reserved IPv6 already has a pending event."},
		{name: "droplet has a pending event", path: ip4, body: `{"type":"assign","droplet_id":1001}`,
			// Assigning the IPv6 to 1001 gives 1001 a pending event.
			setup:  func(t *testing.T, f *fixture) { f.assign(t, kindV6, "2001:db8:10::10", 1001) },
			status: 422, id: "unprocessable_entity", msg: "Droplet already has a pending event."},
		{name: "current holder has a pending event", path: ip4, body: `{"type":"assign","droplet_id":1002}`,
			setup: func(t *testing.T, f *fixture) {
				f.sim.Assign("203.0.113.10", 1001)
				f.assign(t, kindV6, "2001:db8:10::10", 1001)
			},
			status: 422, id: "unprocessable_entity", msg: "Droplet already has a pending event."},
		{name: "already assigned to that droplet", path: ip4, body: `{"type":"assign","droplet_id":1001}`,
			setup:  func(t *testing.T, f *fixture) { f.sim.Assign("203.0.113.10", 1001) },
			status: 422, id: "unprocessable_entity", msg: "The reserved IP is already assigned to that Droplet."},
		{name: "droplet holds another reserved IPv4", path: ip4, body: `{"type":"assign","droplet_id":1001}`,
			world: func(w *World) {
				w.IPs = append(w.IPs, ReservedIP{IP: "203.0.113.20", Region: "nyc3", DropletID: 1001})
			},
			status: 422, id: "unprocessable_entity", msg: "The Droplet already has a reserved IP assigned."},
		{name: "region mismatch", path: ip4, body: `{"type":"assign","droplet_id":3001}`,
			world: func(w *World) {
				w.Droplets = append(w.Droplets, Droplet{ID: 3001, Name: "far", Region: "sfo3"})
			},
			status: 422, id: "unprocessable_entity", msg: "The reserved IP and the Droplet must be in the same region."},
		{name: "unknown droplet", path: ip4, body: `{"type":"assign","droplet_id":4242}`,
			status: 422, id: "unprocessable_entity", msg: "Droplet not found."},
		{name: "unassign when unassigned", path: ip4, body: `{"type":"unassign"}`,
			status: 422, id: "unprocessable_entity", msg: "The reserved IP is not assigned to a Droplet."},
		{name: "unknown type", path: ip4, body: `{"type":"move","droplet_id":1001}`,
			status: 422, id: "unprocessable_entity", msg: "Type must be one of: assign, unassign."},
		{name: "no type", path: ip4, body: `{"droplet_id":1001}`,
			status: 422, id: "unprocessable_entity", msg: "Type must be one of: assign, unassign."},
		{name: "assign without droplet", path: ip4, body: `{"type":"assign"}`,
			status: 422, id: "unprocessable_entity", msg: "Droplet ID is required to assign."},
		{name: "droplet id not a number", path: ip4, body: `{"type":"assign","droplet_id":"lb-a"}`,
			status: 422, id: "unprocessable_entity", msg: "Droplet ID is required to assign."},
		{name: "body not JSON", path: ip4, body: `type=assign`,
			status: 400, id: "bad_request", msg: "The request body is not valid JSON."},
		{name: "empty body", path: ip4, body: ``,
			status: 400, id: "bad_request", msg: "The request body is not valid JSON."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.world)
			if tc.setup != nil {
				tc.setup(t, f)
			}
			before := len(f.sim.actions)
			wantError(t, f.post(t, tc.path, tc.body), tc.status, tc.id, tc.msg)
			if len(f.sim.actions) != before {
				t.Fatal("a refused request created an action")
			}
		})
	}
}

// The classic assign-ip script sends droplet_id as a string, and DigitalOcean accepts it.
func TestAssignAcceptsDropletIDAsString(t *testing.T) {
	f := newFixture(t, nil)
	r := f.post(t, "/v2/floating_ips/203.0.113.10/actions", `{"type":"assign","droplet_id":"1001"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	f.clk.Advance(time.Second)
	if f.sim.Holder("203.0.113.10") != 1001 {
		t.Fatal("string droplet_id did not assign")
	}
}

func TestAssignHelperSetsHolderWithoutAction(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Assign("2001:db8:10::10", 1002)
	if f.sim.Holder("2001:db8:10::10") != 1002 || f.sim.Locked("2001:db8:10::10") {
		t.Fatal("Assign did not set the holder directly")
	}
	if len(f.sim.actions) != 0 {
		t.Fatal("Assign created an action")
	}
	f.sim.Assign("2001:db8:10::10", 0)
	if f.sim.Holder("2001:db8:10::10") != 0 {
		t.Fatal("Assign 0 did not unassign")
	}
	f.sim.Assign("192.0.2.1", 1001) // unknown IP: ignored
	if f.sim.Holder("192.0.2.1") != 0 {
		t.Fatal("unknown IP has a holder")
	}
}

func TestSetActionLatencyAppliesToNewActions(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.SetActionLatency(time.Minute)
	f.assign(t, kindReserved, "203.0.113.10", 1001)
	f.clk.Advance(59 * time.Second)
	if !f.sim.Locked("203.0.113.10") {
		t.Fatal("finished before the new latency")
	}
	f.clk.Advance(time.Second)
	if f.sim.Holder("203.0.113.10") != 1001 {
		t.Fatal("not finished after the new latency")
	}
}

func TestEveryAPIAnswerCarriesRequestIDAndRateHeaders(t *testing.T) {
	f := newFixture(t, nil)
	for _, r := range []reply{
		f.get(t, "/v2/reserved_ips/203.0.113.10"),
		f.do(t, "GET", "/v2/account", "", ""),
		f.get(t, "/v2/nothing"),
		f.post(t, "/v2/reserved_ips/203.0.113.10/actions", `{"type":"assign","droplet_id":1001}`),
	} {
		for _, h := range []string{"X-Request-Id", "Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset"} {
			if r.header.Get(h) == "" {
				t.Errorf("status %d answer lacks %s", r.status, h)
			}
		}
	}
}
