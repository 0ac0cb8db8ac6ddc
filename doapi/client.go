// Package doapi owns every call do-fip makes to the DigitalOcean API: reading
// a reserved IP, asking for it to be assigned to a droplet and following the
// resulting action. It goes through godo, and it is the only place that
// retries API requests (with go-retryablehttp, under a policy that never
// repeats an assign whose outcome is unknown). Errors come back as *APIError
// with sentinels for the cases callers act on, and Hint turns them into
// advice for people.
package doapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/digitalocean/godo"
	"github.com/rs/zerolog"
	"golang.org/x/oauth2"

	"github.com/do-fip/do-fip/config"
)

// Defaults for Options fields left zero.
const (
	DefaultRetryMax     = 8
	DefaultRetryWaitMin = 250 * time.Millisecond
	DefaultRetryWaitMax = 5 * time.Second
	// DefaultAttemptTimeout bounds one HTTP attempt. The API answers reads and the assign POST in well under a
	// second; a hung attempt should cost a small part of a failover's 60 s budget, not a sixth of it.
	DefaultAttemptTimeout = 5 * time.Second
)

// Options configures New. Zero values take the defaults above.
type Options struct {
	Token         string
	BaseURL       string // default https://api.digitalocean.com
	AllowInsecure bool   // allow an http:// BaseURL (simulator, tests); refused otherwise with config.ErrInsecureURL
	UserAgent     string // "do-fip/VERSION"
	// Logger receives retry decisions and go-retryablehttp's own lines (at
	// debug). Never the token. The zero Logger discards.
	Logger         zerolog.Logger
	RetryMax       int           // retries after the first attempt; default 8, negative for none
	RetryWaitMin   time.Duration // default 250ms
	RetryWaitMax   time.Duration // default 5s
	AttemptTimeout time.Duration // per HTTP attempt, default 10s
}

// IP is a reserved IP as the API sees it.
type IP struct {
	Addr        netip.Addr
	Region      string // region slug, e.g. nyc3
	DropletID   int    // 0 = assigned to no droplet
	DropletName string
	Locked      bool // an action on the IP is in progress (IPv4 only; the IPv6 answer has no such field)
	Legacy      bool // answered by /v2/floating_ips
}

// Action is an asynchronous API action (the assign).
type Action struct {
	ID          int
	Status      string // "in-progress", "completed", "errored"
	Type        string // "assign_ip"
	StartedAt   time.Time
	CompletedAt time.Time // zero until done
}

// Rate is the rate-limit state reported by the last answer.
type Rate struct {
	Limit, Remaining int
	Reset            time.Time
}

// Client talks to the API. It is safe for concurrent use.
type Client struct {
	godo     *godo.Client
	token    string // only to redact it from text the server sends back
	requests atomic.Int64
	classes  [len(StatusClasses)]atomic.Int64
	date     dateSeen

	mu     sync.Mutex
	legacy map[netip.Addr]bool // IPv4s only /v2/floating_ips answers for
}

// New builds a client. The token is needed; an http:// BaseURL needs
// AllowInsecure.
func New(o Options) (*Client, error) {
	if o.Token == "" {
		return nil, errors.New("no API token")
	}
	base, err := config.APIBaseURL(o.BaseURL, o.AllowInsecure)
	if err != nil {
		return nil, fmt.Errorf("api url: %w", err)
	}
	switch {
	case o.RetryMax == 0:
		o.RetryMax = DefaultRetryMax
	case o.RetryMax < 0:
		o.RetryMax = 0
	}
	if o.RetryWaitMin <= 0 {
		o.RetryWaitMin = DefaultRetryWaitMin
	}
	if o.RetryWaitMax <= 0 {
		o.RetryWaitMax = DefaultRetryWaitMax
	}
	if o.RetryWaitMax < o.RetryWaitMin {
		o.RetryWaitMax = o.RetryWaitMin
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = DefaultAttemptTimeout
	}

	c := &Client{token: o.Token, legacy: make(map[netip.Addr]bool)}
	// The API never redirects; following one would carry the token to
	// wherever it points, so a 3xx is returned as an error instead.
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	inner := &http.Client{
		Timeout:       o.AttemptTimeout,
		Transport:     countingTransport{base: http.DefaultTransport.(*http.Transport).Clone(), n: &c.requests, classes: &c.classes, date: &c.date},
		CheckRedirect: noRedirect,
	}
	retry := &retryTransport{
		inner:    inner,
		log:      o.Logger,
		retryMax: o.RetryMax,
		waitMin:  o.RetryWaitMin,
		waitMax:  o.RetryWaitMax,
	}
	// No overall Timeout here: each attempt is bounded by AttemptTimeout,
	// the attempts by RetryMax and each wait by RetryWaitMax or the server's
	// (bounded) rate-limit headers; the caller's context bounds the whole.
	outer := &http.Client{
		Transport: &oauth2.Transport{
			Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: o.Token, TokenType: "Bearer"}),
			Base:   retry,
		},
		CheckRedirect: noRedirect,
	}
	opts := []godo.ClientOpt{godo.SetBaseURL(base)}
	if o.UserAgent != "" {
		opts = append(opts, godo.SetUserAgent(o.UserAgent))
	}
	g, err := godo.New(outer, opts...)
	if err != nil {
		return nil, fmt.Errorf("api client: %w", err)
	}
	c.godo = g
	return c, nil
}

// Requests is the number of HTTP attempts made so far, retries included.
func (c *Client) Requests() int64 { return c.requests.Load() }

// StatusClasses names the classes RequestsByClass counts: "error" is an attempt that got no answer (connection
// refused or reset, timeout, TLS failure).
var StatusClasses = [...]string{"error", "2xx", "3xx", "4xx", "5xx"}

// RequestsByClass returns the HTTP attempts made so far by the class of their answer, indexed like
// StatusClasses.
func (c *Client) RequestsByClass() [len(StatusClasses)]int64 {
	var out [len(StatusClasses)]int64
	for i := range c.classes {
		out[i] = c.classes[i].Load()
	}
	return out
}

// Rate is the rate-limit state from the last answer seen.
func (c *Client) Rate() Rate {
	r := c.godo.GetRate()
	return Rate{Limit: r.Limit, Remaining: r.Remaining, Reset: r.Reset.Time}
}

func (c *Client) isLegacy(ip netip.Addr) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.legacy[ip]
}

func (c *Client) setLegacy(ip netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.legacy[ip] = true
}

func normalize(ip netip.Addr) (netip.Addr, error) {
	if !ip.IsValid() {
		return ip, errors.New("invalid IP address")
	}
	return ip.Unmap().WithZone(""), nil
}

// GetIP reads a reserved IP: /v2/reserved_ips/{ip} or /v2/reserved_ipv6/{ip}.
//
// Some accounts and tokens only know the pre-2022 name: when
// /v2/reserved_ips refuses an IPv4 with 403 or 404, /v2/floating_ips is
// asked once; if it answers, that IP uses the floating endpoints from then on.
func (c *Client) GetIP(ctx context.Context, ip netip.Addr) (*IP, error) {
	ip, err := normalize(ip)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", ip, err)
	}
	op := "get " + ip.String()
	if ip.Is6() {
		r, _, err := c.godo.ReservedIPV6s.Get(ctx, ip.String())
		if err != nil {
			return nil, c.wrapErr(op, err)
		}
		if r == nil {
			return nil, fmt.Errorf("%s: answer has no reserved_ipv6", op)
		}
		return newIP(op, ip, r.IP, r.RegionSlug, r.Droplet, false, false)
	}
	if c.isLegacy(ip) {
		return c.getFloating(ctx, op, ip)
	}
	r, _, err := c.godo.ReservedIPs.Get(ctx, ip.String())
	if err != nil {
		first := c.wrapErr(op, err)
		if errors.Is(first, ErrForbidden) || errors.Is(first, ErrNotFound) {
			if got, ferr := c.getFloating(ctx, op, ip); ferr == nil {
				c.setLegacy(ip)
				return got, nil
			}
		}
		return nil, first
	}
	if r == nil {
		return nil, fmt.Errorf("%s: answer has no reserved_ip", op)
	}
	return newIP(op, ip, r.IP, regionSlug(r.Region), r.Droplet, r.Locked, false)
}

func (c *Client) getFloating(ctx context.Context, op string, ip netip.Addr) (*IP, error) {
	r, _, err := c.godo.FloatingIPs.Get(ctx, ip.String())
	if err != nil {
		return nil, c.wrapErr(op, err)
	}
	if r == nil {
		return nil, fmt.Errorf("%s: answer has no floating_ip", op)
	}
	return newIP(op, ip, r.IP, regionSlug(r.Region), r.Droplet, r.Locked, true)
}

func regionSlug(r *godo.Region) string {
	if r == nil {
		return ""
	}
	return r.Slug
}

// newIP checks that the answer is about the address asked for: a holder read from an answer about another
// address (another IP, the other family) must not drive a move.
func newIP(op string, asked netip.Addr, answered, region string, d *godo.Droplet, locked, legacy bool) (*IP, error) {
	if answered == "" {
		return nil, fmt.Errorf("%s: %w: the answer names no IP", op, ErrUnexpected)
	}
	a, err := netip.ParseAddr(answered)
	if err != nil || a.Unmap() != asked {
		return nil, fmt.Errorf("%s: %w: the answer is about %s", op, ErrUnexpected, cleanMessage(answered))
	}
	out := &IP{Addr: asked, Region: region, Locked: locked, Legacy: legacy}
	if d != nil {
		out.DropletID = d.ID
		out.DropletName = d.Name
	}
	return out, nil
}

// Assign asks for ip to be assigned to the droplet. The answer is the action
// to follow with GetAction. A failed POST is never repeated here (except on
// 429, which DigitalOcean did not process): after a lost answer or a 5xx the
// assign may have happened, so the caller re-reads the IP before asking again.
func (c *Client) Assign(ctx context.Context, ip netip.Addr, dropletID int) (*Action, error) {
	ip, err := normalize(ip)
	op := fmt.Sprintf("assign %s to droplet %d", ip, dropletID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if dropletID <= 0 {
		return nil, fmt.Errorf("%s: droplet id must be positive", op)
	}
	var a *godo.Action
	switch {
	case ip.Is6():
		a, _, err = c.godo.ReservedIPV6Actions.Assign(ctx, ip.String(), dropletID)
	case c.isLegacy(ip):
		a, _, err = c.godo.FloatingIPActions.Assign(ctx, ip.String(), dropletID)
	default:
		a, _, err = c.godo.ReservedIPActions.Assign(ctx, ip.String(), dropletID)
		if err != nil {
			return c.assignFloating(ctx, op, ip, dropletID, c.wrapErr(op, err))
		}
	}
	if err != nil {
		return nil, c.wrapErr(op, err)
	}
	return newAction(op, a, 0)
}

// assignFloating asks /v2/floating_ips once when /v2/reserved_ips answered an assign with 404, as GetIP does
// for reads: an assign posted before any read (the metadata service said the IP is elsewhere) is the first
// request to meet an account that only knows the old name. A 403 is not retried there: on a write it means the
// token lacks reserved_ip:update, which the old endpoint needs too. If the old endpoint knows the IP (any
// answer but 403 or 404), the IP uses it from then on; otherwise first is the answer.
func (c *Client) assignFloating(ctx context.Context, op string, ip netip.Addr, dropletID int, first error) (*Action, error) {
	if !errors.Is(first, ErrNotFound) {
		return nil, first
	}
	a, _, err := c.godo.FloatingIPActions.Assign(ctx, ip.String(), dropletID)
	if err != nil {
		legacyErr := c.wrapErr(op, err)
		if errors.Is(legacyErr, ErrForbidden) || errors.Is(legacyErr, ErrNotFound) {
			return nil, first
		}
		c.setLegacy(ip)
		return nil, legacyErr
	}
	c.setLegacy(ip)
	return newAction(op, a, 0)
}

// GetAction reads an action: per IP for IPv4 (/v2/reserved_ips/{ip}/actions/{id}),
// through /v2/actions/{id} for IPv6, which has no per-IP action endpoint.
func (c *Client) GetAction(ctx context.Context, ip netip.Addr, actionID int) (*Action, error) {
	ip, err := normalize(ip)
	op := fmt.Sprintf("get action %d of %s", actionID, ip)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if actionID <= 0 {
		return nil, fmt.Errorf("%s: action id must be positive", op)
	}
	var a *godo.Action
	switch {
	case ip.Is6():
		a, _, err = c.godo.Actions.Get(ctx, actionID)
	case c.isLegacy(ip):
		a, _, err = c.godo.FloatingIPActions.Get(ctx, ip.String(), actionID)
	default:
		a, _, err = c.godo.ReservedIPActions.Get(ctx, ip.String(), actionID)
	}
	if err != nil {
		return nil, c.wrapErr(op, err)
	}
	return newAction(op, a, actionID)
}

// newAction checks the answer can be followed: an action with a positive ID, the one asked for when want is
// set. Following another action than ours could report its completion as our move's.
func newAction(op string, a *godo.Action, want int) (*Action, error) {
	if a == nil {
		return nil, fmt.Errorf("%s: answer has no action", op)
	}
	if a.ID <= 0 || (want != 0 && a.ID != want) {
		return nil, fmt.Errorf("%s: %w: the answer is about action %d", op, ErrUnexpected, a.ID)
	}
	out := &Action{ID: a.ID, Status: a.Status, Type: a.Type}
	if a.StartedAt != nil {
		out.StartedAt = a.StartedAt.Time
	}
	if a.CompletedAt != nil {
		out.CompletedAt = a.CompletedAt.Time
	}
	return out, nil
}
