// Package metadata owns the conversation with the DigitalOcean metadata service
// (http://169.254.169.254): who this droplet is (id, hostname, region, anchor
// IP) and which reserved IP the droplet holds right now. It knows nothing of
// the API token or of the API itself.
//
// Every failure, whatever its cause, matches ErrUnavailable with errors.Is so
// that callers can tell "the droplet could not learn who it is" apart from API
// failures.
package metadata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/do-fip/do-fip/backoff"
	"github.com/do-fip/do-fip/config"
	"github.com/do-fip/do-fip/logging"
)

const (
	// DigitalOcean's own metadata client uses 2 s: the service is on the
	// hypervisor, so anything slower means it is not answering.
	defaultTimeout   = 2 * time.Second
	defaultAttempts  = 3
	defaultRetryWait = 100 * time.Millisecond

	// v1.json includes user_data (up to 64 KiB); 1 MiB leaves room and still
	// bounds what a misbehaving server can make us hold.
	maxBody      = 1 << 20
	maxErrorBody = 200
)

// ErrUnavailable is matched (errors.Is) by every error this package returns:
// the metadata service could not be reached or gave an answer we cannot use.
var ErrUnavailable = errors.New("metadata service unavailable")

// Error describes one failed metadata request. Its text is one line with the
// request path and the cause.
type Error struct {
	Path   string // request path, e.g. /metadata/v1/id
	Status int    // HTTP status, 0 when there was no answer
	Err    error  // the cause
}

func (e *Error) Error() string {
	return fmt.Sprintf("metadata GET %s: %v", e.Path, e.Err)
}

// Unwrap lets errors.Is see both the cause (e.g. context.DeadlineExceeded)
// and ErrUnavailable.
func (e *Error) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// Option configures a Client.
type Option func(*Client)

// WithBaseURL sets the service address. A base with a path works: paths are
// appended, so "http://127.0.0.1:8089/droplets/1001" asks for
// "/droplets/1001/metadata/v1.json".
func WithBaseURL(u string) Option {
	return func(c *Client) { c.baseURL = strings.TrimRight(u, "/") }
}

// WithHTTPClient replaces the HTTP client (and with it the 2 s timeout).
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) {
		if h != nil {
			c.http = h
		}
	}
}

// WithAttempts sets how many times a request is tried (default 3, minimum 1).
func WithAttempts(n int) Option {
	return func(c *Client) {
		if n < 1 {
			n = 1
		}
		c.attempts = n
	}
}

// WithRetryWait sets the first wait between attempts (default 100ms); each
// following wait doubles.
func WithRetryWait(d time.Duration) Option {
	return func(c *Client) {
		if d < 0 {
			d = 0
		}
		c.retryWait = d
	}
}

// Client reads the metadata service. It is safe for concurrent use.
type Client struct {
	baseURL   string
	http      *http.Client
	attempts  int
	retryWait time.Duration
}

// NewClient returns a client for config.DefaultMetadataURL with a 2 s per-request timeout,
// 3 attempts and waits of 100ms, 200ms, ... between them.
func NewClient(opts ...Option) *Client {
	c := &Client{
		baseURL:   config.DefaultMetadataURL,
		attempts:  defaultAttempts,
		retryWait: defaultRetryWait,
	}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// A link-local address must never go through HTTP_PROXY: a proxy
		// would answer with its own host's metadata or not at all.
		tr.Proxy = nil
		c.http = &http.Client{Timeout: defaultTimeout, Transport: tr}
	}
	return c
}

// ReservedIP is one reserved_ip / floating_ip entry of the metadata.
// Active means the droplet holds a reserved IP of that family, IP says which.
type ReservedIP struct {
	Active bool
	IP     string
}

// Metadata is the part of /metadata/v1.json that do-fip uses.
type Metadata struct {
	DropletID    int
	Hostname     string
	Region       string
	AnchorIPv4   string // empty on droplets without an anchor IP (old or custom-image droplets)
	PublicIPv6   string // empty when the droplet has IPv6 off; a reserved IPv6 needs it on
	ReservedIPv4 ReservedIP
	ReservedIPv6 ReservedIP
}

// wire shapes of /metadata/v1.json (only the fields we read).
type wireIP struct {
	Active    bool   `json:"active"`
	IPAddress string `json:"ip_address"`
}

type wireMetadata struct {
	DropletID  *int   `json:"droplet_id"`
	Hostname   string `json:"hostname"`
	Region     string `json:"region"`
	Interfaces struct {
		Public []struct {
			AnchorIPv4 *struct {
				IPAddress string `json:"ip_address"`
			} `json:"anchor_ipv4"`
			IPv6 *struct {
				IPAddress string `json:"ip_address"`
			} `json:"ipv6"`
		} `json:"public"`
	} `json:"interfaces"`
	ReservedIP struct {
		IPv4 wireIP `json:"ipv4"`
		IPv6 wireIP `json:"ipv6"`
	} `json:"reserved_ip"`
}

// Get reads /metadata/v1.json in one request.
func (c *Client) Get(ctx context.Context) (*Metadata, error) {
	const path = "/metadata/v1.json"
	body, err := c.fetch(ctx, path)
	if err != nil {
		return nil, err
	}
	var w wireMetadata
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, c.errorf(path, 0, "not metadata JSON: %w", err)
	}
	if w.DropletID == nil || *w.DropletID <= 0 {
		return nil, c.errorf(path, 0, "answer has no droplet_id")
	}
	m := &Metadata{
		DropletID:    *w.DropletID,
		Hostname:     w.Hostname,
		Region:       w.Region,
		ReservedIPv4: ReservedIP{Active: w.ReservedIP.IPv4.Active, IP: w.ReservedIP.IPv4.IPAddress},
		ReservedIPv6: ReservedIP{Active: w.ReservedIP.IPv6.Active, IP: w.ReservedIP.IPv6.IPAddress},
	}
	for _, p := range w.Interfaces.Public {
		if p.AnchorIPv4 != nil && p.AnchorIPv4.IPAddress != "" && m.AnchorIPv4 == "" {
			m.AnchorIPv4 = p.AnchorIPv4.IPAddress
		}
		if p.IPv6 != nil && p.IPv6.IPAddress != "" && m.PublicIPv6 == "" {
			m.PublicIPv6 = p.IPv6.IPAddress
		}
	}
	return m, nil
}

// DropletID reads /metadata/v1/id (decimal text).
func (c *Client) DropletID(ctx context.Context) (int, error) {
	const path = "/metadata/v1/id"
	body, err := c.fetch(ctx, path)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(body))
	id, err := strconv.Atoi(s)
	if err != nil || id <= 0 {
		return 0, c.errorf(path, 0, "droplet id is not a positive number: %q", oneLine([]byte(s)))
	}
	return id, nil
}

func (c *Client) errorf(path string, status int, format string, args ...any) error {
	return &Error{Path: c.urlPath(path), Status: status, Err: fmt.Errorf(format, args...)}
}

// urlPath is the path as sent, including any prefix of the base URL, so that
// errors name what was really asked for.
func (c *Client) urlPath(path string) string {
	base := c.baseURL
	if i := strings.Index(base, "://"); i >= 0 {
		base = base[i+3:]
		if j := strings.IndexByte(base, '/'); j >= 0 {
			return base[j:] + path
		}
		return path
	}
	return base + path
}

// fetch GETs path, retrying what may be transient (no answer, timeout, 5xx)
// up to the configured attempts and never past ctx.
func (c *Client) fetch(ctx context.Context, path string) ([]byte, error) {
	var last error
	for attempt := 1; ; attempt++ {
		wait := backoff.Policy{Min: c.retryWait, Max: c.retryWait << 10}.Wait(attempt)
		body, status, err := c.once(ctx, path)
		if err == nil {
			return body, nil
		}
		last = &Error{Path: c.urlPath(path), Status: status, Err: err}
		if ctx.Err() != nil || !retryable(status, err) || attempt >= c.attempts {
			return nil, last
		}
		// Sleeping into the deadline only to fail there hides the cause.
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(dl) {
			return nil, last
		}
		if backoff.Sleep(ctx, wait) != nil {
			return nil, last
		}
	}
}

// retryable says whether asking again may help: no answer at all (refused,
// reset, timeout) or a 5xx may be transient; a 404 or other 4xx will not
// change, and a request that could not even be built never will.
func retryable(status int, err error) bool {
	if status >= 500 {
		return true
	}
	if status != 0 {
		return false
	}
	return !errors.Is(err, errBuild)
}

var errBuild = errors.New("bad request URL")

func (c *Client) once(ctx context.Context, path string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+path, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errBuild, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, stripURL(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		msg := fmt.Sprintf("%d %s", resp.StatusCode, strings.ToLower(http.StatusText(resp.StatusCode)))
		if s := oneLine(b); s != "" {
			msg += ": " + s
		}
		return nil, resp.StatusCode, errors.New(msg)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("reading answer: %w", err)
	}
	if len(b) > maxBody {
		return nil, resp.StatusCode, fmt.Errorf("answer larger than %d bytes", maxBody)
	}
	return b, resp.StatusCode, nil
}

// stripURL drops the *url.Error wrapper: our Error already names the path,
// and the full URL would repeat it.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// oneLine reduces a body to one printable line of at most maxErrorBody bytes.
func oneLine(b []byte) string {
	return logging.OneLine(string(b[:min(len(b), maxErrorBody)]), 0)
}
