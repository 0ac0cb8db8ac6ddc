package dosim

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// rateResult is what the limiter decided for one request.
type rateResult struct {
	allowed    bool
	remaining  int
	reset      time.Time
	retryAfter int // seconds; set when the per-minute burst limit refused the request
}

// takeRate counts a request for key against DigitalOcean's two sliding windows (an hour and a minute).
// Refused requests are not counted unless the world says RateCountsRefused; then a client that keeps asking
// keeps the window full. Callers hold s.mu.
func (s *Sim) takeRate(key string) rateResult {
	now := s.clock()
	hist := s.rate[key]
	i := 0
	for i < len(hist) && !hist[i].After(now.Add(-time.Hour)) {
		i++
	}
	hist = hist[i:]
	inMinute := 0
	for j := len(hist) - 1; j >= 0 && hist[j].After(now.Add(-time.Minute)); j-- {
		inMinute++
	}
	res := rateResult{allowed: true}
	switch {
	case len(hist) >= s.world.RatePerHour:
		res.allowed = false
	case inMinute >= s.world.RatePerMinute:
		res.allowed = false
		oldest := hist[len(hist)-inMinute]
		wait := oldest.Add(time.Minute).Sub(now)
		res.retryAfter = int(math.Ceil(wait.Seconds()))
		if res.retryAfter < 1 {
			res.retryAfter = 1
		}
	}
	if res.allowed || s.world.RateCountsRefused {
		hist = append(hist, now)
	}
	s.rate[key] = hist
	res.remaining = s.world.RatePerHour - len(hist)
	if res.remaining < 0 {
		res.remaining = 0
	}
	res.reset = now.Add(time.Hour)
	if len(hist) > 0 {
		res.reset = hist[0].Add(time.Hour)
	}
	return res
}

func (s *Sim) setRateHeaders(h http.Header, r rateResult) {
	h.Set("Ratelimit-Limit", strconv.Itoa(s.world.RatePerHour))
	h.Set("Ratelimit-Remaining", strconv.Itoa(r.remaining))
	h.Set("Ratelimit-Reset", strconv.FormatInt(int64(math.Ceil(float64(r.reset.UnixNano())/1e9)), 10))
}
