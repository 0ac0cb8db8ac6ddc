package doapi

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/digitalocean/godo"

	"github.com/do-fip/do-fip/config"
	"github.com/do-fip/do-fip/logging"
)

// Kind classifies an API refusal so that callers branch on what it means
// rather than on status codes.
type Kind int

// Kinds of API errors. Those callers branch on have a sentinel usable with errors.Is; KindServer and KindOther
// only name the answer in error texts (a 5xx is retried below the caller, never branched on).
const (
	KindOther         Kind = iota // any other non-2xx answer
	KindUnauthorized              // 401
	KindForbidden                 // 403
	KindNotFound                  // 404
	KindPendingEvent              // 422: the IP or the droplet has an action in progress
	KindUnprocessable             // 422 for any other reason (region mismatch, droplet cannot take it)
	KindRateLimited               // 429
	KindServer                    // 5xx
)

// Sentinels matched by *APIError through errors.Is.
var (
	ErrUnauthorized  = errors.New("unauthorized")
	ErrForbidden     = errors.New("forbidden")
	ErrNotFound      = errors.New("not found")
	ErrPendingEvent  = errors.New("pending event")
	ErrUnprocessable = errors.New("unprocessable")
	ErrRateLimited   = errors.New("rate limited")
	// ErrUnexpected: a well-formed answer that does not fit the question (about another IP). Asking again is
	// not expected to help.
	ErrUnexpected = errors.New("unexpected answer")
	// ErrCertificate: the API's TLS certificate is not trusted. Asking again will not change that, and
	// do-fip has no way to skip the check.
	ErrCertificate = errors.New("untrusted TLS certificate")
)

// certError marks a certificate failure for errors.Is(err, ErrCertificate) without changing its text, which
// already says x509 and why.
type certError struct{ error }

func (e certError) Unwrap() error        { return e.error }
func (e certError) Is(target error) bool { return target == ErrCertificate }

func (k Kind) sentinel() error {
	switch k {
	case KindUnauthorized:
		return ErrUnauthorized
	case KindForbidden:
		return ErrForbidden
	case KindNotFound:
		return ErrNotFound
	case KindPendingEvent:
		return ErrPendingEvent
	case KindUnprocessable:
		return ErrUnprocessable
	case KindRateLimited:
		return ErrRateLimited
	}
	return nil
}

// String is the word used in error texts.
func (k Kind) String() string {
	switch k {
	case KindUnauthorized:
		return "unauthorized"
	case KindForbidden:
		return "forbidden"
	case KindNotFound:
		return "not found"
	case KindPendingEvent, KindUnprocessable:
		return "unprocessable"
	case KindRateLimited:
		return "rate limited"
	case KindServer:
		return "server error"
	}
	return "unexpected answer"
}

// APIError is a non-2xx answer from the API. Network failures are not
// APIErrors: they are returned wrapped, with the operation in front.
type APIError struct {
	Op        string // what was attempted: "assign 203.0.113.10 to droplet 1001"
	Status    int    // HTTP status
	Kind      Kind
	Message   string // DigitalOcean's message, one line, at most 200 characters
	RequestID string // DigitalOcean's request id, for support tickets
	// RetryIn, on a 429, is how long the API asked to wait (retry-after or ratelimit-reset); 0 if it did not say.
	RetryIn time.Duration
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d %s", e.Op, e.Status, e.Kind)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request %s)", e.RequestID)
	}
	if e.RetryIn > 0 {
		fmt.Fprintf(&b, "; the API takes requests again in %s", e.RetryIn.Round(time.Second))
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotFound) and friends work.
func (e *APIError) Is(target error) bool {
	s := e.Kind.sentinel()
	return s != nil && target == s
}

const maxMessage = 200

// classify maps a status and DigitalOcean's message to a Kind.
func classify(status int, msg string) Kind {
	switch {
	case status == http.StatusUnauthorized:
		return KindUnauthorized
	case status == http.StatusForbidden:
		return KindForbidden
	case status == http.StatusNotFound:
		return KindNotFound
	case status == http.StatusUnprocessableEntity:
		// "The floating IP already has a pending event." and "Droplet already
		// has a pending event": both clear by themselves within seconds.
		if strings.Contains(strings.ToLower(msg), "pending event") {
			return KindPendingEvent
		}
		return KindUnprocessable
	case status == http.StatusTooManyRequests:
		return KindRateLimited
	case status >= 500 && status <= 599:
		return KindServer
	}
	return KindOther
}

// wrapErr turns what godo returned into our error for op. Text the server sent is redacted of the token: a
// proxy that reflects the request (headers and all) into its error page would otherwise put it in our logs.
func (c *Client) wrapErr(op string, err error) error {
	return wrapErr(op, err, c.redact)
}

func (c *Client) redact(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, "[redacted]")
}

func wrapErr(op string, err error, redact func(string) string) error {
	var er *godo.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		if isCertificate(err) {
			return certError{fmt.Errorf("%s: %w", op, err)}
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	resp := er.Response
	msg := cleanMessage(redact(er.Message))
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		mt, _, perr := mime.ParseMediaType(ct)
		if perr != nil || !strings.Contains(mt, "json") {
			// A proxy's or load balancer's HTML page says nothing useful and
			// would flood a log line.
			if perr != nil {
				mt = ct
			}
			msg = fmt.Sprintf("non-JSON answer (%s)", cleanMessage(mt))
		}
	}
	reqID := cleanMessage(redact(er.RequestID))
	if reqID == "" {
		reqID = cleanMessage(redact(resp.Header.Get("X-Request-Id")))
	}
	retryIn, _ := serverWait(resp, time.Now())
	return &APIError{
		Op:        op,
		Status:    resp.StatusCode,
		Kind:      classify(resp.StatusCode, msg),
		Message:   msg,
		RequestID: reqID,
		RetryIn:   retryIn,
	}
}

// cleanMessage makes s one printable line of at most maxMessage characters.
func cleanMessage(s string) string { return logging.OneLine(s, maxMessage) }

// Hint returns a one-line suggestion for a person reading err, or "" when
// there is nothing more useful to say than the error itself.
func Hint(err error) string {
	if errors.Is(err, ErrCertificate) {
		return "the API's certificate is not trusted by this machine: check its CA certificates (the ca-certificates package) and that nothing intercepts HTTPS; do-fip never skips the check"
	}
	if errors.Is(err, config.ErrInsecureURL) {
		return "use an https:// API URL; plain http is only for a local simulator (DO_FIP_INSECURE_API=1)"
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		return ""
	}
	switch ae.Kind {
	case KindUnauthorized:
		return "check the token: it may be mistyped, expired or revoked"
	case KindForbidden:
		return "the token needs the reserved_ip:read, reserved_ip:update and actions:read scopes (and droplet:read)"
	case KindNotFound:
		return "the IP is not in this account/team: check the address and which team the token belongs to"
	case KindPendingEvent:
		return "another action on the IP or the droplet is still running; it usually clears within seconds"
	case KindUnprocessable:
		if strings.Contains(strings.ToLower(ae.Message), "region") {
			return "the IP and the droplet must be in the same region"
		}
	case KindRateLimited:
		if ae.RetryIn > 0 {
			return "the rate limit (250/minute, 5,000/hour) is shared by every user of the token; do-fip does not start a wait that would pass --timeout"
		}
		return "the rate limit (250/minute, 5,000/hour) is shared by every user of the token"
	}
	return ""
}
