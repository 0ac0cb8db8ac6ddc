package doapi

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestWaitFor(t *testing.T) {
	now := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	const lo, hi = 10 * time.Millisecond, 80 * time.Millisecond
	tr := &retryTransport{waitMin: lo, waitMax: hi}
	unix := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	tests := []struct {
		name    string
		status  int
		headers map[string]string
		exact   time.Duration // 0 = expect exponential backoff within [lo, hi]
	}{
		{name: "retry-after seconds", status: 429, headers: map[string]string{"Retry-After": "3"}, exact: 3 * time.Second},
		{name: "retry-after wins over reset", status: 429,
			headers: map[string]string{"Retry-After": "2", "Ratelimit-Remaining": "0", "Ratelimit-Reset": unix(time.Minute)},
			exact:   2 * time.Second},
		{name: "retry-after as HTTP date", status: 429,
			headers: map[string]string{"Retry-After": now.Add(7 * time.Second).Format(http.TimeFormat)}, exact: 7 * time.Second},
		{name: "window used up: until reset", status: 429,
			headers: map[string]string{"Ratelimit-Remaining": "0", "Ratelimit-Reset": unix(42 * time.Second)},
			exact:   42 * time.Second},
		{name: "reset in the past (clock skew): exponential", status: 429,
			headers: map[string]string{"Ratelimit-Remaining": "0", "Ratelimit-Reset": unix(-time.Minute)}},
		{name: "window not used up: exponential", status: 429,
			headers: map[string]string{"Ratelimit-Remaining": "17", "Ratelimit-Reset": unix(time.Minute)}},
		{name: "garbage retry-after: exponential", status: 429, headers: map[string]string{"Retry-After": "soon"}},
		{name: "absurd retry-after capped", status: 429, headers: map[string]string{"Retry-After": "999999"}, exact: maxHeaderWait},
		{name: "retry-after only honoured on 429", status: 503, headers: map[string]string{"Retry-After": "30"}},
		// The server's Date says what its clock reads: ratelimit-reset is measured against it, so a droplet
		// whose clock is off neither gives up on a wait that fits nor retries into a window still closed.
		{name: "server clock 10 min ahead: reset measured from its Date", status: 429,
			headers: map[string]string{"Date": now.Add(10 * time.Minute).Format(http.TimeFormat),
				"Ratelimit-Remaining": "0", "Ratelimit-Reset": unix(10*time.Minute + 2*time.Second)},
			exact: 2 * time.Second},
		{name: "server clock 10 min behind: reset measured from its Date", status: 429,
			headers: map[string]string{"Date": now.Add(-10 * time.Minute).Format(http.TimeFormat),
				"Ratelimit-Remaining": "0", "Ratelimit-Reset": unix(-10*time.Minute + 2*time.Second)},
			exact: 2 * time.Second},
		{name: "retry-after as HTTP date, measured from the server's Date", status: 429,
			headers: map[string]string{"Date": now.Add(-time.Hour).Format(http.TimeFormat),
				"Retry-After": now.Add(-time.Hour + 5*time.Second).Format(http.TimeFormat)},
			exact: 5 * time.Second},
		{name: "garbage Date: own clock", status: 429,
			headers: map[string]string{"Date": "yesterday", "Ratelimit-Remaining": "0", "Ratelimit-Reset": unix(4 * time.Second)},
			exact:   4 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
			for k, v := range tc.headers {
				resp.Header.Set(k, v)
			}
			for attempt := 1; attempt <= 6; attempt++ {
				got := tr.waitFor(attempt, resp, now)
				// The server's wait plus a spread of up to a quarter of it (at most maxSpread).
				if top := tc.exact + min(tc.exact/4, maxSpread); tc.exact != 0 && (got < tc.exact || got > top) {
					t.Fatalf("attempt %d: wait %v, want %v to %v", attempt, got, tc.exact, top)
				}
				if tc.exact == 0 && (got < lo || got > hi) {
					t.Fatalf("attempt %d: wait %v outside [%v, %v]", attempt, got, lo, hi)
				}
			}
		})
	}
	if got := tr.waitFor(1, nil, now); got != lo {
		t.Errorf("connection error, first retry: %v, want %v", got, lo)
	}
}

// A fleet refused by one burst is told nearly the same retry-after: the spread sends its members back over
// several seconds instead of in the same one.
func TestServerWaitIsSpread(t *testing.T) {
	tr := &retryTransport{waitMin: time.Millisecond, waitMax: time.Second}
	resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": []string{"58"}}}
	lo, hi := time.Hour, time.Duration(0)
	for range 200 {
		d := tr.waitFor(1, resp, time.Now())
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 58*time.Second || hi > 68*time.Second {
		t.Fatalf("waits from %v to %v, want within 58s to 68s", lo, hi)
	}
	if hi-lo < 5*time.Second {
		t.Fatalf("200 waits span only %v, want the fleet spread over several seconds", hi-lo)
	}
}

func TestJitterGrowsAndStaysInBounds(t *testing.T) {
	const lo, hi = 10 * time.Millisecond, 80 * time.Millisecond
	for attempt := 1; attempt <= 10; attempt++ {
		ceil := min(lo<<(attempt-1), hi)
		var top time.Duration
		for range 500 {
			d := jitter(attempt, lo, hi)
			if d < lo || d > ceil {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, lo, ceil)
			}
			top = max(top, d)
		}
		// Full jitter spreads over the whole range; 500 draws reach its top half.
		if attempt > 1 && top < lo+(ceil-lo)/2 {
			t.Errorf("attempt %d: largest of 500 waits %v, want spread up to %v", attempt, top, ceil)
		}
	}
	if got := jitter(3, hi, lo); got != hi {
		t.Errorf("max below min: %v, want %v", got, hi)
	}
}
