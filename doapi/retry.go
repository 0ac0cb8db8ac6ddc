package doapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/rs/zerolog"

	"github.com/do-fip/do-fip/backoff"
)

// maxHeaderWait bounds a wait the server asks for: DigitalOcean's widest rate
// window is an hour, so anything longer is a bogus header.
const maxHeaderWait = time.Hour

// retryTransport is the only retry layer. It gives every request its own
// go-retryablehttp client so that the policy can see the request's context
// (its deadline) and count its attempts; the HTTP client underneath, with its
// connection pool, is shared.
type retryTransport struct {
	inner    *http.Client // one attempt; its Timeout is the per-attempt timeout
	log      zerolog.Logger
	retryMax int
	waitMin  time.Duration
	waitMax  time.Duration
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// A request whose context is already done is not an attempt.
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	call := &retryCall{t: t, req: req, idempotent: req.Method == http.MethodGet || req.Method == http.MethodHead}
	rc := &retryablehttp.Client{
		HTTPClient:   t.inner,
		Logger:       leveledLogger{t.log},
		RetryMax:     t.retryMax,
		RetryWaitMin: t.waitMin,
		RetryWaitMax: t.waitMax,
		CheckRetry:   call.check,
		Backoff:      call.backoff,
		// Hand the last answer to godo as it is, so that a final 429 or 503
		// becomes an APIError with DigitalOcean's message rather than a
		// "giving up after N attempts" without one.
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	rt := &retryablehttp.RoundTripper{Client: rc}
	return rt.RoundTrip(req)
}

// retryCall is the retry state of one logical request.
type retryCall struct {
	t          *retryTransport
	req        *http.Request
	idempotent bool
	attempt    int           // attempts made so far
	wait       time.Duration // decided by check, handed out by backoff
}

// check is the CheckRetry policy. It decides the wait too, because only here
// is the context at hand: a wait that would end after the deadline is not
// worth starting, the caller gets the error now.
func (c *retryCall) check(ctx context.Context, resp *http.Response, err error) (bool, error) {
	c.attempt++
	if ctx.Err() != nil || !c.retryable(resp, err) {
		return false, nil
	}
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	ev := func(e *zerolog.Event) *zerolog.Event {
		e = e.Str("method", c.req.Method).Str("path", c.req.URL.Path).
			Int("attempt", c.attempt).Int("status", status)
		if err != nil {
			e = e.Str("error", err.Error())
		}
		return e
	}
	if c.attempt > c.t.retryMax {
		ev(c.t.log.Debug()).Msg("API retries exhausted")
		return false, nil
	}
	wait := c.t.waitFor(c.attempt, resp, time.Now())
	if dl, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(dl) {
		ev(c.t.log.Warn()).Int64("wait_ms", wait.Milliseconds()).
			Msg("not retrying API request: the wait would pass the deadline")
		return false, nil
	}
	c.wait = wait
	lvl := c.t.log.Debug()
	if status == http.StatusTooManyRequests || c.attempt > 1 {
		lvl = c.t.log.Warn()
	}
	ev(lvl).Int64("wait_ms", wait.Milliseconds()).Msg("retrying API request")
	return true, nil
}

func (c *retryCall) backoff(_, _ time.Duration, _ int, _ *http.Response) time.Duration {
	return c.wait
}

// retryable is the policy:
//   - 429 is retried for every method: DigitalOcean did not process the request.
//   - GET is also retried on connection errors and 5xx (but not 501).
//   - Anything else that failed is returned. Above all a POST whose answer was
//     lost or was a 5xx: it may have been done, and repeating an assign can
//     turn into a 422 "pending event"; the caller re-reads the IP instead.
//   - 401/403/404/422 never change by asking again.
func (c *retryCall) retryable(resp *http.Response, err error) bool {
	if err != nil {
		return c.idempotent && transient(err)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return true
	}
	return c.idempotent && resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented
}

// transient says whether a connection-level error may go away: a bad
// certificate or a malformed URL will not.
func transient(err error) bool {
	return !isCertificate(err) && !strings.Contains(err.Error(), "unsupported protocol scheme")
}

// isCertificate says whether err is a failed certificate check.
func isCertificate(err error) bool {
	var (
		certErr    *tls.CertificateVerificationError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
	)
	return errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalidErr)
}

// waitFor returns how long to wait after the attempt-th failure. On a 429 the
// server says: retry-after (seconds or an HTTP date), else, when the window is
// used up (ratelimit-remaining 0), until ratelimit-reset. Times the server
// sends are read against its own clock, the Date header of the same answer,
// so a droplet whose clock is off neither gives up on a wait that fits the
// deadline nor retries into a window still closed. Without a usable Date, a
// reset already in the past means the clocks disagree; exponential backoff is
// the safe fallback then.
//
// A server's wait gets a random spread on top: every user of a token that a burst refused is told nearly the
// same retry-after, and a fleet that failed over together would otherwise come back in the same second and
// trip the limit again.
func (t *retryTransport) waitFor(attempt int, resp *http.Response, now time.Time) time.Duration {
	if d, ok := serverWait(resp, now); ok {
		return d + spread(d)
	}
	// Full jitter keeps the two nodes of a pair (and every other user of the token) from retrying in lockstep.
	return backoff.Policy{Min: t.waitMin, Max: t.waitMax, Jitter: true}.Wait(attempt)
}

// maxSpread bounds the spread added to a server's wait.
const maxSpread = 10 * time.Second

// spread is a random extra wait of up to a quarter of d, at most maxSpread.
func spread(d time.Duration) time.Duration {
	return rand.N(min(d/4, maxSpread) + 1)
}

// serverWait is the wait a 429 asks for, if it asks for one.
func serverWait(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	if date, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		now = date
	}
	if d, ok := retryAfter(resp.Header.Get("Retry-After"), now); ok {
		return min(d, maxHeaderWait), true
	}
	if strings.TrimSpace(resp.Header.Get("Ratelimit-Remaining")) == "0" {
		if secs, err := strconv.ParseInt(strings.TrimSpace(resp.Header.Get("Ratelimit-Reset")), 10, 64); err == nil {
			if d := time.Unix(secs, 0).Sub(now); d > 0 {
				return min(d, maxHeaderWait), true
			}
		}
	}
	return 0, false
}

func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, int64(maxHeaderWait/time.Second))) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// leveledLogger sends go-retryablehttp's own lines to zerolog. They all go to
// debug: our policy logs every retry decision itself, and the final error
// reaches the caller, so its "request failed" at error level would say the
// same thing twice. Values are turned into strings (URLs arrive already
// redacted; the Authorization header is never among them).
type leveledLogger struct{ l zerolog.Logger }

func (g leveledLogger) Error(msg string, kv ...any) { g.emit("error", msg, kv) }
func (g leveledLogger) Info(msg string, kv ...any)  { g.emit("info", msg, kv) }
func (g leveledLogger) Debug(msg string, kv ...any) { g.emit("debug", msg, kv) }
func (g leveledLogger) Warn(msg string, kv ...any)  { g.emit("warn", msg, kv) }

func (g leveledLogger) emit(level, msg string, kv []any) {
	e := g.l.Debug()
	if !e.Enabled() {
		return
	}
	e = e.Str("component", "retryablehttp").Str("retryablehttp_level", level)
	for i := 0; i+1 < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			continue
		}
		e = e.Str(k, fmt.Sprint(kv[i+1]))
	}
	e.Msg(msg)
}

// countingTransport counts HTTP attempts, retries included, and their answers by status class, and notes the
// API's clock.
type countingTransport struct {
	base    http.RoundTripper
	n       *atomic.Int64
	classes *[len(StatusClasses)]atomic.Int64
	date    *dateSeen
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.n.Add(1)
	resp, err := t.base.RoundTrip(req)
	i := 0 // "error": no answer at all
	if err == nil && resp.StatusCode >= 200 && resp.StatusCode < 600 {
		i = resp.StatusCode/100 - 1
	}
	t.classes[i].Add(1)
	if err == nil && t.date != nil {
		t.date.note(resp.Header.Get("Date"))
	}
	return resp, err
}
