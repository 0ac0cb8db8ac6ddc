package dosim

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func header(t *testing.T, r reply, name string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(r.header.Get(name), 10, 64)
	if err != nil {
		t.Fatalf("%s %q: %v", name, r.header.Get(name), err)
	}
	return v
}

func TestRateLimitHeaders(t *testing.T) {
	f := newFixture(t, nil)
	first := f.get(t, "/v2/account")
	f.clk.Advance(10 * time.Second)
	second := f.get(t, "/v2/reserved_ips/203.0.113.10")
	if header(t, first, "Ratelimit-Limit") != 5000 || header(t, second, "Ratelimit-Limit") != 5000 {
		t.Fatal("ratelimit-limit is not the hourly limit")
	}
	if header(t, first, "Ratelimit-Remaining") != 4999 || header(t, second, "Ratelimit-Remaining") != 4998 {
		t.Fatalf("remaining %d then %d, want 4999 then 4998",
			header(t, first, "Ratelimit-Remaining"), header(t, second, "Ratelimit-Remaining"))
	}
	// Reset is when the oldest request in the window expires: the first one, an hour after it was made.
	want := epoch.Add(time.Hour).Unix()
	if header(t, first, "Ratelimit-Reset") != want || header(t, second, "Ratelimit-Reset") != want {
		t.Fatalf("reset %d and %d, want %d", header(t, first, "Ratelimit-Reset"), header(t, second, "Ratelimit-Reset"), want)
	}
}

func TestBurstLimit(t *testing.T) {
	f := newFixture(t, func(w *World) { w.RatePerMinute = 3; w.RatePerHour = 100 })
	for i := 0; i < 3; i++ {
		if r := f.get(t, "/v2/account"); r.status != 200 {
			t.Fatalf("request %d: status %d", i, r.status)
		}
		f.clk.Advance(10 * time.Second)
	}
	r := f.get(t, "/v2/reserved_ips/203.0.113.10")
	wantError(t, r, http.StatusTooManyRequests, "too_many_requests", "API rate limit exceeded.")
	// The oldest of the three was 30 s ago, so the minute window frees a slot in 30 s.
	if got := header(t, r, "Retry-After"); got != 30 {
		t.Fatalf("retry-after %d, want 30", got)
	}
	if header(t, r, "Ratelimit-Remaining") != 97 {
		t.Fatalf("remaining %d, want 97 (refused requests do not count)", header(t, r, "Ratelimit-Remaining"))
	}
	// Writes are refused too, and nothing happens.
	wantError(t, f.post(t, "/v2/reserved_ips/203.0.113.10/actions", `{"type":"assign","droplet_id":1001}`),
		429, "too_many_requests", "API rate limit exceeded.")
	if f.sim.Locked("203.0.113.10") {
		t.Fatal("a rate-limited POST started an action")
	}

	f.clk.Advance(30 * time.Second)
	if r := f.get(t, "/v2/account"); r.status != 200 {
		t.Fatalf("after waiting retry-after: status %d", r.status)
	}
}

func TestHourlyLimit(t *testing.T) {
	f := newFixture(t, func(w *World) { w.RatePerMinute = 100; w.RatePerHour = 2 })
	f.get(t, "/v2/account")
	f.clk.Advance(20 * time.Minute)
	f.get(t, "/v2/account")
	f.clk.Advance(20 * time.Minute)
	r := f.get(t, "/v2/account")
	wantError(t, r, 429, "too_many_requests", "API rate limit exceeded.")
	if r.header.Get("Retry-After") != "" {
		t.Fatal("hourly refusal carries retry-after; DigitalOcean sends it on the burst limit")
	}
	if header(t, r, "Ratelimit-Remaining") != 0 || header(t, r, "Ratelimit-Reset") != epoch.Add(time.Hour).Unix() {
		t.Fatalf("remaining %s reset %s", r.header.Get("Ratelimit-Remaining"), r.header.Get("Ratelimit-Reset"))
	}
	f.clk.Advance(20 * time.Minute) // the first request leaves the window
	if r := f.get(t, "/v2/account"); r.status != 200 {
		t.Fatalf("after the oldest expired: status %d", r.status)
	}
}

func TestRateLimitIsPerToken(t *testing.T) {
	f := newFixture(t, func(w *World) {
		w.RatePerMinute = 1
		w.Tokens = append(w.Tokens, "second-token")
	})
	if r := f.get(t, "/v2/account"); r.status != 200 {
		t.Fatal(r.status)
	}
	if r := f.get(t, "/v2/account"); r.status != 429 {
		t.Fatalf("second request on one token: status %d", r.status)
	}
	if r := f.do(t, "GET", "/v2/account", "second-token", ""); r.status != 200 {
		t.Fatalf("other token: status %d", r.status)
	}
}

func TestControlAndMetadataAreNotRateLimited(t *testing.T) {
	f := newFixture(t, func(w *World) { w.RatePerMinute = 1 })
	f.get(t, "/v2/account")
	for i := 0; i < 3; i++ {
		r := f.do(t, "GET", "/_sim/state", "", "")
		if r.status != 200 || r.header.Get("Ratelimit-Limit") != "" {
			t.Fatalf("control: status %d, ratelimit-limit %q", r.status, r.header.Get("Ratelimit-Limit"))
		}
		if r := f.do(t, "GET", "/droplets/1001/metadata/v1/id", "", ""); r.status != 200 {
			t.Fatalf("metadata: status %d", r.status)
		}
	}
}
