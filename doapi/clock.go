package doapi

import (
	"net/http"
	"sync"
	"time"
)

// dateSeen keeps the Date header of the last answer and when it arrived, to compare the API's clock with
// this host's.
type dateSeen struct {
	mu     sync.Mutex
	server time.Time
	local  time.Time
}

func (d *dateSeen) note(header string) {
	t, err := http.ParseTime(header)
	if err != nil {
		return
	}
	d.mu.Lock()
	d.server, d.local = t, time.Now()
	d.mu.Unlock()
}

// ClockSkew is how far this host's clock is ahead of the API's (behind when negative), from the Date header
// of the last answer; ok is false before any answer with a Date. The header has one-second resolution: the
// answer was sent somewhere within that second, so the result is measured from its middle, within half a
// second plus the answer's travel time.
func (c *Client) ClockSkew() (skew time.Duration, ok bool) {
	c.date.mu.Lock()
	defer c.date.mu.Unlock()
	if c.date.server.IsZero() {
		return 0, false
	}
	return c.date.local.Sub(c.date.server.Add(500 * time.Millisecond)), true
}
