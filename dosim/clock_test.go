package dosim

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestClockOffsetMovesDateAndRateReset(t *testing.T) {
	for _, off := range []time.Duration{0, 10 * time.Minute, -10 * time.Minute} {
		t.Run(off.String(), func(t *testing.T) {
			f := newFixture(t, nil)
			f.sim.SetClockOffset(off)
			r := f.get(t, "/v2/reserved_ips/203.0.113.10")
			date, err := http.ParseTime(r.header.Get("Date"))
			if err != nil {
				t.Fatalf("Date %q: %v", r.header.Get("Date"), err)
			}
			if want := epoch.Add(off); !date.Equal(want) {
				t.Errorf("Date %v, want %v", date, want)
			}
			// The one request made is the oldest in the window: it leaves an hour after the server's now.
			reset, _ := strconv.ParseInt(r.header.Get("Ratelimit-Reset"), 10, 64)
			if want := epoch.Add(off).Add(time.Hour).Unix(); reset != want {
				t.Errorf("ratelimit-reset %d, want %d (an hour after the skewed now)", reset, want)
			}
			// Faulted answers carry the server's Date too.
			f.sim.AddFault(Fault{Times: 1, Status: 503})
			r = f.get(t, "/v2/reserved_ips/203.0.113.10")
			if got, _ := http.ParseTime(r.header.Get("Date")); !got.Equal(epoch.Add(off)) {
				t.Errorf("faulted answer's Date %q, want %v", r.header.Get("Date"), epoch.Add(off))
			}
		})
	}
}

func TestUseUpHour(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.SetClockOffset(5 * time.Minute) // the window is the server's: the offset must not matter
	f.sim.UseUpHour(DemoToken, 3*time.Second)
	r := f.get(t, "/v2/reserved_ips/203.0.113.10")
	wantError(t, r, http.StatusTooManyRequests, "too_many_requests", "API rate limit exceeded.")
	if r.header.Get("Retry-After") != "" {
		t.Errorf("retry-after %q on an hourly refusal, want none", r.header.Get("Retry-After"))
	}
	if got := r.header.Get("Ratelimit-Remaining"); got != "0" {
		t.Errorf("ratelimit-remaining %q, want 0", got)
	}
	reset, _ := strconv.ParseInt(r.header.Get("Ratelimit-Reset"), 10, 64)
	if want := epoch.Add(5*time.Minute + 3*time.Second).Unix(); reset != want {
		t.Errorf("ratelimit-reset %d, want %d", reset, want)
	}
	// Another token is not affected.
	if r := f.do(t, "GET", "/v2/reserved_ips/203.0.113.10", "read-only-token", ""); r.status != http.StatusOK {
		t.Errorf("another token: status %d", r.status)
	}
	f.clk.Advance(2 * time.Second)
	if r := f.get(t, "/v2/reserved_ips/203.0.113.10"); r.status != http.StatusTooManyRequests {
		t.Fatalf("before the reset: status %d, want 429", r.status)
	}
	f.clk.Advance(time.Second)
	r = f.get(t, "/v2/reserved_ips/203.0.113.10")
	if r.status != http.StatusOK {
		t.Fatalf("at the reset: status %d, want 200: %s", r.status, r.body)
	}
	if got := r.header.Get("Ratelimit-Remaining"); got != strconv.Itoa(DefaultRatePerHour-1) {
		t.Errorf("after the reset: remaining %s, want %d", got, DefaultRatePerHour-1)
	}
}

func TestClockControlAPI(t *testing.T) {
	f := newFixture(t, nil)
	if r := f.do(t, "PUT", "/_sim/clock", "", `{"offset":"-90s"}`); r.status != http.StatusNoContent {
		t.Fatalf("PUT /_sim/clock: %d %s", r.status, r.body)
	}
	if r := f.do(t, "POST", "/_sim/use-up-hour", "", `{"token":"`+DemoToken+`","reset_in":"4s"}`); r.status != http.StatusNoContent {
		t.Fatalf("POST /_sim/use-up-hour: %d %s", r.status, r.body)
	}
	r := f.get(t, "/v2/reserved_ips/203.0.113.10")
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", r.status)
	}
	date, _ := http.ParseTime(r.header.Get("Date"))
	reset, _ := strconv.ParseInt(r.header.Get("Ratelimit-Reset"), 10, 64)
	if !date.Equal(epoch.Add(-90*time.Second)) || reset != date.Add(4*time.Second).Unix() {
		t.Errorf("Date %v, reset %d: want the clock 90s behind and the reset 4s after it", date, reset)
	}
	for _, bad := range []struct{ path, body string }{
		{"/_sim/clock", `{"offset":"soon"}`},
		{"/_sim/clock", `{"ofset":"1s"}`},
		{"/_sim/use-up-hour", `{"reset_in":"1s"}`},
		{"/_sim/use-up-hour", `{"token":"x","reset_in":"-1s"}`},
	} {
		method := "POST"
		if bad.path == "/_sim/clock" {
			method = "PUT"
		}
		if r := f.do(t, method, bad.path, "", bad.body); r.status != http.StatusBadRequest {
			t.Errorf("%s %s: %d, want 400", bad.path, bad.body, r.status)
		}
	}
}
