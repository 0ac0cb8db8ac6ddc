package dosim

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestMetadataByPathPrefix(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Assign("203.0.113.10", 1001)
	f.sim.Assign("2001:db8:10::10", 1001)
	tests := []struct {
		path     string
		status   int
		body     string
		location string
	}{
		{"/droplets/1001/metadata/v1/id", 200, "1001", ""},
		{"/droplets/1001/metadata/v1/hostname", 200, "lb-a", ""},
		{"/droplets/1001/metadata/v1/region", 200, "nyc3", ""},
		{"/droplets/1001/metadata/v1/reserved_ip/ipv4/active", 200, "true", ""},
		{"/droplets/1001/metadata/v1/reserved_ip/ipv4/ip_address", 200, "203.0.113.10", ""},
		{"/droplets/1001/metadata/v1/reserved_ip/ipv6/active", 200, "true", ""},
		{"/droplets/1001/metadata/v1/reserved_ip/ipv6/ip_address", 200, "2001:db8:10::10", ""},
		{"/droplets/1001/metadata/v1/floating_ip/ipv4/active", 200, "true", ""},
		{"/droplets/1001/metadata/v1/floating_ip/ipv4/ip_address", 200, "203.0.113.10", ""},
		{"/droplets/1001/metadata/v1/interfaces/public/0/anchor_ipv4/address", 200, "10.17.0.11", ""},
		{"/droplets/1001/metadata/v1/interfaces/public/0/anchor_ipv4/netmask", 200, "255.255.0.0", ""},
		{"/droplets/1001/metadata/v1/interfaces/public/0/anchor_ipv4/gateway", 200, "10.17.0.1", ""},
		{"/droplets/1001/metadata/v1/interfaces/public/0/ipv4/address", 200, "198.51.100.11", ""},
		{"/droplets/1001/metadata/v1/interfaces/public/0/ipv6/address", 200, "2001:0DB8:0001:0000:0000:0000:0000:0011", ""},
		{"/droplets/1001/metadata/v1/interfaces/private/0/ipv4/address", 200, "10.108.0.11", ""},
		{"/droplets/1001/metadata/v1/dns/nameservers", 200, "67.207.67.2\n67.207.67.3", ""},
		{"/droplets/1001/metadata/v1/features/dhcp_enabled", 200, "true", ""},
		{"/droplets/1001/metadata/v1/reserved_ip/", 200, "ipv4/\nipv6/", ""},
		{"/droplets/1001/metadata/v1/reserved_ip/ipv4/", 200, "active\nip_address", ""},
		{"/droplets/1001/metadata/v1/interfaces/public/0/anchor_ipv4/", 200, "address\nnetmask\ngateway", ""},
		{"/droplets/1001/metadata/v1/", 200,
			"id\nhostname\npublic-keys\nregion\ninterfaces/\ndns/\nfloating_ip/\nreserved_ip/\ntags/\nfeatures/", ""},
		// Index paths without the trailing slash redirect, keeping the prefix.
		{"/droplets/1001/metadata/v1", 301, "", "/droplets/1001/metadata/v1/"},
		{"/droplets/1001/metadata/v1/reserved_ip", 301, "", "/droplets/1001/metadata/v1/reserved_ip/"},
		{"/droplets/1001/metadata/v1/interfaces/public/0", 301, "", "/droplets/1001/metadata/v1/interfaces/public/0/"},
		{"/droplets/1001/metadata/v1/nothing", 404, "", ""},
		{"/droplets/1001/metadata/v1/id/", 404, "", ""},
		{"/droplets/1001/metadata/v1/id/more", 404, "", ""},
		{"/droplets/1001/metadata/v2/id", 404, "", ""},
		{"/droplets/1001/metadata/v1x", 404, "", ""},
		{"/droplets/4242/metadata/v1/id", 404, "", ""},
		{"/droplets/lb-a/metadata/v1/id", 404, "", ""},
		// The other droplet holds nothing: active is false and there is no address.
		{"/droplets/1002/metadata/v1/id", 200, "1002", ""},
		{"/droplets/1002/metadata/v1/reserved_ip/ipv4/active", 200, "false", ""},
		{"/droplets/1002/metadata/v1/floating_ip/ipv4/active", 200, "false", ""},
		{"/droplets/1002/metadata/v1/reserved_ip/ipv4/ip_address", 404, "", ""},
		{"/droplets/1002/metadata/v1/reserved_ip/ipv4/", 200, "active", ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			r := f.do(t, "GET", tc.path, "", "")
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %q", r.status, tc.status, r.body)
			}
			if tc.status == 200 && string(r.body) != tc.body {
				t.Fatalf("body %q, want %q", r.body, tc.body)
			}
			if got := r.header.Get("Location"); got != tc.location {
				t.Fatalf("location %q, want %q", got, tc.location)
			}
		})
	}
}

func TestMetadataJSON(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Assign("203.0.113.10", 1002)
	r := f.do(t, "GET", "/droplets/1002/metadata/v1.json", "", "")
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	wantJSON(t, r.body, `{
	  "droplet_id":1002,"hostname":"lb-b","vendor_data":"","public_keys":[],"auth_key":"","region":"nyc3",
	  "interfaces":{
	    "public":[{
	      "ipv4":{"ip_address":"198.51.100.12","netmask":"255.255.255.0","gateway":"198.51.100.1"},
	      "ipv6":{"ip_address":"2001:0DB8:0001:0000:0000:0000:0000:0012","cidr":64,"gateway":"2001:0DB8:0001:0000:0000:0000:0000:0001"},
	      "anchor_ipv4":{"ip_address":"10.17.0.12","netmask":"255.255.0.0","gateway":"10.17.0.1"},
	      "mac":"02:00:00:00:03:ea","type":"public"}],
	    "private":[{
	      "ipv4":{"ip_address":"10.108.0.12","netmask":"255.255.240.0","gateway":"0.0.0.0"},
	      "mac":"02:00:01:00:03:ea","type":"private"}]},
	  "floating_ip":{"ipv4":{"active":true,"ip_address":"203.0.113.10"}},
	  "reserved_ip":{"ipv4":{"active":true,"ip_address":"203.0.113.10"},"ipv6":{"active":false}},
	  "dns":{"nameservers":["67.207.67.2","67.207.67.3"]},
	  "tags":[],"features":{"dhcp_enabled":true}}`)
}

func TestMetadataWithoutAnchor(t *testing.T) {
	f := newFixture(t, func(w *World) { w.Droplets[0].AnchorIPv4 = "" })
	if r := f.do(t, "GET", "/droplets/1001/metadata/v1/interfaces/public/0/anchor_ipv4/address", "", ""); r.status != 404 {
		t.Fatalf("status %d, want 404 for a droplet without an anchor IP", r.status)
	}
}

// Metadata shows what completed actions left, not what is pending in the API.
func TestMetadataReflectsCompletedActionsOnly(t *testing.T) {
	f := newFixture(t, nil)
	f.assign(t, kindReserved, "203.0.113.10", 1001)
	if r := f.do(t, "GET", "/droplets/1001/metadata/v1/reserved_ip/ipv4/active", "", ""); string(r.body) != "false" {
		t.Fatalf("active %q while the assign is pending", r.body)
	}
	f.clk.Advance(time.Second)
	if r := f.do(t, "GET", "/droplets/1001/metadata/v1/reserved_ip/ipv4/active", "", ""); string(r.body) != "true" {
		t.Fatalf("active %q after the assign completed", r.body)
	}
}

// clientFrom makes an HTTP client whose connections come from a given loopback address, as requests from a
// droplet's namespace would.
func clientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func TestMetadataBySourceAddress(t *testing.T) {
	w := DemoWorld()
	w.Droplets[0].SourceAddrs = []string{"127.0.0.2"}
	w.Droplets[1].SourceAddrs = []string{"127.0.0.3"}
	s, err := New(w)
	if err != nil {
		t.Fatal(err)
	}
	s.Assign("203.0.113.10", 1002)
	srv := newServer(t, s)
	tests := []struct {
		src, path string
		status    int
		body      string
	}{
		{"127.0.0.2", "/metadata/v1/id", 200, "1001"},
		{"127.0.0.2", "/metadata/v1/reserved_ip/ipv4/active", 200, "false"},
		{"127.0.0.3", "/metadata/v1/id", 200, "1002"},
		{"127.0.0.3", "/metadata/v1/hostname", 200, "lb-b"},
		{"127.0.0.3", "/metadata/v1/reserved_ip/ipv4/ip_address", 200, "203.0.113.10"},
		{"127.0.0.3", "/metadata/v1/floating_ip", 301, ""},
		{"127.0.0.1", "/metadata/v1/id", 404, ""}, // no droplet has this address
		{"127.0.0.4", "/metadata/v1.json", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.src+tc.path, func(t *testing.T) {
			resp, err := clientFrom(tc.src).Get(srv.URL + tc.path)
			if err != nil {
				t.Skipf("cannot send from %s here: %v", tc.src, err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || (tc.status == 200 && string(b) != tc.body) {
				t.Fatalf("status %d body %q, want %d %q", resp.StatusCode, b, tc.status, tc.body)
			}
		})
	}
}

// A droplet is also recognised by its own addresses, so a world needs no SourceAddrs when the test network
// uses the droplets' addresses.
func TestMetadataMatchesDropletOwnAddress(t *testing.T) {
	s, err := New(DemoWorld())
	if err != nil {
		t.Fatal(err)
	}
	for src, want := range map[string]string{"10.17.0.12:4000": "1002", "198.51.100.11:5000": "1001", "[2001:db8:1::12]:80": "1002"} {
		req := httptest.NewRequest("GET", "/metadata/v1/id", nil)
		req.RemoteAddr = src
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Body.String() != want {
			t.Errorf("from %s: %d %q, want %s", src, rec.Code, rec.Body.String(), want)
		}
	}
}

func TestMetadataRequestsAreLoggedAsMetadata(t *testing.T) {
	f := newFixture(t, nil)
	f.do(t, "GET", "/droplets/1001/metadata/v1/id", "", "")
	f.get(t, "/v2/account")
	reqs := f.sim.Requests()
	if len(reqs) != 2 || !reqs[0].Metadata || reqs[1].Metadata || reqs[0].Status != 200 {
		t.Fatalf("log %+v", reqs)
	}
	st := f.sim.State()
	if st.Requests != 1 || st.MetadataRequests != 1 {
		t.Fatalf("state counts %d API %d metadata", st.Requests, st.MetadataRequests)
	}
}
