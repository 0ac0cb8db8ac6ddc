package dosim

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"golang.org/x/oauth2"
)

// TestGodoCompatibility drives the simulator with DigitalOcean's own Go client, which decodes the real shapes:
// if the simulator's JSON drifted from DigitalOcean's, godo would decode zero values here.
func TestGodoCompatibility(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	hc := oauth2.NewClient(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: DemoToken}))
	hc.Timeout = 5 * time.Second
	c, err := godo.New(hc, godo.SetBaseURL(f.srv.URL+"/"), godo.SetUserAgent("do-fip-test"))
	if err != nil {
		t.Fatal(err)
	}

	ip, resp, err := c.ReservedIPs.Get(ctx, "203.0.113.10")
	if err != nil {
		t.Fatal(err)
	}
	if ip.IP != "203.0.113.10" || ip.Region == nil || ip.Region.Slug != "nyc3" || ip.Droplet != nil || ip.Locked ||
		ip.ProjectID != demoProject {
		t.Fatalf("ReservedIPs.Get: %+v", ip)
	}
	if resp.Rate.Limit != 5000 || resp.Rate.Remaining != 4999 || resp.Rate.Reset.Unix() != epoch.Add(time.Hour).Unix() {
		t.Fatalf("rate %+v", resp.Rate)
	}

	a, _, err := c.ReservedIPActions.Assign(ctx, "203.0.113.10", 1001)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 || a.Status != godo.ActionInProgress || a.Type != "assign_ip" || a.ResourceType != "reserved_ip" ||
		a.ResourceID != 3405803786 || a.RegionSlug != "nyc3" || a.StartedAt == nil || a.CompletedAt != nil {
		t.Fatalf("Assign: %+v", a)
	}

	// A second assign while the first is pending is refused, and godo surfaces DigitalOcean's message.
	_, resp, err = c.ReservedIPActions.Assign(ctx, "203.0.113.10", 1002)
	var er *godo.ErrorResponse
	if !errors.As(err, &er) || resp.StatusCode != http.StatusUnprocessableEntity ||
		er.Message != "The reserved IP already has a pending event." || er.RequestID == "" {
		t.Fatalf("pending assign: %v", err)
	}

	ip, _, err = c.ReservedIPs.Get(ctx, "203.0.113.10")
	if err != nil || !ip.Locked {
		t.Fatalf("during the action: %+v %v", ip, err)
	}

	f.clk.Advance(time.Second)
	got, _, err := c.ReservedIPActions.Get(ctx, "203.0.113.10", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != godo.ActionCompleted || got.CompletedAt == nil || !got.CompletedAt.Time.After(got.StartedAt.Time) {
		t.Fatalf("ReservedIPActions.Get: %+v", got)
	}
	got, _, err = c.Actions.Get(ctx, a.ID)
	if err != nil || got.Status != godo.ActionCompleted || got.Region == nil || got.Region.Slug != "nyc3" {
		t.Fatalf("Actions.Get: %+v %v", got, err)
	}
	ip, _, err = c.ReservedIPs.Get(ctx, "203.0.113.10")
	if err != nil || ip.Locked || ip.Droplet == nil || ip.Droplet.ID != 1001 || ip.Droplet.Name != "lb-a" {
		t.Fatalf("after the action: %+v %v", ip, err)
	}
	if pub, err := ip.Droplet.PublicIPv4(); err != nil || pub != "198.51.100.11" {
		t.Fatalf("droplet public IPv4 %q %v", pub, err)
	}

	fip, _, err := c.FloatingIPs.Get(ctx, "203.0.113.10")
	if err != nil || fip.Droplet == nil || fip.Droplet.ID != 1001 {
		t.Fatalf("FloatingIPs.Get: %+v %v", fip, err)
	}

	v6, _, err := c.ReservedIPV6s.Get(ctx, "2001:db8:10::10")
	if err != nil {
		t.Fatal(err)
	}
	if v6.IP != "2001:db8:10::10" || v6.RegionSlug != "nyc3" || v6.Droplet != nil || !v6.ReservedAt.Equal(epoch) {
		t.Fatalf("ReservedIPV6s.Get: %+v", v6)
	}
	a6, _, err := c.ReservedIPV6Actions.Assign(ctx, "2001:db8:10::10", 1002)
	if err != nil || a6.ResourceType != "reserved_ipv6" || a6.Status != godo.ActionInProgress {
		t.Fatalf("ReservedIPV6Actions.Assign: %+v %v", a6, err)
	}
	f.clk.Advance(time.Second)
	if got, _, err := c.Actions.Get(ctx, a6.ID); err != nil || got.Status != godo.ActionCompleted {
		t.Fatalf("Actions.Get v6: %+v %v", got, err)
	}
	v6, _, err = c.ReservedIPV6s.Get(ctx, "2001:db8:10::10")
	if err != nil || v6.Droplet == nil || v6.Droplet.ID != 1002 {
		t.Fatalf("after the v6 action: %+v %v", v6, err)
	}

	// Not found and unauthorized come back as godo errors with the right status.
	if _, resp, err := c.ReservedIPs.Get(ctx, "192.0.2.1"); err == nil || resp.StatusCode != 404 {
		t.Fatalf("unknown IP: %v", err)
	}
	bad, _ := godo.New(oauth2.NewClient(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "wrong"})),
		godo.SetBaseURL(f.srv.URL+"/"))
	if _, resp, err := bad.ReservedIPs.Get(ctx, "203.0.113.10"); !errors.As(err, &er) || resp.StatusCode != 401 ||
		er.Message != "Unable to authenticate you." {
		t.Fatalf("wrong token: %v", err)
	}
}

// godo's retrying client (go-retryablehttp) honours retry-after on 429 and tries again; the simulator's
// answers must let it do so.
func TestGodoRetriesThroughA429(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.AddFault(Fault{Path: "/v2/reserved_ips/", Status: 429, RetryAfter: 0, Times: 1})
	ctx := context.Background()
	wait := 0.001
	c, err := godo.New(oauth2.NewClient(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: DemoToken})),
		godo.SetBaseURL(f.srv.URL+"/"),
		godo.WithRetryAndBackoffs(godo.RetryConfig{RetryMax: 2, RetryWaitMin: &wait, RetryWaitMax: &wait}))
	if err != nil {
		t.Fatal(err)
	}
	ip, _, err := c.ReservedIPs.Get(ctx, "203.0.113.10")
	if err != nil || ip.IP != "203.0.113.10" {
		t.Fatalf("%+v %v", ip, err)
	}
	reqs := f.sim.Requests()
	if len(reqs) != 2 || reqs[0].Status != 429 || reqs[1].Status != 200 {
		t.Fatalf("log %+v", reqs)
	}
}
