package doapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	ip4 = netip.MustParseAddr("203.0.113.10")
	ip6 = netip.MustParseAddr("2001:db8:10::10")
)

func TestGetIPDecodes(t *testing.T) {
	tests := []struct {
		name  string
		ip    netip.Addr
		route string
		body  string
		want  IP
	}{
		{
			name: "reserved IPv4 held by a droplet", ip: ip4,
			route: "GET /v2/reserved_ips/203.0.113.10", body: reservedIPAssigned,
			want: IP{Addr: ip4, Region: "nyc3", DropletID: 1001, DropletName: "lb-a"},
		},
		{
			name: "reserved IPv4 unassigned while an action runs", ip: ip4,
			route: "GET /v2/reserved_ips/203.0.113.10", body: reservedIPUnassignedLocked,
			want: IP{Addr: ip4, Region: "nyc3", Locked: true},
		},
		{
			name: "IPv4-mapped address is asked for as IPv4", ip: netip.MustParseAddr("::ffff:203.0.113.10"),
			route: "GET /v2/reserved_ips/203.0.113.10", body: reservedIPAssigned,
			want: IP{Addr: ip4, Region: "nyc3", DropletID: 1001, DropletName: "lb-a"},
		},
		{
			name: "reserved IPv6", ip: ip6,
			route: "GET /v2/reserved_ipv6/2001:db8:10::10", body: reservedIPv6Assigned,
			want: IP{Addr: ip6, Region: "nyc3", DropletID: 1002, DropletName: "lb-b"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, map[string][]reply{tc.route: {{status: 200, body: tc.body}}})
			c, _ := f.client()
			got, err := c.GetIP(context.Background(), tc.ip)
			if err != nil {
				t.Fatal(err)
			}
			if *got != tc.want {
				t.Errorf("got %+v\nwant %+v", *got, tc.want)
			}
			if c.Requests() != 1 {
				t.Errorf("Requests() = %d, want 1", c.Requests())
			}
		})
	}
}

// wantAssignBody checks the POST the way DigitalOcean reads it: exactly two
// keys, droplet_id a JSON number (the classic hook sent a string).
func wantAssignBody(dropletID int) func(*testing.T, *http.Request, []byte) {
	return func(t *testing.T, r *http.Request, body []byte) {
		t.Helper()
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		want := map[string]string{"type": `"assign"`, "droplet_id": strconv.Itoa(dropletID)}
		if len(got) != len(want) {
			t.Errorf("body %s has keys %v, want exactly type and droplet_id", body, got)
		}
		for k, v := range want {
			if string(got[k]) != v {
				t.Errorf("body %s: %s = %s, want %s", body, k, got[k], v)
			}
		}
	}
}

func TestAssign(t *testing.T) {
	tests := []struct {
		name  string
		ip    netip.Addr
		route string
	}{
		{"IPv4", ip4, "POST /v2/reserved_ips/203.0.113.10/actions"},
		{"IPv6", ip6, "POST /v2/reserved_ipv6/2001:db8:10::10/actions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, map[string][]reply{
				tc.route: {{status: http.StatusCreated, body: actionInProgress, check: wantAssignBody(1001)}},
			})
			c, _ := f.client()
			a, err := c.Assign(context.Background(), tc.ip, 1001)
			if err != nil {
				t.Fatal(err)
			}
			want := Action{
				ID: 72531856, Status: "in-progress", Type: "assign_ip",
				StartedAt: time.Date(2026, 11, 25, 17, 51, 3, 0, time.UTC),
			}
			if !a.StartedAt.Equal(want.StartedAt) || a.ID != want.ID || a.Status != want.Status ||
				a.Type != want.Type || !a.CompletedAt.IsZero() {
				t.Errorf("got %+v\nwant %+v", *a, want)
			}
		})
	}
}

func TestGetAction(t *testing.T) {
	tests := []struct {
		name  string
		ip    netip.Addr
		route string
	}{
		{"IPv4 per-IP action", ip4, "GET /v2/reserved_ips/203.0.113.10/actions/72531856"},
		{"IPv6 has no per-IP action endpoint", ip6, "GET /v2/actions/72531856"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, map[string][]reply{tc.route: {{status: 200, body: actionCompleted}}})
			c, _ := f.client()
			a, err := c.GetAction(context.Background(), tc.ip, 72531856)
			if err != nil {
				t.Fatal(err)
			}
			if a.Status != "completed" || !a.CompletedAt.Equal(time.Date(2026, 11, 25, 17, 51, 14, 0, time.UTC)) {
				t.Errorf("got %+v", *a)
			}
		})
	}
}

func TestAPIErrors(t *testing.T) {
	const pending = "The floating IP already has a pending event."
	tests := []struct {
		name      string
		call      func(*Client) error
		route     string
		reply     reply
		requests  int // HTTP attempts expected
		sentinel  error
		kind      Kind
		wantError string // exact Error()
		hint      string // substring of Hint; "" = Hint must be empty
	}{
		{
			name: "422 pending event on assign", call: assign4, route: assignRoute4,
			reply:    reply{status: 422, body: errBody("unprocessable_entity", pending)},
			requests: 1, sentinel: ErrPendingEvent, kind: KindPendingEvent,
			wantError: "assign 203.0.113.10 to droplet 1001: 422 unprocessable: " + pending +
				" (request 9f1c2d3e-5b6a-4c7d-8e9f-0a1b2c3d4e5f)",
			hint: "still running",
		},
		{
			name: "422 droplet pending event", call: assign4, route: assignRoute4,
			reply:    reply{status: 422, body: errBody("unprocessable_entity", "Droplet already has a pending event")},
			requests: 1, sentinel: ErrPendingEvent, kind: KindPendingEvent,
			hint: "still running",
		},
		{
			name: "422 region mismatch", call: assign4, route: assignRoute4,
			reply: reply{status: 422, body: errBody("unprocessable_entity",
				"The droplet and the floating IP must be in the same region.")},
			requests: 1, sentinel: ErrUnprocessable, kind: KindUnprocessable,
			hint: "same region",
		},
		{
			name: "401 on read, no fallback", call: get4, route: "GET /v2/reserved_ips/203.0.113.10",
			reply:    reply{status: 401, body: errBody("unauthorized", "Unable to authenticate you")},
			requests: 1, sentinel: ErrUnauthorized, kind: KindUnauthorized,
			wantError: "get 203.0.113.10: 401 unauthorized: Unable to authenticate you (request 9f1c2d3e-5b6a-4c7d-8e9f-0a1b2c3d4e5f)",
			hint:      "revoked",
		},
		{
			name: "403 on assign", call: assign4, route: assignRoute4,
			reply:    reply{status: 403, body: errBody("forbidden", "You do not have access for the attempted action.")},
			requests: 1, sentinel: ErrForbidden, kind: KindForbidden,
			hint: "reserved_ip:update",
		},
		{
			name: "404 on IPv6 read", call: get6, route: "GET /v2/reserved_ipv6/2001:db8:10::10",
			reply:    reply{status: 404, body: errBody("not_found", "The resource you requested could not be found.")},
			requests: 1, sentinel: ErrNotFound, kind: KindNotFound,
			hint: "not in this account",
		},
		{
			name: "404 on action read", call: action4, route: "GET /v2/reserved_ips/203.0.113.10/actions/72531856",
			reply:    reply{status: 404, body: errBody("not_found", "The resource you requested could not be found.")},
			requests: 1, sentinel: ErrNotFound, kind: KindNotFound,
			hint: "not in this account",
		},
		{
			name: "429 after retries on assign", call: assign4, route: assignRoute4,
			reply: reply{status: 429, body: errBody("too_many_requests", "API rate limit exceeded."),
				headers: map[string]string{"Retry-After": "0"}},
			requests: 3, sentinel: ErrRateLimited, kind: KindRateLimited,
			hint: "shared by every user of the token",
		},
		{
			name: "HTML 502 on read, retried, reduced", call: get6, route: "GET /v2/reserved_ipv6/2001:db8:10::10",
			reply:    reply{status: 502, body: htmlBadGateway, ctype: "text/html"},
			requests: 3, sentinel: ErrServer, kind: KindServer,
			wantError: "get 2001:db8:10::10: 502 server error: non-JSON answer (text/html)",
		},
		{
			name: "500 on assign not retried", call: assign4, route: assignRoute4,
			reply:    reply{status: 500, body: errBody("server_error", "Server was unable to give you a response.")},
			requests: 1, sentinel: ErrServer, kind: KindServer,
		},
		{
			name: "long message capped", call: assign4, route: assignRoute4,
			reply:    reply{status: 400, body: errBody("bad_request", strings.Repeat("very long\n", 100))},
			requests: 1, kind: KindOther,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, map[string][]reply{tc.route: {tc.reply}})
			c, _ := f.client(func(o *Options) { o.RetryMax = 2 })
			err := tc.call(c)
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v (%T), want *APIError", err, err)
			}
			if ae.Kind != tc.kind || ae.Status != tc.reply.status {
				t.Errorf("kind/status = %v/%d, want %v/%d", ae.Kind, ae.Status, tc.kind, tc.reply.status)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.sentinel)
			}
			for _, other := range []error{ErrUnauthorized, ErrForbidden, ErrNotFound, ErrPendingEvent,
				ErrUnprocessable, ErrRateLimited, ErrServer} {
				if other != tc.sentinel && errors.Is(err, other) {
					t.Errorf("error also matches %v", other)
				}
			}
			if tc.wantError != "" && err.Error() != tc.wantError {
				t.Errorf("Error() =\n%q\nwant\n%q", err, tc.wantError)
			}
			if strings.ContainsAny(err.Error(), "\r\n") || len(ae.Message) > maxMessage {
				t.Errorf("error must be one line with a capped message: %q", err)
			}
			if got := Hint(err); (tc.hint == "") != (got == "") || !strings.Contains(got, tc.hint) {
				t.Errorf("Hint = %q, want it to contain %q", got, tc.hint)
			}
			if got := c.Requests(); got != int64(tc.requests) {
				t.Errorf("Requests() = %d, want %d", got, tc.requests)
			}
		})
	}
}

const assignRoute4 = "POST /v2/reserved_ips/203.0.113.10/actions"

func assign4(c *Client) error { _, err := c.Assign(context.Background(), ip4, 1001); return err }
func get4(c *Client) error    { _, err := c.GetIP(context.Background(), ip4); return err }
func get6(c *Client) error    { _, err := c.GetIP(context.Background(), ip6); return err }
func action4(c *Client) error { _, err := c.GetAction(context.Background(), ip4, 72531856); return err }

func TestRetryPolicy(t *testing.T) {
	const get = "GET /v2/reserved_ips/203.0.113.10"
	tooMany := reply{status: 429, body: errBody("too_many_requests", "API rate limit exceeded."),
		headers: map[string]string{"Retry-After": "0", "Ratelimit-Remaining": "0"}}
	tests := []struct {
		name     string
		call     func(*Client) error
		route    string
		replies  []reply
		requests int
		wantErr  bool
		netErr   bool // the error is a network error, not an APIError
	}{
		{
			name: "GET 5xx burst then success", call: get4, route: get,
			replies: []reply{
				{status: 500, body: errBody("server_error", "Server was unable to give you a response.")},
				{status: 503, body: "", ctype: "text/plain"},
				{status: 502, body: htmlBadGateway, ctype: "text/html"},
				{status: 200, body: reservedIPAssigned},
			},
			requests: 4,
		},
		{
			name: "GET 501 not retried", call: get4, route: get,
			replies:  []reply{{status: 501, body: errBody("not_implemented", "Not implemented.")}},
			requests: 1, wantErr: true,
		},
		{
			name: "GET 429 with retry-after then success", call: get4, route: get,
			replies:  []reply{tooMany, {status: 200, body: reservedIPAssigned}},
			requests: 2,
		},
		{
			name: "GET dropped connection retried", call: get4, route: get,
			replies:  []reply{{drop: true}, {drop: true}, {status: 200, body: reservedIPAssigned}},
			requests: 3,
		},
		{
			name: "GET gives up after RetryMax", call: get4, route: get,
			replies:  []reply{{status: 503, body: errBody("service_unavailable", "Service unavailable.")}},
			requests: 1 + 4, wantErr: true,
		},
		{
			name: "POST 429 retried", call: assign4, route: assignRoute4,
			replies:  []reply{tooMany, tooMany, {status: 201, body: actionInProgress, check: wantAssignBody(1001)}},
			requests: 3,
		},
		{
			name: "POST 500 not retried", call: assign4, route: assignRoute4,
			replies:  []reply{{status: 500, body: errBody("server_error", "Server was unable to give you a response.")}, {status: 201, body: actionInProgress}},
			requests: 1, wantErr: true,
		},
		{
			name: "POST 503 not retried", call: assign4, route: assignRoute4,
			replies:  []reply{{status: 503, body: htmlBadGateway, ctype: "text/html"}, {status: 201, body: actionInProgress}},
			requests: 1, wantErr: true,
		},
		{
			name: "POST dropped connection not retried", call: assign4, route: assignRoute4,
			replies:  []reply{{drop: true}, {status: 201, body: actionInProgress}},
			requests: 1, wantErr: true, netErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, map[string][]reply{tc.route: tc.replies})
			c, _ := f.client(func(o *Options) { o.RetryMax = 4 })
			err := tc.call(c)
			if got := f.count(tc.route); got != tc.requests {
				t.Errorf("server saw %d requests, want %d", got, tc.requests)
			}
			if got := c.Requests(); got != int64(tc.requests) {
				t.Errorf("Requests() = %d, want %d", got, tc.requests)
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				var ae *APIError
				if isAPI := errors.As(err, &ae); isAPI == tc.netErr {
					t.Errorf("err = %v (%T): APIError %v, want %v", err, err, isAPI, !tc.netErr)
				}
			}
		})
	}
}

func TestPerAttemptTimeoutRetriedOnGET(t *testing.T) {
	f := newFake(t, map[string][]reply{
		"GET /v2/reserved_ips/203.0.113.10": {{hang: true}, {status: 200, body: reservedIPAssigned}},
	})
	c, _ := f.client(func(o *Options) { o.AttemptTimeout = 20 * time.Millisecond })
	got, err := c.GetIP(context.Background(), ip4)
	if err != nil {
		t.Fatal(err)
	}
	if got.DropletID != 1001 || c.Requests() != 2 {
		t.Errorf("got %+v after %d requests, want droplet 1001 after 2", got, c.Requests())
	}
}

func TestRateLimitWaitPastDeadlineFailsFast(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		says    string // how long the error says the wait is
	}{
		{"retry-after", map[string]string{"Retry-After": "30"}, "again in 30s"},
		{"ratelimit-reset", map[string]string{
			"Ratelimit-Limit": "5000", "Ratelimit-Remaining": "0",
			"Ratelimit-Reset": strconv.FormatInt(time.Now().Add(40*time.Minute).Unix(), 10),
		}, "again in 40m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, map[string][]reply{
				assignRoute4: {{status: 429, body: errBody("too_many_requests", "API rate limit exceeded."), headers: tc.headers}},
			})
			c, logs := f.client()
			// The deadline is far enough that sleeping into it would show as
			// DeadlineExceeded instead of the 429 this test expects.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := c.Assign(ctx, ip4, 1001)
			if !errors.Is(err, ErrRateLimited) || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want the 429 without waiting", err)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("err = %v, want it to say when the API takes requests again (%q)", err, tc.says)
			}
			if ctx.Err() != nil {
				t.Errorf("the call waited until the deadline")
			}
			if c.Requests() != 1 {
				t.Errorf("Requests() = %d, want 1", c.Requests())
			}
			if !strings.Contains(logs.String(), "would pass the deadline") {
				t.Errorf("log does not say why it stopped:\n%s", logs)
			}
		})
	}
}

func TestCanceledContext(t *testing.T) {
	f := newFake(t, map[string][]reply{})
	c, _ := f.client()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.GetIP(ctx, ip4)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if c.Requests() != 0 {
		t.Errorf("Requests() = %d, want 0", c.Requests())
	}
}

func TestLegacyFallback(t *testing.T) {
	notFound := reply{status: 404, body: errBody("not_found", "The resource you requested could not be found.")}
	t.Run("floating endpoints remembered per IP", func(t *testing.T) {
		f := newFake(t, map[string][]reply{
			"GET /v2/reserved_ips/203.0.113.10":                  {notFound},
			"GET /v2/floating_ips/203.0.113.10":                  {{status: 200, body: floatingIPAssigned}},
			"POST /v2/floating_ips/203.0.113.10/actions":         {{status: 201, body: actionInProgress, check: wantAssignBody(1001)}},
			"GET /v2/floating_ips/203.0.113.10/actions/72531856": {{status: 200, body: actionCompleted}},
			"GET /v2/reserved_ips/203.0.113.11":                  {{status: 200, body: strings.Replace(reservedIPAssigned, "203.0.113.10", "203.0.113.11", 1)}},
		})
		c, _ := f.client()
		ctx := context.Background()
		got, err := c.GetIP(ctx, ip4)
		if err != nil {
			t.Fatal(err)
		}
		want := IP{Addr: ip4, Region: "nyc3", DropletID: 1002, DropletName: "lb-b", Legacy: true}
		if *got != want {
			t.Errorf("got %+v\nwant %+v", *got, want)
		}
		if _, err := c.GetIP(ctx, ip4); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Assign(ctx, ip4, 1001); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetAction(ctx, ip4, 72531856); err != nil {
			t.Fatal(err)
		}
		// Another IP is not affected.
		other, err := c.GetIP(ctx, netip.MustParseAddr("203.0.113.11"))
		if err != nil || other.Legacy {
			t.Fatalf("other IP: %+v, %v", other, err)
		}
		if n := f.count("GET /v2/reserved_ips/203.0.113.10"); n != 1 {
			t.Errorf("reserved_ips asked %d times, want once", n)
		}
		if n := f.count("GET /v2/floating_ips/203.0.113.10"); n != 2 {
			t.Errorf("floating_ips asked %d times, want 2", n)
		}
	})
	t.Run("403 falls back too", func(t *testing.T) {
		f := newFake(t, map[string][]reply{
			"GET /v2/reserved_ips/203.0.113.10": {{status: 403, body: errBody("forbidden", "You do not have access for the attempted action.")}},
			"GET /v2/floating_ips/203.0.113.10": {{status: 200, body: floatingIPAssigned}},
		})
		c, _ := f.client()
		got, err := c.GetIP(context.Background(), ip4)
		if err != nil || !got.Legacy {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("original error when the fallback fails too", func(t *testing.T) {
		f := newFake(t, map[string][]reply{
			"GET /v2/reserved_ips/203.0.113.10": {notFound},
			"GET /v2/floating_ips/203.0.113.10": {{status: 403, body: errBody("forbidden", "You do not have access for the attempted action.")}},
			"POST /v2/reserved_ips/203.0.113.10/actions": {{status: 404,
				body: errBody("not_found", "The resource you requested could not be found.")}},
			"POST /v2/floating_ips/203.0.113.10/actions": {{status: 404,
				body: errBody("not_found", "The resource you requested could not be found.")}},
		})
		c, _ := f.client()
		_, err := c.GetIP(context.Background(), ip4)
		if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrForbidden) {
			t.Fatalf("err = %v, want the first 404", err)
		}
		if c.Requests() != 2 {
			t.Errorf("Requests() = %d, want 2", c.Requests())
		}
		// Not remembered: the assign still goes to reserved_ips, then once to floating_ips.
		if _, err := c.Assign(context.Background(), ip4, 1001); !errors.Is(err, ErrNotFound) {
			t.Errorf("assign: %v", err)
		}
		if n := f.count("POST /v2/floating_ips/203.0.113.10/actions"); n != 1 {
			t.Errorf("floating_ips assign asked %d times, want once", n)
		}
	})
	// An assign can be the first request (the metadata service said the IP is elsewhere): a 404 from
	// reserved_ips sends it to floating_ips, which is remembered for the action reads.
	t.Run("an assign before any read falls back", func(t *testing.T) {
		f := newFake(t, map[string][]reply{
			"POST /v2/reserved_ips/203.0.113.10/actions":         {notFound},
			"POST /v2/floating_ips/203.0.113.10/actions":         {{status: 201, body: actionInProgress, check: wantAssignBody(1001)}},
			"GET /v2/floating_ips/203.0.113.10/actions/72531856": {{status: 200, body: actionCompleted}},
		})
		c, _ := f.client()
		a, err := c.Assign(context.Background(), ip4, 1001)
		if err != nil || a.ID != 72531856 {
			t.Fatalf("assign: %+v, %v", a, err)
		}
		if _, err := c.GetAction(context.Background(), ip4, a.ID); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a refusal from the old endpoint is the answer", func(t *testing.T) {
		f := newFake(t, map[string][]reply{
			"POST /v2/reserved_ips/203.0.113.10/actions": {notFound},
			"POST /v2/floating_ips/203.0.113.10/actions": {{status: 422,
				body: errBody("unprocessable_entity", "The floating IP already has a pending event.")}},
		})
		c, _ := f.client()
		if _, err := c.Assign(context.Background(), ip4, 1001); !errors.Is(err, ErrPendingEvent) {
			t.Fatalf("assign: %v, want the old endpoint's pending event", err)
		}
	})
}

func TestTokenNeverInErrorsOrDebugLog(t *testing.T) {
	f := newFake(t, map[string][]reply{
		"GET /v2/reserved_ips/203.0.113.10": {
			{drop: true},
			{status: 503, body: htmlBadGateway, ctype: "text/html"},
			{status: 429, body: errBody("too_many_requests", "API rate limit exceeded."), headers: map[string]string{"Retry-After": "0"}},
			{status: 401, body: errBody("unauthorized", "Unable to authenticate you")},
		},
		assignRoute4:                            {{drop: true}},
		"GET /v2/reserved_ipv6/2001:db8:10::10": {{status: 500, body: errBody("server_error", "oops")}},
	})
	c, logs := f.client(func(o *Options) { o.RetryMax = 1 })
	var errs []error
	for _, call := range []func(*Client) error{get4, get4, assign4, get6} {
		errs = append(errs, call(c))
	}
	for _, err := range errs {
		if err == nil {
			t.Fatal("expected every call to fail")
		}
		if strings.Contains(err.Error(), testToken) || strings.Contains(Hint(err), testToken) {
			t.Errorf("token in error %q", err)
		}
	}
	out := logs.String()
	if strings.Contains(out, testToken) || strings.Contains(strings.ToLower(out), "bearer") {
		t.Errorf("token or Authorization header in the log:\n%s", out)
	}
	// The log must actually hold the retries, or this test proves nothing.
	var retries int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if ev["message"] == "retrying API request" {
			retries++
			for _, k := range []string{"attempt", "status", "wait_ms", "path", "method"} {
				if _, ok := ev[k]; !ok {
					t.Errorf("retry line without %s: %s", k, line)
				}
			}
		}
	}
	if retries < 3 {
		t.Errorf("log holds %d retry lines, want at least 3:\n%s", retries, out)
	}
	if !strings.Contains(out, "retryablehttp") {
		t.Errorf("go-retryablehttp's lines should go through the logger too:\n%s", out)
	}
}

func TestRate(t *testing.T) {
	reset := time.Now().Add(42 * time.Second).Truncate(time.Second)
	f := newFake(t, map[string][]reply{
		"GET /v2/reserved_ips/203.0.113.10": {{status: 200, body: reservedIPAssigned, headers: map[string]string{
			"Ratelimit-Limit": "5000", "Ratelimit-Remaining": "4321",
			"Ratelimit-Reset": strconv.FormatInt(reset.Unix(), 10),
		}}},
	})
	c, _ := f.client()
	if _, err := c.GetIP(context.Background(), ip4); err != nil {
		t.Fatal(err)
	}
	r := c.Rate()
	if r.Limit != 5000 || r.Remaining != 4321 || !r.Reset.Equal(reset) {
		t.Errorf("Rate() = %+v, want 5000/4321/%v", r, reset)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	elsewhere := newFake(t, map[string][]reply{})
	f := newFake(t, map[string][]reply{
		"GET /v2/reserved_ips/203.0.113.10": {{status: 302, body: "",
			headers: map[string]string{"Location": elsewhere.srv.URL + "/steal"}}},
	})
	c, _ := f.client()
	_, err := c.GetIP(context.Background(), ip4)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 302 {
		t.Fatalf("err = %v, want an APIError with status 302", err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		wantErr error
		errText string
	}{
		{name: "default URL", o: Options{Token: testToken}},
		{name: "https", o: Options{Token: testToken, BaseURL: "https://api.example.test/"}},
		{name: "http refused", o: Options{Token: testToken, BaseURL: "http://127.0.0.1:8080"}, wantErr: ErrInsecureURL},
		{name: "http allowed", o: Options{Token: testToken, BaseURL: "http://127.0.0.1:8080", AllowInsecure: true}},
		{name: "no token", o: Options{}, errText: "no API token"},
		{name: "other scheme", o: Options{Token: testToken, BaseURL: "ftp://api.example.test"}, errText: "scheme"},
		{name: "no host", o: Options{Token: testToken, BaseURL: "https://"}, errText: "no host"},
		{name: "credentials in URL", o: Options{Token: testToken, BaseURL: "https://u:p@api.example.test"}, errText: "credentials"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.o)
			switch {
			case tc.wantErr == nil && tc.errText == "":
				if err != nil || c == nil {
					t.Fatalf("New: %v", err)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) || Hint(err) == "" {
					t.Fatalf("err = %v (hint %q), want %v with a hint", err, Hint(err), tc.wantErr)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("err = %v, want %q", err, tc.errText)
				}
			}
			if err != nil && strings.Contains(err.Error(), testToken) {
				t.Errorf("token in error %q", err)
			}
		})
	}
}

func TestBaseURLWithPathPrefix(t *testing.T) {
	f := newFake(t, map[string][]reply{
		"GET /api/v2/reserved_ips/203.0.113.10": {{status: 200, body: reservedIPAssigned}},
	})
	c, _ := f.client(func(o *Options) { o.BaseURL = f.srv.URL + "/api" })
	if _, err := c.GetIP(context.Background(), ip4); err != nil {
		t.Fatal(err)
	}
}

func TestBadArguments(t *testing.T) {
	f := newFake(t, map[string][]reply{})
	c, _ := f.client()
	ctx := context.Background()
	if _, err := c.GetIP(ctx, netip.Addr{}); err == nil {
		t.Error("GetIP of the zero Addr succeeded")
	}
	if _, err := c.Assign(ctx, ip4, 0); err == nil || !strings.Contains(err.Error(), "droplet id") {
		t.Errorf("Assign to droplet 0: %v", err)
	}
	if _, err := c.GetAction(ctx, ip4, 0); err == nil {
		t.Error("GetAction 0 succeeded")
	}
	if c.Requests() != 0 {
		t.Errorf("Requests() = %d, want 0", c.Requests())
	}
}

func TestGarbageSuccessBody(t *testing.T) {
	f := newFake(t, map[string][]reply{
		"GET /v2/reserved_ips/203.0.113.10": {{status: 200, body: "<html>hello</html>", ctype: "text/html"}},
	})
	c, _ := f.client()
	_, err := c.GetIP(context.Background(), ip4)
	if err == nil || !strings.HasPrefix(err.Error(), "get 203.0.113.10: ") {
		t.Fatalf("err = %v, want a decoding error naming the IP", err)
	}
}

func TestZeroLoggerRetriesQuietly(t *testing.T) {
	f := newFake(t, map[string][]reply{
		"GET /v2/reserved_ips/203.0.113.10": {{drop: true}, {status: 200, body: reservedIPAssigned}},
	})
	c, err := New(Options{Token: testToken, BaseURL: f.srv.URL, AllowInsecure: true, UserAgent: testUA,
		RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetIP(context.Background(), ip4); err != nil || c.Requests() != 2 {
		t.Fatalf("err = %v after %d requests, want success after 2", err, c.Requests())
	}
}

func TestUntrustedCertificateIsFinal(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a request got through an untrusted TLS connection: %s %s", r.Method, r.URL.Path)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c, err := New(Options{Token: testToken, BaseURL: srv.URL, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetIP(context.Background(), ip4)
	if !errors.Is(err, ErrCertificate) || !strings.Contains(err.Error(), "x509: certificate signed by unknown authority") {
		t.Fatalf("err = %v, want ErrCertificate with the x509 cause", err)
	}
	if c.Requests() != 1 {
		t.Errorf("Requests() = %d, want 1: asking again does not make a certificate trusted", c.Requests())
	}
	if !strings.Contains(Hint(err), "never skips") {
		t.Errorf("hint %q", Hint(err))
	}
}

// An answer about another address than the one asked for (another IP, the other family, a mapped form that is
// not this IP) is not acted on: it is an unexpected answer, not a holder to believe.
func TestGetIPAnswerForAnotherAddress(t *testing.T) {
	tests := []struct {
		name     string
		ip       netip.Addr
		route    string
		body     string
		wantErr  string // "" for success
		wantAddr netip.Addr
	}{
		{name: "IPv6 where an IPv4 was asked", ip: ip4, route: "GET /v2/reserved_ips/203.0.113.10",
			body:    strings.Replace(reservedIPAssigned, `"ip": "203.0.113.10"`, `"ip": "2001:db8:10::10"`, 1),
			wantErr: "answer is about 2001:db8:10::10"},
		{name: "IPv4 where an IPv6 was asked", ip: ip6, route: "GET /v2/reserved_ipv6/2001:db8:10::10",
			body:    strings.Replace(reservedIPv6Assigned, `"ip": "2001:db8:10::10"`, `"ip": "203.0.113.10"`, 1),
			wantErr: "answer is about 203.0.113.10"},
		{name: "another IPv4", ip: ip4, route: "GET /v2/reserved_ips/203.0.113.10",
			body:    strings.Replace(reservedIPAssigned, `"ip": "203.0.113.10"`, `"ip": "203.0.113.11"`, 1),
			wantErr: "answer is about 203.0.113.11"},
		{name: "no address at all", ip: ip4, route: "GET /v2/reserved_ips/203.0.113.10",
			body:    strings.Replace(reservedIPAssigned, `"ip": "203.0.113.10",`, ``, 1),
			wantErr: "answer names no IP"},
		{name: "the IPv4 in its mapped form", ip: ip4, route: "GET /v2/reserved_ips/203.0.113.10",
			body:     strings.Replace(reservedIPAssigned, `"ip": "203.0.113.10"`, `"ip": "::ffff:203.0.113.10"`, 1),
			wantAddr: ip4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.body == reservedIPAssigned || tc.body == reservedIPv6Assigned {
				t.Fatal("the test body was not changed")
			}
			f := newFake(t, map[string][]reply{tc.route: {{status: 200, body: tc.body}}})
			c, _ := f.client()
			got, err := c.GetIP(context.Background(), tc.ip)
			if tc.wantErr == "" {
				if err != nil || got.Addr != tc.wantAddr {
					t.Fatalf("GetIP = %+v, %v; want %v", got, err, tc.wantAddr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "get "+tc.ip.String()+": ") {
				t.Fatalf("GetIP = %+v, %v; want an error saying %q", got, err, tc.wantErr)
			}
		})
	}
}
