package metadata

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// v1JSON is /metadata/v1.json as a droplet holding a reserved IPv4 sees it
// (shape from DigitalOcean's metadata reference; keys and nesting unchanged).
const v1JSON = `{
  "droplet_id": 1001,
  "hostname": "lb-a",
  "vendor_data": "#cloud-config\ndisable_root: false\n",
  "public_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample demo@example"],
  "auth_key": "88888888888888888888888888888888",
  "region": "nyc3",
  "interfaces": {
    "private": [
      {"ipv4": {"ip_address": "10.132.0.2", "netmask": "255.255.0.0", "gateway": "0.0.0.0"},
       "mac": "04:01:2a:0f:2a:02", "type": "private"}
    ],
    "public": [
      {"ipv4": {"ip_address": "192.0.2.21", "netmask": "255.255.255.0", "gateway": "192.0.2.1"},
       "ipv6": {"ip_address": "2001:db8:0:1::21", "cidr": 64, "gateway": "2001:db8:0:1::1"},
       "anchor_ipv4": {"ip_address": "10.17.0.160", "netmask": "255.255.0.0", "gateway": "10.17.0.1"},
       "mac": "04:01:2a:0f:2a:01", "type": "public"}
    ]
  },
  "floating_ip": {"ipv4": {"active": true, "ip_address": "203.0.113.10"}},
  "reserved_ip": {"ipv4": {"active": true, "ip_address": "203.0.113.10"}, "ipv6": {"active": false}},
  "dns": {"nameservers": ["2001:4860:4860::8844", "8.8.8.8"]},
  "tags": ["lb"],
  "features": {"dhcp_enabled": false},
  "user_data": ""
}`

// serve starts a metadata fake answering exactly the given paths; any other
// path fails the test, so a client asking for the wrong thing cannot pass.
func serve(t *testing.T, routes map[string]http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			t.Errorf("unexpected method %s %s", r.Method, r.URL.Path)
		}
		h, ok := routes[r.URL.Path]
		if !ok {
			t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func text(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(body))
	}
}

// fast keeps retry waits in milliseconds.
func fast(base string, more ...Option) *Client {
	opts := append([]Option{WithBaseURL(base), WithRetryWait(time.Millisecond)}, more...)
	return NewClient(opts...)
}

func TestGetDecodesV1JSON(t *testing.T) {
	srv := serve(t, map[string]http.HandlerFunc{"/metadata/v1.json": text(v1JSON)})
	m, err := fast(srv.URL).Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := Metadata{
		DropletID:    1001,
		Hostname:     "lb-a",
		Region:       "nyc3",
		AnchorIPv4:   "10.17.0.160",
		PublicIPv6:   "2001:db8:0:1::21",
		ReservedIPv4: ReservedIP{Active: true, IP: "203.0.113.10"},
		ReservedIPv6: ReservedIP{},
	}
	if *m != want {
		t.Fatalf("got %+v\nwant %+v", *m, want)
	}
}

func TestGetWithoutAnchorOrReservedIP(t *testing.T) {
	// A custom-image droplet: no anchor_ipv4, nothing reserved.
	body := `{"droplet_id": 1002, "hostname": "lb-b", "region": "nyc3",
	  "interfaces": {"public": [{"ipv4": {"ip_address": "192.0.2.22"}, "type": "public"}]},
	  "floating_ip": {"ipv4": {"active": false}},
	  "reserved_ip": {"ipv4": {"active": false}, "ipv6": {"active": true, "ip_address": "2001:db8:10::10"}}}`
	srv := serve(t, map[string]http.HandlerFunc{"/metadata/v1.json": text(body)})
	m, err := fast(srv.URL).Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m.AnchorIPv4 != "" || m.ReservedIPv4.Active {
		t.Errorf("got %+v, want no anchor and no IPv4", *m)
	}
	if m.ReservedIPv6 != (ReservedIP{Active: true, IP: "2001:db8:10::10"}) {
		t.Errorf("ReservedIPv6 = %+v", m.ReservedIPv6)
	}
}

func TestDropletID(t *testing.T) {
	srv := serve(t, map[string]http.HandlerFunc{"/metadata/v1/id": text("1001\n")})
	id, err := fast(srv.URL).DropletID(context.Background())
	if err != nil || id != 1001 {
		t.Fatalf("DropletID = %d, %v; want 1001", id, err)
	}
}

func TestBaseURLWithPathPrefix(t *testing.T) {
	srv := serve(t, map[string]http.HandlerFunc{
		"/droplets/1002/metadata/v1/id":   text("1002"),
		"/droplets/1002/metadata/v1.json": text(strings.Replace(v1JSON, "1001", "1002", 1)),
	})
	for _, base := range []string{srv.URL + "/droplets/1002", srv.URL + "/droplets/1002/"} {
		c := fast(base)
		id, err := c.DropletID(context.Background())
		if err != nil || id != 1002 {
			t.Fatalf("%s: DropletID = %d, %v", base, id, err)
		}
		m, err := c.Get(context.Background())
		if err != nil || m.DropletID != 1002 {
			t.Fatalf("%s: Get = %+v, %v", base, m, err)
		}
	}
}

func TestBadAnswers(t *testing.T) {
	long := strings.Repeat("x", 500)
	tests := []struct {
		name     string
		path     string
		handler  http.HandlerFunc
		call     func(*Client) error
		wantText []string
		notText  []string
	}{
		{
			name: "id not a number", path: "/metadata/v1/id",
			handler: text("<html>captive portal</html>"),
			call:    callID,
			wantText: []string{"metadata GET /metadata/v1/id", "not a positive number",
				"captive portal"},
		},
		{
			name: "id zero", path: "/metadata/v1/id", handler: text("0"), call: callID,
			wantText: []string{"not a positive number"},
		},
		{
			name: "garbage json", path: "/metadata/v1.json", handler: text("{\"droplet_id\": 10"),
			call: callGet, wantText: []string{"metadata GET /metadata/v1.json", "not metadata JSON"},
		},
		{
			name: "json without droplet id", path: "/metadata/v1.json", handler: text(`{"hostname":"x"}`),
			call: callGet, wantText: []string{"no droplet_id"},
		},
		{
			name: "404 body capped to one line", path: "/metadata/v1/id",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "not\nfound "+long, http.StatusNotFound)
			},
			call:     callID,
			wantText: []string{"404 not found: not found xxx"},
			notText:  []string{"\n", strings.Repeat("x", 200)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, map[string]http.HandlerFunc{tc.path: tc.handler})
			err := tc.call(fast(srv.URL))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("error %q does not match ErrUnavailable", err)
			}
			for _, s := range tc.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			for _, s := range tc.notText {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains %q", err, s)
				}
			}
		})
	}
}

func callID(c *Client) error  { _, err := c.DropletID(context.Background()); return err }
func callGet(c *Client) error { _, err := c.Get(context.Background()); return err }

// counted answers with the given statuses in turn, then 200 with body.
func counted(n *atomic.Int32, statuses []int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i < len(statuses) {
			http.Error(w, http.StatusText(statuses[i]), statuses[i])
			return
		}
		_, _ = w.Write([]byte(body))
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []int
		attempts  int
		wantErr   string // "" = success
		wantCalls int32
	}{
		{"5xx then success", []int{500, 503}, 3, "", 3},
		{"5xx exhausts attempts", []int{502, 502, 502, 502}, 3, "502 bad gateway", 3},
		{"404 never retried", []int{404, 404}, 3, "404 not found", 1},
		{"403 never retried", []int{403}, 3, "403 forbidden", 1},
		{"one attempt only", []int{500}, 1, "500 internal server error", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := serve(t, map[string]http.HandlerFunc{"/metadata/v1/id": counted(&n, tc.statuses, "1001")})
			id, err := fast(srv.URL, WithAttempts(tc.attempts)).DropletID(context.Background())
			if got := n.Load(); got != tc.wantCalls {
				t.Errorf("requests = %d, want %d", got, tc.wantCalls)
			}
			if tc.wantErr == "" {
				if err != nil || id != 1001 {
					t.Fatalf("DropletID = %d, %v", id, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v, want %q matching ErrUnavailable", err, tc.wantErr)
			}
		})
	}
}

func TestConnectionRefusedRetriedThenFails(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there any more
	_, err := fast(base).DropletID(context.Background())
	if err == nil || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "/metadata/v1/id") || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q should be one line naming the path", err)
	}
}

// hang answers only when the client gives up, like a metadata service that
// accepts the connection and never replies.
func hang(n *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		<-r.Context().Done()
	}
}

func TestPerRequestTimeoutRetried(t *testing.T) {
	var n atomic.Int32
	srv := serve(t, map[string]http.HandlerFunc{"/metadata/v1/id": hang(&n)})
	c := fast(srv.URL, WithHTTPClient(&http.Client{Timeout: 20 * time.Millisecond}))
	_, err := c.DropletID(context.Background())
	if err == nil || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "Client.Timeout") {
		t.Errorf("error %q should say it timed out", err)
	}
	if got := n.Load(); got != 3 {
		t.Errorf("requests = %d, want 3 (timeouts are retried)", got)
	}
}

func TestContextDeadlineStopsEverything(t *testing.T) {
	var n atomic.Int32
	srv := serve(t, map[string]http.HandlerFunc{"/metadata/v1.json": hang(&n)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := fast(srv.URL, WithAttempts(100)).Get(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want DeadlineExceeded and ErrUnavailable", err)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("requests = %d, want 1 (nothing after the deadline)", got)
	}
}

func TestNoRetryWhenWaitPassesDeadline(t *testing.T) {
	var n atomic.Int32
	srv := serve(t, map[string]http.HandlerFunc{"/metadata/v1/id": counted(&n, []int{500, 500}, "1001")})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := NewClient(WithBaseURL(srv.URL), WithRetryWait(time.Hour)).DropletID(ctx)
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("err = %v, want the 500 at once", err)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("requests = %d, want 1", got)
	}
}

func TestCanceledContextSendsNothing(t *testing.T) {
	var n atomic.Int32
	srv := serve(t, map[string]http.HandlerFunc{"/metadata/v1/id": counted(&n, nil, "1001")})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := fast(srv.URL).DropletID(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got := n.Load(); got != 0 {
		t.Errorf("requests = %d, want 0", got)
	}
}

func TestDefaults(t *testing.T) {
	c := NewClient()
	if c.baseURL != "http://169.254.169.254" || c.attempts != 3 || c.retryWait != 100*time.Millisecond {
		t.Errorf("defaults = %q %d %v", c.baseURL, c.attempts, c.retryWait)
	}
	if c.http.Timeout != 2*time.Second {
		t.Errorf("timeout = %v, want 2s", c.http.Timeout)
	}
	tr, ok := c.http.Transport.(*http.Transport)
	if !ok || tr.Proxy != nil {
		t.Errorf("the metadata client must not use a proxy")
	}
}
